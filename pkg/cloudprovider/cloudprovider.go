package cloudprovider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/nodeoverlay"
	"sigs.k8s.io/karpenter/pkg/events"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/utils/resources"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// nodeClassGroupKind is fixed: objects read through a typed client carry no TypeMeta to take it from.
var nodeClassGroupKind = schema.GroupKind{Group: apis.Group, Kind: v1.NodeClassKind}

// Name is the provider's name, as reported to Karpenter core (and in its metrics).
const Name = "cloudstack"

var _ cloudprovider.CloudProvider = (*CloudProvider)(nil)

// CloudProvider is Karpenter's view of CloudStack: NodeClaims become VMs through the instance provider,
// NodePools become service-offering instance types through the instancetype provider.
type CloudProvider struct {
	kubeClient           client.Client
	recorder             events.Recorder
	instanceTypeProvider instancetype.Provider
	instanceProvider     instance.Provider
	zoneProvider         zone.Provider
	// instanceTypeStore holds the NodeOverlays Karpenter core resolved per NodePool; nil when not wired.
	instanceTypeStore *nodeoverlay.InstanceTypeStore
	// userDataSecrets reads spec.userDataSecretRef at launch.
	userDataSecrets userdatasecret.Provider
}

// Option configures a CloudProvider.
type Option func(*CloudProvider)

// WithInstanceTypeStore makes Create launch from the instance types with the NodePool's NodeOverlays applied (when
// the NodeOverlay feature gate is on), the ones the scheduler chose from: without them a pod requesting an extended
// resource an overlay adds fits no instance type, and price overlays do not steer the launch.
func WithInstanceTypeStore(store *nodeoverlay.InstanceTypeStore) Option {
	return func(c *CloudProvider) { c.instanceTypeStore = store }
}

// WithUserDataSecrets sets how Create reads spec.userDataSecretRef. Without it, Create reads through kubeClient,
// which suits an uncached client; give a controller's cached client a provider over the manager's APIReader.
func WithUserDataSecrets(p userdatasecret.Provider) Option {
	return func(c *CloudProvider) { c.userDataSecrets = p }
}

// New returns a CloudProvider backed by the given providers.
func New(kubeClient client.Client, recorder events.Recorder, instanceTypeProvider instancetype.Provider, instanceProvider instance.Provider,
	zoneProvider zone.Provider, opts ...Option) *CloudProvider {
	c := &CloudProvider{
		kubeClient:           kubeClient,
		recorder:             recorder,
		instanceTypeProvider: instanceTypeProvider,
		instanceProvider:     instanceProvider,
		zoneProvider:         zoneProvider,
	}
	for _, o := range opts {
		o(c)
	}
	if c.userDataSecrets == nil {
		c.userDataSecrets = userdatasecret.NewDefaultProvider(kubeClient)
	}
	return c
}

// Create launches a VM for the NodeClaim. It is safe to call again for the same NodeClaim: the instance provider
// adopts the VM it deployed before instead of deploying a second one.
func (c *CloudProvider) Create(ctx context.Context, nodeClaim *karpv1.NodeClaim) (*karpv1.NodeClaim, error) {
	nodeClass, err := c.resolveNodeClassFromNodeClaim(ctx, nodeClaim)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("CloudStackNodeClass %q referenced by NodeClaim %q does not exist", nodeClaim.Spec.NodeClassRef.Name, nodeClaim.Name))
		}
		return nil, cloudprovider.NewCreateError(fmt.Errorf("resolving node class, %w", err), "NodeClassResolutionFailed", "Failed to resolve the CloudStackNodeClass")
	}
	if err := nodeClassReadiness(nodeClass); err != nil {
		return nil, err
	}
	instanceTypes, err := c.resolveInstanceTypes(ctx, nodeClaim, nodeClass)
	if err != nil {
		return nil, cloudprovider.NewCreateError(fmt.Errorf("resolving instance types, %w", err), "InstanceTypeResolutionFailed", "Failed to resolve instance types")
	}
	// Read at launch, so a rotated Secret reaches the next VM; the values live only in this rendering.
	secret, err := c.userDataSecrets.Get(ctx, nodeClass)
	if err != nil {
		var secretErr *userdatasecret.Error
		if errors.As(err, &secretErr) {
			return nil, cloudprovider.NewCreateError(err, secretErr.Reason, "Failed to read the Secret spec.userDataSecretRef names")
		}
		return nil, cloudprovider.NewCreateError(err, "UserDataSecretReadFailed", "Failed to read the Secret spec.userDataSecretRef names")
	}
	// Even with no instance type left the instance provider is asked: a VM an earlier Create launched for this
	// NodeClaim (unseen, or by a previous process) is adopted rather than the NodeClaim deleted as unlaunchable.
	inst, err := c.instanceProvider.Create(ctx, nodeClass, nodeClaim, instanceTypes, userDataFor(ctx, nodeClass, nodeClaim, secret))
	if err != nil {
		if len(instanceTypes) == 0 && cloudprovider.IsInsufficientCapacityError(err) {
			return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("no instance type of CloudStackNodeClass %q satisfies the NodeClaim's requirements and resource requests", nodeClass.Name))
		}
		return nil, fmt.Errorf("creating instance, %w", err)
	}
	specs, err := c.instanceTypeProvider.LaunchSpecs(ctx, nodeClass)
	if err != nil {
		// The VM runs: report it with the labels it proves rather than fail a launch that succeeded.
		log.FromContext(ctx).Error(err, "failed resolving launch specs", "CloudStackNodeClass", nodeClass.Name)
	}
	it := findInstanceType(instanceTypes, specs, inst)
	nc := c.instanceToNodeClaim(inst, it, nodeClass)
	nc.Annotations = lo.Assign(nc.Annotations, map[string]string{
		v1.AnnotationNodeClassHash:        nodeClass.Hash(),
		v1.AnnotationNodeClassHashVersion: v1.NodeClassHashVersion,
		// The tags launched with: the tagging controller updates the VM when the NodeClass's change.
		v1.AnnotationTags: v1.TagsRecord(nodeClass.Spec.Tags),
		// The data disks launched with: a change of what spec.dataDisks resolves to drifts the node.
		v1.AnnotationDataDisks: v1.DataDisksRecord(nodeClass.Status.DataDisks),
	})
	return nc, nil
}

// nodeClassReadiness tells core what to do with a NodeClaim whose NodeClass is not Ready. Ready=False means a
// dependency is broken: NodeClassNotReady makes core delete the NodeClaim (and the NodePool reports it). Ready
// Unknown means "not yet known", typically a NodeClass created a moment ago that the NodeClass controller has not
// reconciled yet: a retryable CreateError keeps the NodeClaim and core calls Create again, as the AWS provider does.
// Deleting the NodeClaim there would lose the first NodeClaims of anything that applies a NodeClass and a NodeClaim
// (or a NodePool with pending pods) together.
func nodeClassReadiness(nodeClass *v1.CloudStackNodeClass) error {
	ready := nodeClass.StatusConditions().Get(status.ConditionReady)
	switch {
	case ready.IsTrue():
		return nil
	case ready.IsFalse():
		msg := ready.Message
		if msg == "" {
			msg = "CloudStackNodeClass is not ready"
		}
		return cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("CloudStackNodeClass %q: %s", nodeClass.Name, msg))
	default:
		msg := "the NodeClass controller has not resolved it yet"
		if ready != nil && ready.Message != "" {
			msg = ready.Message
		}
		return cloudprovider.NewCreateError(fmt.Errorf("CloudStackNodeClass %q is Ready=Unknown: %s", nodeClass.Name, msg),
			"NodeClassReadinessUnknown", "CloudStackNodeClass readiness is not known yet")
	}
}

// userDataFor renders the NodeClass's userData for a VM of each instance type: the kubelet reservations in it are
// the ones the instance type's allocatable was computed with.
func userDataFor(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, secret map[string]string) instance.UserData {
	opts := options.FromContext(ctx)
	return func(_ *cloudprovider.InstanceType, shape kubelet.Shape) (string, error) {
		values := bootstrap.NewValues(opts.ClusterName, nodeClass, nodeClaim, shape)
		values.Secret = secret
		return bootstrap.Generate(nodeClass, values, opts.UserDataMaxLength)
	}
}

// Get returns the NodeClaim of a VM, or NodeClaimNotFound when the VM is gone.
func (c *CloudProvider) Get(ctx context.Context, providerID string) (*karpv1.NodeClaim, error) {
	id, err := v1.ParseProviderID(providerID)
	if err != nil {
		return nil, fmt.Errorf("getting instance, %w", err)
	}
	inst, err := c.instanceProvider.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("getting instance, %w", err)
	}
	return c.instanceToNodeClaimWithLookup(ctx, inst), nil
}

// List returns a NodeClaim for every VM this cluster owns.
func (c *CloudProvider) List(ctx context.Context) ([]*karpv1.NodeClaim, error) {
	instances, err := c.instanceProvider.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing instances, %w", err)
	}
	lookups := map[string]nodeClassLookup{}
	out := make([]*karpv1.NodeClaim, 0, len(instances))
	for _, inst := range instances {
		name := inst.Tags[v1.TagKeyNodeClass]
		if _, ok := lookups[name]; !ok && name != "" {
			lookups[name] = c.nodeClassAndInstanceTypes(ctx, name)
		}
		l := lookups[name]
		out = append(out, c.instanceToNodeClaim(inst, findInstanceType(l.instanceTypes, l.specs, inst), l.nodeClass))
	}
	return out, nil
}

// Delete destroys the NodeClaim's VM. It returns NodeClaimNotFound once the VM is gone, which tells core to stop
// retrying, and that includes the call that destroyed it: the instance provider returns only after the destroy's
// listing shows the VM gone. Core asks again 5 s after a nil, and during a scale-down that wait, not CloudStack, set
// how long each node took to go (as Karpenter's own kwok provider, which also answers NodeClaimNotFound at once).
func (c *CloudProvider) Delete(ctx context.Context, nodeClaim *karpv1.NodeClaim) error {
	id, err := v1.ParseProviderID(nodeClaim.Status.ProviderID)
	if err != nil {
		return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("NodeClaim %q has no CloudStack providerID, %w", nodeClaim.Name, err))
	}
	if err := c.instanceProvider.Delete(ctx, id); err != nil {
		return err
	}
	return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("VM %s of NodeClaim %q destroyed", id, nodeClaim.Name))
}

// GetInstanceTypes returns every instance type of the NodePool's NodeClass, including unavailable ones.
func (c *CloudProvider) GetInstanceTypes(ctx context.Context, nodePool *karpv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	nodeClass, err := c.resolveNodeClassFromNodePool(ctx, nodePool)
	if err != nil {
		if apierrors.IsNotFound(err) {
			// The NodePool's readiness controller reports a missing NodeClass; no instance types until it exists.
			return nil, nil
		}
		return nil, fmt.Errorf("resolving node class, %w", err)
	}
	return c.instanceTypeProvider.List(ctx, nodeClass)
}

// Reboot restarts the VM of a NodeClaim in place.
func (c *CloudProvider) Reboot(ctx context.Context, nodeClaim *karpv1.NodeClaim, _ string) error {
	id, err := v1.ParseProviderID(nodeClaim.Status.ProviderID)
	if err != nil {
		return cloudprovider.NewNodeRebootFailedError(fmt.Errorf("NodeClaim %q, %w", nodeClaim.Name, err))
	}
	if err := c.instanceProvider.Reboot(ctx, id); err != nil {
		if cloudprovider.IsNodeClaimNotFoundError(err) {
			return err
		}
		if cserrors.IsTransient(err) {
			// Throttling, an internal error or a lost connection: core keeps the reboot requested and retries.
			return fmt.Errorf("rebooting VM %s, %w", id, err)
		}
		// Refused (a VM that is not running, a missing permission): retrying cannot make it succeed.
		return cloudprovider.NewNodeRebootFailedError(fmt.Errorf("rebooting VM %s, %w", id, err))
	}
	return nil
}

// RepairPolicies replace nodes whose kubelet stopped reporting Ready. Ready=False is the single fallback policy.
func (c *CloudProvider) RepairPolicies() []cloudprovider.RepairPolicy {
	return []cloudprovider.RepairPolicy{
		{
			ConditionType:      corev1.NodeReady,
			ConditionStatus:    corev1.ConditionFalse,
			TolerationDuration: 30 * time.Minute,
			Action:             cloudprovider.ReplaceNode,
		},
		{
			ConditionType:      corev1.NodeReady,
			ConditionStatus:    corev1.ConditionUnknown,
			ReasonRegex:        ".*",
			TolerationDuration: 30 * time.Minute,
			Action:             cloudprovider.ReplaceNode,
		},
	}
}

// Name returns the provider's name.
func (c *CloudProvider) Name() string { return Name }

// GetSupportedNodeClasses returns the CloudStackNodeClass, the only (and default) NodeClass of this provider.
func (c *CloudProvider) GetSupportedNodeClasses() []status.Object {
	return []status.Object{&v1.CloudStackNodeClass{}}
}

func (c *CloudProvider) resolveNodeClassFromNodeClaim(ctx context.Context, nodeClaim *karpv1.NodeClaim) (*v1.CloudStackNodeClass, error) {
	nodeClass := &v1.CloudStackNodeClass{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: nodeClaim.Spec.NodeClassRef.Name}, nodeClass); err != nil {
		return nil, err
	}
	if !nodeClass.DeletionTimestamp.IsZero() {
		return nil, newTerminatingNodeClassError(nodeClass.Name)
	}
	return nodeClass, nil
}

func (c *CloudProvider) resolveNodeClassFromNodePool(ctx context.Context, nodePool *karpv1.NodePool) (*v1.CloudStackNodeClass, error) {
	nodeClass := &v1.CloudStackNodeClass{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: nodePool.Spec.Template.Spec.NodeClassRef.Name}, nodeClass); err != nil {
		return nil, err
	}
	if !nodeClass.DeletionTimestamp.IsZero() {
		return nil, newTerminatingNodeClassError(nodeClass.Name)
	}
	return nodeClass, nil
}

// newTerminatingNodeClassError makes a deleting NodeClass look absent, so no new VM is launched for it.
func newTerminatingNodeClassError(name string) error {
	return apierrors.NewNotFound(v1.SchemeGroupVersion.WithResource("cloudstacknodeclasses").GroupResource(), name)
}

// resolveInstanceTypes narrows the NodeClass's instance types to those the NodeClaim may launch.
func (c *CloudProvider) resolveInstanceTypes(ctx context.Context, nodeClaim *karpv1.NodeClaim, nodeClass *v1.CloudStackNodeClass) ([]*cloudprovider.InstanceType, error) {
	instanceTypes, err := c.instanceTypeProvider.List(ctx, nodeClass)
	if err != nil {
		return nil, err
	}
	// As Karpenter core's overlay decorator does for GetInstanceTypes and the AWS provider does in Create.
	if coreoptions.FromContext(ctx).FeatureGates.NodeOverlay && c.instanceTypeStore != nil {
		if instanceTypes, err = c.instanceTypeStore.ApplyAll(nodeClaim.Labels[karpv1.NodePoolLabelKey], instanceTypes); err != nil {
			return nil, fmt.Errorf("applying nodeoverlays, %w", err)
		}
	}
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(nodeClaim.Spec.Requirements...)
	return lo.Filter(instanceTypes, func(it *cloudprovider.InstanceType, _ int) bool {
		return reqs.IsCompatible(it.Requirements, scheduling.AllowUndefinedWellKnownLabels) &&
			len(it.Offerings.Available().Compatible(reqs)) > 0 &&
			resources.Fits(nodeClaim.Spec.Resources.Requests, it.Allocatable())
	}), nil
}

// nodeClassLookup is a NodeClass with its instance types and their launch specs, for mapping VMs back to NodeClaims.
// Any part may be missing: a VM whose NodeClass is gone is still reported, with the labels the VM itself proves.
type nodeClassLookup struct {
	nodeClass     *v1.CloudStackNodeClass
	instanceTypes []*cloudprovider.InstanceType
	specs         instancetype.LaunchSpecs
}

func (c *CloudProvider) nodeClassAndInstanceTypes(ctx context.Context, name string) nodeClassLookup {
	nodeClass := &v1.CloudStackNodeClass{}
	if err := c.kubeClient.Get(ctx, types.NamespacedName{Name: name}, nodeClass); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "failed getting CloudStackNodeClass", "CloudStackNodeClass", name)
		}
		return nodeClassLookup{}
	}
	its, err := c.instanceTypeProvider.List(ctx, nodeClass)
	if err != nil {
		log.FromContext(ctx).Error(err, "failed listing instance types", "CloudStackNodeClass", name)
		return nodeClassLookup{nodeClass: nodeClass}
	}
	specs, err := c.instanceTypeProvider.LaunchSpecs(ctx, nodeClass)
	if err != nil {
		log.FromContext(ctx).Error(err, "failed resolving launch specs", "CloudStackNodeClass", name)
	}
	return nodeClassLookup{nodeClass: nodeClass, instanceTypes: its, specs: specs}
}

func (c *CloudProvider) instanceToNodeClaimWithLookup(ctx context.Context, inst *instance.Instance) *karpv1.NodeClaim {
	l := c.nodeClassAndInstanceTypes(ctx, inst.Tags[v1.TagKeyNodeClass])
	return c.instanceToNodeClaim(inst, findInstanceType(l.instanceTypes, l.specs, inst), l.nodeClass)
}

// findInstanceType maps a VM back to its instance type through the launch specs: the offering, and for customized
// offerings the vCPU and memory the VM was deployed with.
func findInstanceType(instanceTypes []*cloudprovider.InstanceType, specs instancetype.LaunchSpecs, inst *instance.Instance) *cloudprovider.InstanceType {
	name, ok := specs.InstanceTypeOf(inst.ServiceOfferingID, inst.CPU, inst.MemoryMiB)
	if !ok {
		return nil
	}
	it, _ := lo.Find(instanceTypes, func(it *cloudprovider.InstanceType) bool { return it.Name == name })
	return it
}

func (c *CloudProvider) instanceToNodeClaim(inst *instance.Instance, instanceType *cloudprovider.InstanceType, nodeClass *v1.CloudStackNodeClass) *karpv1.NodeClaim {
	nodeClaim := &karpv1.NodeClaim{}
	labels := map[string]string{}
	if instanceType != nil {
		for key, req := range instanceType.Requirements {
			if req.Len() == 1 {
				labels[key] = req.Values()[0]
			}
		}
		nodeClaim.Status.Capacity = lo.PickBy(instanceType.Capacity, func(_ corev1.ResourceName, v resource.Quantity) bool { return !v.IsZero() })
		nodeClaim.Status.Allocatable = lo.PickBy(instanceType.Allocatable(), func(_ corev1.ResourceName, v resource.Quantity) bool { return !v.IsZero() })
	}
	labels[corev1.LabelTopologyZone] = v1.ZoneLabelValue(inst.ZoneName)
	labels[v1.LabelZoneID] = inst.ZoneID
	// The VM's architecture is its template's; a mixed NodeClass's instance types list several.
	labels[corev1.LabelArchStable] = inst.Arch
	labels[karpv1.CapacityTypeLabelKey] = karpv1.CapacityTypeOnDemand
	labels[v1.LabelServiceOfferingID] = inst.ServiceOfferingID
	if np, ok := inst.Tags[v1.TagKeyNodePool]; ok {
		labels[karpv1.NodePoolLabelKey] = np
	}
	if nodeClass != nil {
		labels[karpv1.NodeClassLabelKey(nodeClassGroupKind)] = nodeClass.Name
	}
	nodeClaim.Labels = labels
	nodeClaim.CreationTimestamp = metav1.Time{Time: inst.Created}
	nodeClaim.Status.ProviderID = v1.ProviderID(inst.ID)
	nodeClaim.Status.ImageID = inst.TemplateID
	return nodeClaim
}
