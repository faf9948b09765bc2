// Command controller runs Karpenter with the Apache CloudStack provider.
package main

import (
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/metrics"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	corecontrollers "sigs.k8s.io/karpenter/pkg/controllers"
	"sigs.k8s.io/karpenter/pkg/controllers/node/health"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coreoperator "sigs.k8s.io/karpenter/pkg/operator"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, op := operator.NewOperator(coreoperator.NewOperator())
	op.GetLogger().Info("starting karpenter-provider-cloudstack", "version", version)

	// Secrets are read from the API server, never cached: the chart grants get on the named Secrets only.
	userDataSecrets := userdatasecret.NewDefaultProvider(op.Manager.GetAPIReader())
	cloudStackProvider := cloudprovider.New(op.GetClient(), op.EventRecorder, op.InstanceTypeProvider, op.InstanceProvider, op.ZoneProvider,
		cloudprovider.WithInstanceTypeStore(op.InstanceTypeStore), cloudprovider.WithUserDataSecrets(userDataSecrets))
	overlayUndecorated := metrics.Decorate(cloudStackProvider)
	cloudProvider := overlay.Decorate(overlayUndecorated, op.GetClient(), op.InstanceTypeStore)
	repairPolicies := lo.Must(health.NewRepairPolicyMatcher(ctx, cloudProvider))
	clusterState := state.NewCluster(op.Clock, op.GetClient(), cloudProvider, state.WithRepairPolicyMatcher(repairPolicies))

	op.
		WithControllers(ctx, corecontrollers.NewControllers(
			ctx,
			op.Manager,
			op.Clock,
			op.GetClient(),
			op.EventRecorder,
			cloudProvider,
			overlayUndecorated,
			clusterState,
			op.InstanceTypeStore,
			op.PredictionStore,
		)...).
		WithControllers(ctx, controllers.NewControllers(ctx, op.Manager, op.Clock, op.GetClient(), op.EventRecorder, controllers.Providers{
			NodeClass: nodeclass.Providers{
				Zones:            op.ZoneProvider,
				Networks:         op.NetworkProvider,
				Templates:        op.TemplateProvider,
				ServiceOfferings: op.InstanceTypeProvider,
				SSHKeyPairs:      op.SSHKeyPairProvider,
				AffinityGroups:   op.AffinityGroupProvider,
				SecurityGroups:   op.SecurityGroupProvider,
				DiskOfferings:    op.DiskOfferingProvider,
				Projects:         op.ProjectProvider,
				UserDataSecrets:  userDataSecrets,
			},
			Instances:     op.InstanceProvider,
			InstanceTypes: op.InstanceTypeProvider,
		})...).
		Start(ctx)
}
