package nodeclass

import (
	"context"
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// Reasons of SecurityGroupsReady=False.
const (
	ReasonSecurityGroupsNotFound          = "SecurityGroupsNotFound"
	ReasonSecurityGroupsUnsupportedInZone = "SecurityGroupsUnsupportedInZone"
)

type securityGroups struct {
	provider securitygroup.Provider
	zones    zone.Provider
}

// reconcile requires every term to match, as for affinity groups: a VM launched without a group the user named would
// silently lack the firewall rules they asked for. It also requires every selected zone to have security groups
// enabled: CloudStack refuses securitygroupids in any other zone (431 "Can't create VM with security groups; security
// group feature is not enabled for zone Z"), so such a NodeClass could launch nowhere there.
func (s *securityGroups) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	terms := nodeClass.Spec.SecurityGroupSelectorTerms
	if len(terms) == 0 {
		nodeClass.Status.SecurityGroups = nil
		conds.SetTrueWithReason(v1.ConditionTypeSecurityGroupsReady, ReasonNotConfigured, "spec.securityGroupSelectorTerms is not set")
		return nil
	}
	if len(nodeClass.Status.Zones) == 0 {
		nodeClass.Status.SecurityGroups = nil
		awaitingZones(conds, v1.ConditionTypeSecurityGroupsReady, "spec.securityGroupSelectorTerms")
		return nil
	}
	resolved, unmatched, err := resolveEveryTerm(ctx, terms, s.provider.Resolve)
	if err != nil {
		return fmt.Errorf("resolving security groups, %w", err)
	}
	if unmatched != "" {
		nodeClass.Status.SecurityGroups = nil
		conds.SetFalse(v1.ConditionTypeSecurityGroupsReady, ReasonSecurityGroupsNotFound,
			"spec.securityGroupSelectorTerms: no security group of the account matches term(s) "+unmatched)
		return nil
	}
	all, err := s.zones.List(ctx)
	if err != nil {
		return fmt.Errorf("listing zones, %w", err)
	}
	var without []string
	for _, z := range nodeClass.Status.Zones {
		if cz, ok := lo.Find(all, func(cz *csgo.Zone) bool { return cz.Id == z.ID }); ok && !cz.Securitygroupsenabled {
			without = append(without, z.Name)
		}
	}
	if len(without) > 0 {
		nodeClass.Status.SecurityGroups = nil
		conds.SetFalse(v1.ConditionTypeSecurityGroupsReady, ReasonSecurityGroupsUnsupportedInZone,
			fmt.Sprintf("spec.securityGroupSelectorTerms: zone(s) %s have security groups disabled, and CloudStack refuses securitygroupids there; "+
				"select only security-group zones in this NodeClass, or remove the terms", quoteJoin(without)))
		return nil
	}
	nodeClass.Status.SecurityGroups = resolved
	conds.SetTrue(v1.ConditionTypeSecurityGroupsReady)
	return nil
}
