// Package hash keeps the static-drift hash of NodeClaims comparable across provider upgrades. When a release changes
// what the NodeClass hash covers (v1.NodeClassHashVersion), the hashes stamped on existing NodeClaims can no longer be
// compared with the NodeClass's: this controller re-stamps every NodeClaim of an older hash version that has not
// drifted with the NodeClass's current hash, so an upgrade replaces no node, and a later change of a hashed field still
// drifts the nodes launched before the upgrade.
package hash

import (
	"context"
	"fmt"

	"github.com/samber/lo"
	"go.uber.org/multierr"
	"k8s.io/apimachinery/pkg/api/equality"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// Controller re-stamps the hash annotations of NodeClaims launched by an older release.
type Controller struct {
	kubeClient client.Client
}

// NewController returns the hash controller.
func NewController(kubeClient client.Client) *Controller {
	return &Controller{kubeClient: kubeClient}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "nodeclass.hash" }

// Reconcile re-stamps the NodeClass's NodeClaims whose hash version is not the current one. A NodeClaim core already
// marked Drifted keeps its old hash: re-stamping it would cancel a replacement the user asked for before the upgrade.
func (c *Controller) Reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if !nodeClass.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	list := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, list); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing nodeclaims, %w", err)
	}
	hash := nodeClass.Hash()
	var errs error
	for i := range list.Items {
		nc := &list.Items[i]
		ref := nc.Spec.NodeClassRef
		if ref == nil || ref.Group != apis.Group || ref.Kind != "CloudStackNodeClass" || ref.Name != nodeClass.Name {
			continue
		}
		if nc.Annotations[v1.AnnotationNodeClassHashVersion] == v1.NodeClassHashVersion || nc.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue() {
			continue
		}
		stored := nc.DeepCopy()
		nc.Annotations = lo.Assign(nc.Annotations, map[string]string{
			v1.AnnotationNodeClassHash:        hash,
			v1.AnnotationNodeClassHashVersion: v1.NodeClassHashVersion,
		})
		if equality.Semantic.DeepEqual(stored.Annotations, nc.Annotations) {
			continue
		}
		// The optimistic lock: a NodeClaim that core marked Drifted meanwhile must not be re-stamped from a stale read.
		if err := c.kubeClient.Patch(ctx, nc, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
			errs = multierr.Append(errs, fmt.Errorf("re-stamping the hash of nodeclaim %q, %w", nc.Name, err))
		}
	}
	return reconcile.Result{}, errs
}

// Register runs the controller on NodeClass creation and spec changes; a provider upgrade restarts the controller,
// which reconciles every NodeClass once.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1.CloudStackNodeClass{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
