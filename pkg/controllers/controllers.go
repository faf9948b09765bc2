// Package controllers assembles the CloudStack provider's own controllers for the operator; Karpenter core's
// controllers are assembled by core.
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
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass/hash"
)

// NewControllers returns the provider's controllers. mgr supplies the plain event recorder operatorpkg's status
// controller needs (condition transition events and metrics for CloudStackNodeClass).
func NewControllers(_ context.Context, mgr manager.Manager, clk clock.Clock, kubeClient client.Client, recorder events.Recorder,
	providers nodeclass.Providers) []controller.Controller {
	return []controller.Controller{
		nodeclass.NewController(kubeClient, recorder, clk, providers),
		hash.NewController(kubeClient),
		providerid.NewController(kubeClient, recorder),
		//nolint:staticcheck // SA1019: operatorpkg's status controller still takes the deprecated record.EventRecorder.
		status.NewController[*v1.CloudStackNodeClass](kubeClient, mgr.GetEventRecorderFor("karpenter")),
	}
}
