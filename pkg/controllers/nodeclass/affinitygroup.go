package nodeclass

import (
	"context"
	"fmt"
	"strings"

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
	resolved, err := a.provider.Resolve(ctx, terms)
	if err != nil {
		return fmt.Errorf("resolving affinity groups, %w", err)
	}
	var unmatched []string
	for i, term := range terms {
		found, err := a.provider.Resolve(ctx, []v1.SelectorTerm{term})
		if err != nil {
			return fmt.Errorf("resolving affinity groups, %w", err)
		}
		if len(found) == 0 {
			unmatched = append(unmatched, fmt.Sprintf("[%d] (%s)", i, describeTerm(term)))
		}
	}
	if len(unmatched) > 0 {
		nodeClass.Status.AffinityGroups = nil
		conds.SetFalse(v1.ConditionTypeAffinityGroupsReady, ReasonAffinityGroupsNotFound,
			fmt.Sprintf("spec.affinityGroupSelectorTerms: no affinity group matches term(s) %s", strings.Join(unmatched, ", ")))
		return nil
	}
	nodeClass.Status.AffinityGroups = resolved
	conds.SetTrue(v1.ConditionTypeAffinityGroupsReady)
	return nil
}

// describeTerms renders selector terms for condition messages, so a message names what the user asked for.
func describeTerms(terms []v1.SelectorTerm) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		parts = append(parts, "("+describeTerm(t)+")")
	}
	return strings.Join(parts, " or ")
}

func describeTerm(t v1.SelectorTerm) string {
	var parts []string
	if t.ID != "" {
		parts = append(parts, fmt.Sprintf("id=%q", t.ID))
	}
	if t.Name != "" {
		parts = append(parts, fmt.Sprintf("name=%q", t.Name))
	}
	if len(t.Tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags=%v", t.Tags))
	}
	return strings.Join(parts, " ")
}
