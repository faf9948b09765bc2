// Package garbagecollection destroys VMs this cluster launched that no NodeClaim accounts for any more: the
// leftovers of a controller restart between deploy and the NodeClaim status update, or of a NodeClaim deleted
// while its VM was still being created. Karpenter core never deletes such instances itself.
package garbagecollection

import (
	"context"
	"fmt"
	"time"

	"github.com/awslabs/operatorpkg/reconciler"
	"github.com/awslabs/operatorpkg/singleton"
	"github.com/samber/lo"
	"go.uber.org/multierr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
)

// Interval is how often VMs are checked for leaks.
const Interval = 2 * time.Minute

// Controller destroys leaked VMs of this cluster.
type Controller struct {
	clock            clock.Clock
	kubeClient       client.Client
	instanceProvider instance.Provider
	gracePeriod      time.Duration
}

// NewController returns the garbage collector. VMs younger than gracePeriod are never collected: their NodeClaim
// may not carry their providerID yet.
func NewController(clk clock.Clock, kubeClient client.Client, instanceProvider instance.Provider, gracePeriod time.Duration) *Controller {
	return &Controller{clock: clk, kubeClient: kubeClient, instanceProvider: instanceProvider, gracePeriod: gracePeriod}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "instance.garbagecollection" }

// Reconcile destroys every VM of this cluster that is older than the grace period and that no NodeClaim claims, and
// completes the tags of claimed VMs whose tagging failed at launch. instance.Provider.ListAll only returns VMs of the
// key's own account that carry this cluster's ID (tag or instance group, see instance.Owner): a VM without that
// proof is never considered, whatever its name or cluster-name tag.
func (c *Controller) Reconcile(ctx context.Context) (reconciler.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	// ListAll includes VMs in Error: a failed launch whose own cleanup failed must not linger.
	instances, err := c.instanceProvider.ListAll(ctx)
	if err != nil {
		return reconciler.Result{}, fmt.Errorf("listing instances, %w", err)
	}
	nodeClaims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, nodeClaims); err != nil {
		return reconciler.Result{}, fmt.Errorf("listing nodeclaims, %w", err)
	}
	// A NodeClaim with a providerID claims exactly that VM; one without (its Create is still running) claims every VM
	// of its name, since any of them may become its VM. A second VM of the name of a launched NodeClaim is a leak.
	claimed, launchingNames := map[string]*karpv1.NodeClaim{}, sets.New[string]()
	for i := range nodeClaims.Items {
		if id, err := v1.ParseProviderID(nodeClaims.Items[i].Status.ProviderID); err == nil {
			claimed[id] = &nodeClaims.Items[i]
		} else {
			launchingNames.Insert(instance.Hostname(nodeClaims.Items[i].Name))
		}
	}
	var leaked []*instance.Instance
	var errs []error
	for _, inst := range instances {
		if nodeClaim, ok := claimed[inst.ID]; ok {
			errs = append(errs, c.completeTags(ctx, inst, nodeClaim))
			continue
		}
		if launchingNames.Has(inst.Name) {
			continue
		}
		if c.clock.Since(inst.Created) < c.gracePeriod {
			continue
		}
		leaked = append(leaked, inst)
	}
	deleteErrs := make([]error, len(leaked))
	workqueue.ParallelizeUntil(ctx, 10, len(leaked), func(i int) {
		inst := leaked[i]
		if err := c.instanceProvider.Delete(ctx, inst.ID); err != nil && !cloudprovider.IsNodeClaimNotFoundError(err) {
			deleteErrs[i] = fmt.Errorf("destroying leaked VM %s (%s), %w", inst.Name, inst.ID, err)
			return
		}
		log.FromContext(ctx).Info("destroyed leaked VM that no NodeClaim owns",
			"vm-id", inst.ID, "vm-name", inst.Name, "zone", inst.ZoneName, "age", c.clock.Since(inst.Created).Round(time.Second).String())
	})
	errs = append(errs, c.deleteDetachedDataDisks(ctx, instances))
	if err := multierr.Combine(append(errs, deleteErrs...)...); err != nil {
		return reconciler.Result{}, err
	}
	return reconciler.Result{RequeueAfter: Interval}, nil
}

// deleteDetachedDataDisks deletes this cluster's data disks that no VM holds any more. Only clusters that use data
// disks (a NodeClass with spec.dataDisks, or a VM launched with some) pay the listing, and only they need
// listVolumes in the key's role.
func (c *Controller) deleteDetachedDataDisks(ctx context.Context, instances []*instance.Instance) error {
	used := lo.SomeBy(instances, func(inst *instance.Instance) bool { _, ok := inst.Tags[v1.TagKeyDataDisks]; return ok })
	if !used {
		nodeClasses := &v1.CloudStackNodeClassList{}
		if err := c.kubeClient.List(ctx, nodeClasses); err != nil {
			return fmt.Errorf("listing nodeclasses, %w", err)
		}
		used = lo.SomeBy(nodeClasses.Items, func(nc v1.CloudStackNodeClass) bool { return len(nc.Spec.DataDisks) > 0 })
	}
	if !used {
		return nil
	}
	if _, err := c.instanceProvider.DeleteDetachedDataDisks(ctx, c.clock.Now().Add(-c.gracePeriod)); err != nil {
		return fmt.Errorf("deleting detached data disks, %w", err)
	}
	return nil
}

// completeTags adds the tags a NodeClaim's VM lacks: a launch whose createTags failed twice leaves a VM that only
// its instance group proves ours. Keys the VM has are left as they are, so a healthy VM costs no request.
func (c *Controller) completeTags(ctx context.Context, inst *instance.Instance, nodeClaim *karpv1.NodeClaim) error {
	nodeClass := &v1.CloudStackNodeClass{}
	if ref := nodeClaim.Spec.NodeClassRef; ref != nil {
		if err := c.kubeClient.Get(ctx, client.ObjectKey{Name: ref.Name}, nodeClass); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("getting the NodeClass of nodeclaim %q, %w", nodeClaim.Name, err)
		}
		nodeClass.Name = ref.Name
	}
	missing := map[string]string{}
	for k, v := range c.instanceProvider.Tags(nodeClass, nodeClaim) {
		if _, ok := inst.Tags[k]; !ok {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := c.instanceProvider.CreateTags(ctx, inst.ID, missing); err != nil && !cloudprovider.IsNodeClaimNotFoundError(err) {
		return fmt.Errorf("completing the tags of VM %s of nodeclaim %q, %w", inst.ID, nodeClaim.Name, err)
	}
	log.FromContext(ctx).Info("completed the tags of a VM", "vm-id", inst.ID, "nodeclaim", nodeClaim.Name, "keys", len(missing))
	return nil
}

// Register runs the controller as a singleton.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		WatchesRawSource(singleton.Source()).
		Complete(singleton.AsReconciler(c))
}
