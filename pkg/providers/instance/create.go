package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"go.uber.org/multierr"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// maxLaunchAttempts bounds how many candidates one Create tries after capacity failures. Each failed attempt costs a
// full deploy job; after a few, returning InsufficientCapacity lets Karpenter re-plan with the updated
// unavailable-offerings cache instead of holding the NodeClaim for minutes.
const maxLaunchAttempts = 3

// cleanupTimeout bounds destroying a failed VM, which runs even when the Create context is already done.
const cleanupTimeout = 2 * time.Minute

// Adopting a VM that a lost Create left starting polls it with this backoff, up to adoptTimeout.
const (
	adoptPollInterval    = 250 * time.Millisecond
	adoptPollMaxInterval = 5 * time.Second
	adoptTimeout         = 10 * time.Minute
)

// Reasons recorded in the unavailable-offerings cache.
const (
	reasonInsufficientCapacity = "InsufficientCapacity"
	reasonLimitExceeded        = "LimitExceeded"
	reasonZoneDisabled         = "ZoneDisabled"
)

// UserData returns the gzip'ed (or plain) and base64-encoded userData of a VM of the instance type: the kubelet
// reservations it carries depend on the VM's size.
type UserData func(it *cloudprovider.InstanceType) (string, error)

// StaticUserData is userData that does not depend on the instance type.
func StaticUserData(encoded string) UserData {
	return func(*cloudprovider.InstanceType) (string, error) { return encoded, nil }
}

// errRedeploy asks Create to deploy the same candidate again: the VM found under the NodeClaim's name was in Error
// and has been destroyed.
var errRedeploy = errors.New("existing VM was in Error and has been destroyed")

// Create implements Provider.
func (p *DefaultProvider) Create(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim,
	instanceTypes []*cloudprovider.InstanceType, userData UserData) (*Instance, error) {
	candidates := p.candidates(nodeClass, nodeClaim, instanceTypes)
	if len(candidates) == 0 {
		return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("no available offering of %d instance types is compatible with the requirements of nodeclaim %q",
			len(instanceTypes), nodeClaim.Name))
	}
	// A NodeClaim older than this process may have had its VM deployed by the previous process, possibly in
	// another zone than the one the cheapest candidate picks now, where no duplicate-hostname error would stop a
	// second deploy. Only for those is the cost of a lookup before deploy worth it.
	redeployed := false
	if !nodeClaim.CreationTimestamp.IsZero() && nodeClaim.CreationTimestamp.Time.Before(p.startTime) {
		existing, found, err := p.findByName(ctx, Hostname(nodeClaim.Name))
		if err != nil {
			return nil, cloudprovider.NewCreateError(err, "LaunchFailed", "Failed to look up the VM of a NodeClaim older than the controller")
		}
		if found {
			inst, err := p.adopt(ctx, existing, p.Tags(nodeClass, nodeClaim))
			if !errors.Is(err, errRedeploy) {
				return inst, err
			}
			redeployed = true
		}
	}
	var capacityErrs error
	for attempt := 0; attempt < len(candidates) && attempt < maxLaunchAttempts; attempt++ {
		c := candidates[attempt]
		encoded, err := userData(c.instanceType)
		if err != nil {
			return nil, cloudprovider.NewCreateError(fmt.Errorf("rendering userData for %s, %w", c.instanceType.Name, err), "UserDataRenderFailed", err.Error())
		}
		inst, err := p.launch(ctx, nodeClass, nodeClaim, c, encoded)
		if errors.Is(err, errRedeploy) && !redeployed {
			redeployed = true
			attempt--
			continue
		}
		if err == nil {
			return inst, nil
		}
		reason := ""
		switch {
		case cserrors.IsInsufficientCapacity(err):
			reason = reasonInsufficientCapacity
		case cserrors.IsLimitExceeded(err):
			reason = reasonLimitExceeded
		case cserrors.IsZoneDisabled(err):
			// Disabled after the NodeClass last resolved its zones: try the other zones now.
			reason = reasonZoneDisabled
		default:
			return nil, cloudprovider.NewCreateError(fmt.Errorf("launching nodeclaim %q as %s in zone %s, %w", nodeClaim.Name, c.instanceType.Name, c.zone.Name, err),
				"LaunchFailed", fmt.Sprintf("CloudStack rejected the VM: %s", truncate(err.Error(), 300)))
		}
		p.unavailable.MarkUnavailable(ctx, reason, c.instanceType.Name, c.zone.Name)
		capacityErrs = multierr.Append(capacityErrs, fmt.Errorf("%s in zone %s, %w", c.instanceType.Name, c.zone.Name, err))
	}
	return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("launching nodeclaim %q, %w", nodeClaim.Name, capacityErrs))
}

// launch deploys one candidate and waits for it. Tagging happens between deploy and wait, so ownership is recorded
// even when this process dies while the VM starts. Every failure after deploy destroys the VM.
func (p *DefaultProvider) launch(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, c candidate, userData string) (*Instance, error) {
	params, err := p.deployParams(ctx, nodeClass, nodeClaim, c, userData)
	if err != nil {
		return nil, err
	}
	tags := p.Tags(nodeClass, nodeClaim)
	vmID, jobID, err := p.api.DeployVM(ctx, params)
	if err != nil {
		// A duplicate hostname is a 431 like any bad parameter; only then is it worth looking for our own VM.
		if cserrors.IsInvalidParameter(err) {
			if existing, found, lookupErr := p.findByName(ctx, Hostname(nodeClaim.Name)); lookupErr != nil {
				return nil, multierr.Append(fmt.Errorf("deploying VM, %w", err), lookupErr)
			} else if found {
				return p.adopt(ctx, existing, tags)
			}
		}
		return nil, fmt.Errorf("deploying VM, %w", err)
	}
	// Tagging while the VM starts records what it is for even if this process dies now; ownership itself is already
	// proven by the instance group deploy set.
	tagErr := p.api.CreateTags(ctx, []string{vmID}, ResourceTypeVM, tags)
	result, err := p.api.WaitForJob(ctx, jobID)
	if err != nil {
		p.cleanup(ctx, vmID)
		return nil, fmt.Errorf("waiting for deploy job %s of VM %s, %w", jobID, vmID, err)
	}
	vm, err := p.vmFromJob(ctx, vmID, result)
	if err != nil {
		p.cleanup(ctx, vmID)
		return nil, err
	}
	if isGone(vm.State) {
		p.cleanup(ctx, vmID)
		return nil, fmt.Errorf("VM %s is %s after its deploy job succeeded", vmID, vm.State)
	}
	inst := NewInstance(vm)
	if tagErr != nil {
		if err := p.updateTags(ctx, vmID, inst.Tags, tags); err != nil {
			// The VM is ours by its instance group, so List and the garbage collector still see it, and the
			// garbage collector adds the missing tags on its next pass. The NodeClaim can use it now.
			log.FromContext(ctx).Error(err, "tagging VM failed twice, the garbage collector will retry", "vm-id", vmID, "first-error", tagErr.Error())
			return inst, nil
		}
	}
	for k, v := range tags {
		inst.Tags[k] = v
	}
	return inst, nil
}

func (p *DefaultProvider) deployParams(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, c candidate, userData string) (*csgo.DeployVirtualMachineParams, error) {
	params := &csgo.DeployVirtualMachineParams{}
	params.SetServiceofferingid(c.offeringID)
	params.SetTemplateid(c.template.ID)
	params.SetZoneid(c.zone.ID)
	params.SetName(Hostname(nodeClaim.Name))
	params.SetDisplayname(nodeClaim.Name)
	params.SetGroup(p.owner.Group())
	params.SetNetworkids(c.networkIDs)
	if userData != "" {
		params.SetUserdata(userData)
	}
	if nodeClass.Status.SSHKeyPair != "" {
		params.SetKeypair(nodeClass.Status.SSHKeyPair)
	}
	if len(nodeClass.Status.AffinityGroups) > 0 {
		ids := make([]string, 0, len(nodeClass.Status.AffinityGroups))
		for _, g := range nodeClass.Status.AffinityGroups {
			ids = append(ids, g.ID)
		}
		params.SetAffinitygroupids(ids)
	}
	if gib, ok := nodeClass.RootDiskSizeGiB(); ok {
		params.SetRootdisksize(gib)
	}
	offering, found, err := p.offerings.ServiceOffering(ctx, c.offeringID)
	if err != nil {
		return nil, fmt.Errorf("looking up service offering %q, %w", c.offeringID, err)
	}
	if found {
		if details := instancetype.DeployDetails(offering, c.cpu, c.memoryMiB); len(details) > 0 {
			params.SetDetails(details)
		}
	}
	return params, nil
}

// Tags implements Provider. The ownership and identity tags win over the NodeClass's on conflict.
func (p *DefaultProvider) Tags(nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim) map[string]string {
	tags := make(map[string]string, len(nodeClass.Spec.Tags)+5)
	for k, v := range nodeClass.Spec.Tags {
		tags[k] = v
	}
	for k, v := range p.owner.Tags() {
		tags[k] = v
	}
	tags[v1.TagKeyNodeClaim] = nodeClaim.Name
	tags[v1.TagKeyNodeClass] = nodeClass.Name
	if np := nodeClaim.Labels[karpv1.NodePoolLabelKey]; np != "" {
		tags[v1.TagKeyNodePool] = np
	}
	return tags
}

// vmFromJob reads the VM from the deploy job's result, which CloudStack fills with the started VM, and falls back to
// reading the VM when the result holds none.
func (p *DefaultProvider) vmFromJob(ctx context.Context, vmID string, result json.RawMessage) (*csgo.VirtualMachine, error) {
	var r struct {
		VirtualMachine *csgo.VirtualMachine `json:"virtualmachine"`
	}
	if err := json.Unmarshal(result, &r); err == nil && r.VirtualMachine != nil && r.VirtualMachine.Id != "" {
		return r.VirtualMachine, nil
	}
	vm, err := p.api.GetVM(ctx, vmID)
	if err != nil {
		return nil, fmt.Errorf("getting VM %s after deploy, %w", vmID, err)
	}
	return vm, nil
}

// findByName looks for this cluster's VM with exactly that hostname. The server filters by name (exactly from 4.19,
// by substring before), so the lookup stays one short listing however many VMs the account has; no tag filter, as a
// VM whose tagging failed carries only its name and instance group. It runs only for NodeClaims older than the
// process and after a deploy was refused, never on the happy path.
func (p *DefaultProvider) findByName(ctx context.Context, name string) (*csgo.VirtualMachine, bool, error) {
	vms, err := p.api.ListVMs(ctx, name, nil)
	if err != nil {
		return nil, false, fmt.Errorf("looking up VM %q, %w", name, err)
	}
	for _, vm := range vms {
		if !isDestroyed(vm.State) && p.owner.Owns(cloudstack.TagMap(vm.Tags), vm.Group) {
			return vm, true, nil
		}
	}
	return nil, false, nil
}

// adopt takes over a VM a previous Create launched for the same NodeClaim: it completes its tags and waits until
// it is running.
func (p *DefaultProvider) adopt(ctx context.Context, vm *csgo.VirtualMachine, tags map[string]string) (*Instance, error) {
	log.FromContext(ctx).V(1).Info("adopting existing VM", "vm-id", vm.Id, "vm-name", vm.Name, "state", vm.State)
	if err := p.updateTags(ctx, vm.Id, cloudstack.TagMap(vm.Tags), tags); err != nil {
		log.FromContext(ctx).Error(err, "tagging adopted VM", "vm-id", vm.Id)
	}
	waitCtx, cancel := context.WithTimeout(ctx, p.adoptTimeout)
	defer cancel()
	interval := adoptPollInterval
	for vm.State != StateRunning {
		if vm.State == StateError {
			p.cleanup(ctx, vm.Id)
			return nil, errRedeploy
		}
		select {
		case <-waitCtx.Done():
			return nil, fmt.Errorf("waiting for adopted VM %s to run (state %s), %w", vm.Id, vm.State, waitCtx.Err())
		case <-time.After(interval):
		}
		interval = min(interval*2, adoptPollMaxInterval)
		next, err := p.api.GetVM(waitCtx, vm.Id)
		if err != nil {
			return nil, fmt.Errorf("getting adopted VM %s, %w", vm.Id, err)
		}
		vm = next
	}
	inst := NewInstance(vm)
	for k, v := range tags {
		inst.Tags[k] = v
	}
	return inst, nil
}

// cleanup destroys a VM whose launch failed (a failed deploy job leaves it in Error, holding its name and volumes).
// It runs on a context of its own so a cancelled Create still cleans up.
func (p *DefaultProvider) cleanup(ctx context.Context, vmID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := p.destroy(ctx, vmID); err != nil && !cserrors.IsNotFound(err) {
		log.FromContext(ctx).Error(err, "destroying VM of a failed launch; the garbage collector will retry", "vm-id", vmID)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
