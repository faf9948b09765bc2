package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// Reasons of ServiceOfferingsReady=False.
const (
	ReasonServiceOfferingsNotFound = "ServiceOfferingsNotFound"
	// ReasonKubeletReservationsExceedOfferings is spec.kubelet reserving at least all the CPU or memory of every
	// selected offering: no pod could ever be scheduled on a node, and core's only sign would be "requirements
	// filtered out all available instance types" on each pending pod.
	ReasonKubeletReservationsExceedOfferings = "KubeletReservationsExceedOfferings"
)

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
	if nodeClass.Spec.Kubelet != nil {
		its, err := s.provider.List(ctx, nodeClass)
		if err != nil {
			return fmt.Errorf("listing instance types, %w", err)
		}
		if msg := reservationsExceedAll(its); msg != "" {
			conds.SetFalse(v1.ConditionTypeServiceOfferingsReady, ReasonKubeletReservationsExceedOfferings, msg)
			return nil
		}
	}
	conds.SetTrue(v1.ConditionTypeServiceOfferingsReady)
	return nil
}

// reservationsExceedAll says why no instance type has CPU and memory left once spec.kubelet's reservations and
// eviction thresholds are taken off, naming the largest one; "" when one has, or when there are none to judge (a
// zone without template or network, reported by its own condition).
func reservationsExceedAll(its []*cloudprovider.InstanceType) string {
	if len(its) == 0 {
		return ""
	}
	var largest *cloudprovider.InstanceType
	for _, it := range its {
		alloc := it.Allocatable()
		if alloc.Cpu().Sign() > 0 && alloc.Memory().Sign() > 0 {
			return ""
		}
		if largest == nil || it.Capacity.Memory().Cmp(*largest.Capacity.Memory()) > 0 ||
			(it.Capacity.Memory().Cmp(*largest.Capacity.Memory()) == 0 && it.Capacity.Cpu().Cmp(*largest.Capacity.Cpu()) > 0) {
			largest = it
		}
	}
	overhead := largest.Overhead.Total()
	return fmt.Sprintf("spec.kubelet: kubeReserved, systemReserved and evictionHard leave no CPU or memory to pods on any of "+
		"the %d instance types of the selected service offerings; the largest, %q, has cpu=%s memory=%s and would reserve "+
		"cpu=%s memory=%s; lower the reservations or select larger offerings",
		len(its), largest.Name, largest.Capacity.Cpu(), largest.Capacity.Memory(), overhead.Cpu(), overhead.Memory())
}
