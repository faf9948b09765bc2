package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// ReasonServiceOfferingsNotFound is the reason of ServiceOfferingsReady=False.
const ReasonServiceOfferingsNotFound = "ServiceOfferingsNotFound"

type serviceOfferings struct{ provider instancetype.Provider }

func (s *serviceOfferings) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if len(nodeClass.Status.Zones) == 0 {
		nodeClass.Status.ServiceOfferings = nil
		awaitingZones(conds, v1.ConditionTypeServiceOfferingsReady, "spec.serviceOfferingSelectorTerms")
		return nil
	}
	zoneIDs := lo.Map(nodeClass.Status.Zones, func(z v1.Zone, _ int) string { return z.ID })
	resolved, err := s.provider.ResolveServiceOfferings(ctx, nodeClass.Spec.ServiceOfferingSelectorTerms, zoneIDs)
	if err != nil {
		return fmt.Errorf("resolving service offerings, %w", err)
	}
	nodeClass.Status.ServiceOfferings = resolved
	if len(resolved) == 0 {
		names := lo.Map(nodeClass.Status.Zones, func(z v1.Zone, _ int) string { return z.Name })
		conds.SetFalse(v1.ConditionTypeServiceOfferingsReady, ReasonServiceOfferingsNotFound,
			fmt.Sprintf("spec.serviceOfferingSelectorTerms: no active, non-system service offering matches %s in zone(s) %s", describeTerms(nodeClass.Spec.ServiceOfferingSelectorTerms), quoteJoin(names)))
		return nil
	}
	conds.SetTrue(v1.ConditionTypeServiceOfferingsReady)
	return nil
}
