package nodeclass

import (
	"context"
	"fmt"
	"strings"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// Reasons of ZonesReady=False.
const (
	ReasonZoneNotFound  = "ZoneNotFound"
	ReasonZoneDisabled  = "ZoneDisabled"
	ReasonZonesNotFound = "ZonesNotFound"
)

type zones struct{ provider zone.Provider }

func (z *zones) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	resolved, err := z.provider.Resolve(ctx, nodeClass)
	if err != nil {
		return fmt.Errorf("resolving zones, %w", err)
	}
	nodeClass.Status.Zones = resolved
	if len(resolved) > 0 {
		conds.SetTrue(v1.ConditionTypeZonesReady)
		return nil
	}
	if nodeClass.Spec.Zone == "" {
		conds.SetFalse(v1.ConditionTypeZonesReady, ReasonZonesNotFound,
			"spec.zoneSelectorTerms: no Enabled zone matches any term")
		return nil
	}
	// Resolve only says "nothing"; the full listing tells a typo from a zone an administrator disabled.
	all, err := z.provider.List(ctx)
	if err != nil {
		return fmt.Errorf("listing zones, %w", err)
	}
	for _, cz := range all {
		if strings.EqualFold(cz.Id, nodeClass.Spec.Zone) || cz.Name == nodeClass.Spec.Zone {
			conds.SetFalse(v1.ConditionTypeZonesReady, ReasonZoneDisabled,
				fmt.Sprintf("spec.zone: zone %q is %s; only Enabled zones accept new VMs", cz.Name, cz.Allocationstate))
			return nil
		}
	}
	// CloudStack hides disabled zones from non-admin accounts, so for them "disabled" also ends up here.
	conds.SetFalse(v1.ConditionTypeZonesReady, ReasonZoneNotFound,
		fmt.Sprintf("spec.zone: no zone with name or ID %q is visible to the account (CloudStack hides disabled zones from non-admin accounts)", nodeClass.Spec.Zone))
	return nil
}

// quoteJoin renders names as "a", "b" for messages.
func quoteJoin(names []string) string {
	q := make([]string, 0, len(names))
	for _, n := range names {
		q = append(q, fmt.Sprintf("%q", n))
	}
	return strings.Join(q, ", ")
}

// awaitingZones marks a per-zone dependency as undecidable until zones resolve; Ready is already False through
// ZonesReady, and the dependency's own resolved list is cleared so that nothing launches from stale state.
func awaitingZones(conds status.ConditionSet, conditionType, field string) {
	conds.SetUnknownWithReason(conditionType, "AwaitingZones",
		fmt.Sprintf("%s: resolved once spec.zone or spec.zoneSelectorTerms resolve (see ZonesReady)", field))
}
