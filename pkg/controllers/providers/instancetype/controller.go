// Package instancetype refreshes the service-offering catalog in the background, so that offerings an
// administrator adds or disables reach the scheduler without a provisioning loop paying for the API calls.
package instancetype

import (
	"context"
	"fmt"
	"time"

	"github.com/awslabs/operatorpkg/reconciler"
	"github.com/awslabs/operatorpkg/singleton"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// Interval is how often the catalog is re-read; shorter than the catalog's cache TTL so reads stay warm.
const Interval = 3 * time.Minute

// Controller refreshes the instance-type provider's offering catalog.
type Controller struct {
	provider instancetype.Provider
}

// NewController returns the refresh controller.
func NewController(provider instancetype.Provider) *Controller {
	return &Controller{provider: provider}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "providers.instancetype" }

// Reconcile re-reads the service offerings.
func (c *Controller) Reconcile(ctx context.Context) (reconciler.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if err := c.provider.UpdateServiceOfferings(ctx); err != nil {
		return reconciler.Result{}, fmt.Errorf("refreshing service offerings, %w", err)
	}
	return reconciler.Result{RequeueAfter: Interval}, nil
}

// Register runs the controller as a singleton.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		WatchesRawSource(singleton.Source()).
		Complete(singleton.AsReconciler(c))
}
