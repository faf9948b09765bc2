package instance

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

// candidate is one (instance type, zone) a NodeClaim may launch as, with everything deploy needs.
type candidate struct {
	instanceType *cloudprovider.InstanceType
	price        float64
	zone         v1.Zone
	template     v1.Template
	networkIDs   []string
	offeringID   string
	// details size a VM of a customized offering to shape.
	details map[string]string
	shape   kubelet.Shape
}

// candidates are the launchable (instance type, zone) pairs compatible with the NodeClaim's requirements, cheapest
// first, ties broken by name and zone so repeated Creates try the same order. Where an instance type can launch, and
// with which offering, template and networks, is its launch spec (instancetype.LaunchSpecs); an offering qualifies
// only when neither the instance type's own availability nor the unavailable-offerings cache rules it out (the cache
// may have learned of a capacity failure since the instance types were computed).
func (p *DefaultProvider) candidates(nodeClaim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, specs instancetype.LaunchSpecs) []candidate {
	reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(nodeClaim.Spec.Requirements...)
	var out []candidate
	for _, it := range instanceTypes {
		if reqs.Compatible(it.Requirements, scheduling.AllowUndefinedWellKnownLabels) != nil {
			continue
		}
		for _, o := range it.Offerings {
			if !o.Launchable() || o.CapacityType() != karpv1.CapacityTypeOnDemand ||
				!reqs.IsCompatible(o.Requirements, scheduling.AllowUndefinedWellKnownLabels) {
				continue
			}
			for _, s := range specs.For(it.Name, o.Zone()) {
				// An offering of a NodeClass with templates of several architectures pins one; the NodeClaim may ask for one.
				if !archOf(o, it).Has(s.Arch) || !reqs.Get(corev1.LabelArchStable).Has(s.Arch) || p.unavailable.IsUnavailable(it.Name, s.Zone.Name) {
					continue
				}
				out = append(out, candidate{instanceType: it, price: o.Price, zone: s.Zone, template: s.Template,
					networkIDs: s.NetworkIDs, offeringID: s.OfferingID, details: s.Details, shape: s.Shape()})
			}
		}
	}
	return sortCandidates(out)
}

// archOf is the architecture requirement of the offering when it pins one, else the instance type's.
func archOf(o *cloudprovider.Offering, it *cloudprovider.InstanceType) *scheduling.Requirement {
	if o.Requirements.Has(corev1.LabelArchStable) {
		return o.Requirements.Get(corev1.LabelArchStable)
	}
	return it.Requirements.Get(corev1.LabelArchStable)
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
