package instance

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
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
	// A zone may have one template per architecture; the candidate boots from the one of its instance type's.
	templates := map[string]v1.Template{}
	for _, t := range nodeClass.Status.Templates {
		key := t.ZoneID + "/" + template.Architecture(t.Architecture)
		if _, ok := templates[key]; !ok {
			templates[key] = t
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
		cpu, errCPU := strconv.Atoi(it.Requirements.Get(v1.LabelInstanceCPU).Any())
		mem, errMem := strconv.Atoi(it.Requirements.Get(v1.LabelInstanceMemory).Any())
		if errCPU != nil || errMem != nil {
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
			// Same-named offerings limited to different zones share an instance type; each offering names its own.
			offeringID := offeringRequirement(o.Requirements, it.Requirements, v1.LabelServiceOfferingID)
			arch := offeringRequirement(o.Requirements, it.Requirements, corev1.LabelArchStable)
			if offeringID == "" || !reqs.Get(corev1.LabelArchStable).Has(arch) {
				continue
			}
			tmpl, hasTemplate := templates[zone.ID+"/"+arch]
			if !hasTemplate || len(networks[zone.ID]) == 0 {
				continue
			}
			out = append(out, candidate{instanceType: it, price: o.Price, zone: zone, template: tmpl,
				networkIDs: networks[zone.ID], offeringID: offeringID, cpu: cpu, memoryMiB: mem})
		}
	}
	return sortCandidates(out)
}

// offeringRequirement is the offering's value of a label when it pins one, else the instance type's.
func offeringRequirement(offering, instanceType scheduling.Requirements, key string) string {
	if offering.Has(key) {
		return offering.Get(key).Any()
	}
	return instanceType.Get(key).Any()
}

func sortCandidates(out []candidate) []candidate {
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
