// Package tagging keeps the tags of running VMs equal to their NodeClass's spec.tags. Tags are not part of the drift
// hash, so editing them replaces no node: this controller updates the VMs in place instead.
package tagging

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/reconciler"
	"github.com/awslabs/operatorpkg/singleton"
	"go.uber.org/multierr"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
)

// ResyncInterval is how often the controller re-checks without an event. A check whose NodeClaims all record their
// NodeClass's current tags costs no CloudStack request.
const ResyncInterval = 5 * time.Minute

// Controller updates the tags of running VMs when their NodeClass's spec.tags change.
//
// Each NodeClaim records (v1.AnnotationTags) the spec.tags last applied to its VM; Create writes it at launch. A
// NodeClaim whose record differs from its NodeClass's spec.tags is out of date: one VM listing then gives the VMs'
// current tags, and the changes go out batched (instance.Provider.ChangeTags: one deleteTags and one createTags for
// all VMs with the same change). Keys the record holds that the NodeClass dropped are deleted from the VM; a tag the
// record does not hold is never deleted, so tags added by others survive. Tags missing from a VM (a launch whose
// tagging failed) are completed by the garbage collector.
type Controller struct {
	kubeClient       client.Client
	instanceProvider instance.Provider
}

// NewController returns the tagging controller.
func NewController(kubeClient client.Client, instanceProvider instance.Provider) *Controller {
	return &Controller{kubeClient: kubeClient, instanceProvider: instanceProvider}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "instance.tagging" }

// outdated is a launched NodeClaim whose VM's tags lag behind its NodeClass.
type outdated struct {
	nodeClaim *karpv1.NodeClaim
	vmID      string
	recorded  map[string]string
	want      map[string]string
}

// Reconcile brings the tags of every out-of-date VM in line with its NodeClass and records them on its NodeClaim.
func (c *Controller) Reconcile(ctx context.Context) (reconciler.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	pending, err := c.outdatedNodeClaims(ctx)
	if err != nil {
		return reconciler.Result{}, err
	}
	if len(pending) == 0 {
		return reconciler.Result{RequeueAfter: ResyncInterval}, nil
	}
	instances, err := c.instanceProvider.List(ctx)
	if err != nil {
		return reconciler.Result{}, fmt.Errorf("listing instances, %w", err)
	}
	byID := make(map[string]*instance.Instance, len(instances))
	for _, inst := range instances {
		byID[inst.ID] = inst
	}
	var changes []instance.TagChange
	var ready []outdated
	for _, o := range pending {
		inst, ok := byID[o.vmID]
		if !ok {
			// Gone, or not this cluster's: nothing to tag, and core deals with the NodeClaim.
			continue
		}
		changes = append(changes, Diff(o.vmID, inst.Tags, o.recorded, o.want))
		ready = append(ready, o)
	}
	failed := c.instanceProvider.ChangeTags(ctx, changes)
	var errs error
	for i, o := range ready {
		if err := failed[o.vmID]; err != nil {
			errs = multierr.Append(errs, fmt.Errorf("updating the tags of VM %s of nodeclaim %q, %w", o.vmID, o.nodeClaim.Name, err))
			continue
		}
		if !changes[i].IsEmpty() {
			log.FromContext(ctx).Info("updated the tags of a VM in place", "nodeclaim", o.nodeClaim.Name, "vm-id", o.vmID,
				"deleted", len(changes[i].Delete), "created", len(changes[i].Create))
		}
		// Recorded only after CloudStack has the tags: a lost update is found again on the next pass.
		stored := o.nodeClaim.DeepCopy()
		if o.nodeClaim.Annotations == nil {
			o.nodeClaim.Annotations = map[string]string{}
		}
		o.nodeClaim.Annotations[v1.AnnotationTags] = v1.TagsRecord(o.want)
		if err := c.kubeClient.Patch(ctx, o.nodeClaim, client.MergeFrom(stored)); client.IgnoreNotFound(err) != nil {
			errs = multierr.Append(errs, fmt.Errorf("recording the tags of nodeclaim %q, %w", o.nodeClaim.Name, err))
		}
	}
	if errs != nil {
		return reconciler.Result{}, errs
	}
	return reconciler.Result{RequeueAfter: ResyncInterval}, nil
}

// outdatedNodeClaims lists the launched NodeClaims whose recorded tags differ from their NodeClass's spec.tags.
// NodeClaims being deleted, without a VM yet, or whose NodeClass is gone are left alone.
func (c *Controller) outdatedNodeClaims(ctx context.Context) ([]outdated, error) {
	nodeClaims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, nodeClaims); err != nil {
		return nil, fmt.Errorf("listing nodeclaims, %w", err)
	}
	nodeClasses := &v1.CloudStackNodeClassList{}
	if err := c.kubeClient.List(ctx, nodeClasses); err != nil {
		return nil, fmt.Errorf("listing nodeclasses, %w", err)
	}
	byName := make(map[string]*v1.CloudStackNodeClass, len(nodeClasses.Items))
	for i := range nodeClasses.Items {
		byName[nodeClasses.Items[i].Name] = &nodeClasses.Items[i]
	}
	var out []outdated
	for i := range nodeClaims.Items {
		nc := &nodeClaims.Items[i]
		ref := nc.Spec.NodeClassRef
		if !nc.DeletionTimestamp.IsZero() || ref == nil || ref.Group != apis.Group || ref.Kind != "CloudStackNodeClass" {
			continue
		}
		nodeClass, ok := byName[ref.Name]
		if !ok || !nodeClass.DeletionTimestamp.IsZero() {
			continue
		}
		vmID, err := v1.ParseProviderID(nc.Status.ProviderID)
		if err != nil {
			continue
		}
		recorded, ok := v1.ParseTagsRecord(nc.Annotations)
		if ok && v1.TagsEqual(recorded, nodeClass.Spec.Tags) {
			continue
		}
		out = append(out, outdated{nodeClaim: nc, vmID: vmID, recorded: recorded, want: nodeClass.Spec.Tags})
	}
	return out, nil
}

// Diff is the change that turns a VM's tags (current) into want, given the NodeClass tags recorded as applied
// before. Keys compare as CloudStack compares them, trimmed and in any case: a key whose spelling or value differs
// is deleted and created again. A recorded key that want no longer has is deleted; a VM tag that was never recorded
// (put there by someone else, or by a release that kept no record) is left alone, as are the provider's own keys.
func Diff(vmID string, current, recorded, want map[string]string) instance.TagChange {
	change := instance.TagChange{VMID: vmID, Delete: map[string]string{}, Create: map[string]string{}}
	find := func(key string) (string, string, bool) {
		for k, v := range current {
			if sameKey(k, key) {
				return k, v, true
			}
		}
		return "", "", false
	}
	for k, v := range want {
		if v1.IsReservedTagKey(k) {
			continue
		}
		haveKey, haveValue, ok := find(k)
		switch {
		case !ok:
			change.Create[k] = v
		case haveKey != k || haveValue != v:
			change.Delete[haveKey] = haveValue
			change.Create[k] = v
		}
	}
	for k := range recorded {
		if v1.IsReservedTagKey(k) || wantsKey(want, k) {
			continue
		}
		if haveKey, haveValue, ok := find(k); ok {
			change.Delete[haveKey] = haveValue
		}
	}
	return change
}

func wantsKey(want map[string]string, key string) bool {
	for k := range want {
		if sameKey(k, key) {
			return true
		}
	}
	return false
}

func sameKey(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }

// request is the single work item of the controller: every trigger runs one pass over all NodeClaims.
var request = []reconcile.Request{{}}

// Register runs the controller as a singleton, triggered at once by a change of a NodeClass's spec and by a NodeClaim
// that got its VM or whose tag record changed, and every ResyncInterval otherwise.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request { return request })
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		WatchesRawSource(singleton.Source()).
		Watches(&v1.CloudStackNodeClass{}, all, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&karpv1.NodeClaim{}, all, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			UpdateFunc: func(e event.UpdateEvent) bool {
				o, n := e.ObjectOld.(*karpv1.NodeClaim), e.ObjectNew.(*karpv1.NodeClaim)
				return o.Status.ProviderID != n.Status.ProviderID || o.Annotations[v1.AnnotationTags] != n.Annotations[v1.AnnotationTags]
			},
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Complete(singleton.AsReconciler(c))
}
