package instance

import (
	"sort"
	"strconv"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// candidate is one (instance type, zone) a NodeClaim may launch as, with everything deploy needs.
type candidate struct {
	instanceType *cloudprovider.InstanceType
	price        float64
	zone         v1.Zone
	template     v1.Template
	networkIDs   []string
	offeringID   string
	cpu          int
	memoryMiB    int
}

// candidates are the launchable (instance type, zone) pairs compatible with the NodeClaim's requirements, cheapest
// first, ties broken by name and zone so repeated Creates try the same order. A zone qualifies only when the NodeClass
// resolved a template and a network in it; an offering only when neither the instance type's own availability nor
// the unavailable-offerings cache rules it out (the cache may have learned of a capacity failure since the instance
// types were computed).
func (p *DefaultProvider) candidates(nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType) []candidate {
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(nodeClaim.Spec.Requirements...)
	// Offerings name their zone by its label value (v1.ZoneLabelValue), not by the CloudStack name.
	zones := map[string]v1.Zone{}
	for _, z := range nodeClass.Status.Zones {
		zones[v1.ZoneLabelValue(z.Name)] = z
	}
	templates := map[string]v1.Template{}
	for _, t := range nodeClass.Status.Templates {
		if _, ok := templates[t.ZoneID]; !ok {
			templates[t.ZoneID] = t
		}
	}
	networks := map[string][]string{}
	for _, n := range nodeClass.Status.Networks {
		networks[n.ZoneID] = append(networks[n.ZoneID], n.ID)
	}
	var out []candidate
	for _, it := range instanceTypes {
		if reqs.Compatible(it.Requirements, scheduling.AllowUndefinedWellKnownLabels) != nil {
			continue
		}
		offeringID := it.Requirements.Get(v1.LabelServiceOfferingID).Any()
		cpu, errCPU := strconv.Atoi(it.Requirements.Get(v1.LabelInstanceCPU).Any())
		mem, errMem := strconv.Atoi(it.Requirements.Get(v1.LabelInstanceMemory).Any())
		if offeringID == "" || errCPU != nil || errMem != nil {
			continue
		}
		for _, o := range it.Offerings {
			if !o.Launchable() || o.CapacityType() != karpv1.CapacityTypeOnDemand ||
				!reqs.IsCompatible(o.Requirements, scheduling.AllowUndefinedWellKnownLabels) {
				continue
			}
			zone, ok := zones[o.Zone()]
			if !ok || p.unavailable.IsUnavailable(it.Name, zone.Name) {
				continue
			}
			tmpl, hasTemplate := templates[zone.ID]
			if !hasTemplate || len(networks[zone.ID]) == 0 {
				continue
			}
			out = append(out, candidate{instanceType: it, price: o.Price, zone: zone, template: tmpl,
				networkIDs: networks[zone.ID], offeringID: offeringID, cpu: cpu, memoryMiB: mem})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].price != out[j].price {
			return out[i].price < out[j].price
		}
		if out[i].instanceType.Name != out[j].instanceType.Name {
			return out[i].instanceType.Name < out[j].instanceType.Name
		}
		return out[i].zone.Name < out[j].zone.Name
	})
	return out
}
