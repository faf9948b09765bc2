package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
)

// ReasonNetworksNotFound is the reason of NetworksReady=False.
const ReasonNetworksNotFound = "NetworksNotFound"

type networks struct{ provider network.Provider }

// reconcile resolves the networks in every zone: a VM is deployed into one zone and needs a NIC there, so a zone
// without a matching network would make every launch in it fail.
func (n *networks) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if len(nodeClass.Status.Zones) == 0 {
		nodeClass.Status.Networks = nil
		awaitingZones(conds, v1.ConditionTypeNetworksReady, "spec.networkSelectorTerms")
		return nil
	}
	var resolved []v1.Network
	var missing []string
	for _, z := range nodeClass.Status.Zones {
		found, err := n.provider.Resolve(ctx, z.ID, nodeClass.Spec.NetworkSelectorTerms)
		if err != nil {
			return fmt.Errorf("resolving networks in zone %q, %w", z.Name, err)
		}
		if len(found) == 0 {
			missing = append(missing, z.Name)
		}
		resolved = append(resolved, found...)
	}
	nodeClass.Status.Networks = resolved
	if len(missing) > 0 {
		conds.SetFalse(v1.ConditionTypeNetworksReady, ReasonNetworksNotFound,
			fmt.Sprintf("spec.networkSelectorTerms: no deployable network matches %s in zone(s) %s", describeTerms(nodeClass.Spec.NetworkSelectorTerms), quoteJoin(missing)))
		return nil
	}
	conds.SetTrue(v1.ConditionTypeNetworksReady)
	return nil
}
