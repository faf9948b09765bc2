package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
)

// ReasonAffinityGroupsNotFound is the reason of AffinityGroupsReady=False.
const ReasonAffinityGroupsNotFound = "AffinityGroupsNotFound"

type affinityGroups struct{ provider affinitygroup.Provider }

// reconcile requires every term to match: affinity groups are named one by one, so a term that matches nothing is
// a typo or a deleted group, and launching without it would silently drop the placement rule the user asked for.
func (a *affinityGroups) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	terms := nodeClass.Spec.AffinityGroupSelectorTerms
	if len(terms) == 0 {
		nodeClass.Status.AffinityGroups = nil
		conds.SetTrueWithReason(v1.ConditionTypeAffinityGroupsReady, ReasonNotConfigured, "spec.affinityGroupSelectorTerms is not set")
		return nil
	}
	resolved, unmatched, err := resolveEveryTerm(ctx, terms, a.provider.Resolve)
	if err != nil {
		return fmt.Errorf("resolving affinity groups, %w", err)
	}
	if unmatched != "" {
		nodeClass.Status.AffinityGroups = nil
		conds.SetFalse(v1.ConditionTypeAffinityGroupsReady, ReasonAffinityGroupsNotFound,
			"spec.affinityGroupSelectorTerms: no affinity group matches term(s) "+unmatched)
		return nil
	}
	nodeClass.Status.AffinityGroups = resolved
	conds.SetTrue(v1.ConditionTypeAffinityGroupsReady)
	return nil
}
