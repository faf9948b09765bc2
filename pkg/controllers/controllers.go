// Package controllers assembles every controller of the CloudStack provider for the operator; Karpenter core's
// controllers are assembled by core. cmd/controller only starts what NewControllers returns.
package controllers

import (
	"context"

	"github.com/awslabs/operatorpkg/controller"
	"github.com/awslabs/operatorpkg/status"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/karpenter/pkg/events"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/node/providerid"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/garbagecollection"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	instancetyperefresh "github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// Providers are the operator's providers the controllers use.
type Providers struct {
	// NodeClass are the providers the NodeClass controller resolves a CloudStackNodeClass with.
	NodeClass nodeclass.Providers
	// Instances are the cluster's VMs, for the garbage collector.
	Instances instance.Provider
	// InstanceTypes owns the offering catalog the refresh controller re-reads.
	InstanceTypes instancetype.Provider
}

// NewControllers returns every controller of the provider: the NodeClass controller and its status controller, the
// providerID check, the garbage collector of leaked VMs and the offering catalog refresh. ctx carries the options
// (the garbage collector's grace period). mgr supplies the plain event recorder operatorpkg's status controller needs
// (condition transition events and metrics for CloudStackNodeClass).
func NewControllers(ctx context.Context, mgr manager.Manager, clk clock.Clock, kubeClient client.Client, recorder events.Recorder,
	providers Providers) []controller.Controller {
	return []controller.Controller{
		nodeclass.NewController(kubeClient, recorder, clk, providers.NodeClass),
		providerid.NewController(kubeClient, recorder),
		//nolint:staticcheck // SA1019: operatorpkg's status controller still takes the deprecated record.EventRecorder.
		status.NewController[*v1.CloudStackNodeClass](kubeClient, mgr.GetEventRecorderFor("karpenter")),
		garbagecollection.NewController(clk, kubeClient, providers.Instances, options.FromContext(ctx).GCGracePeriod),
		instancetyperefresh.NewController(providers.InstanceTypes),
	}
}
