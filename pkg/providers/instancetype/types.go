package instancetype

import (
	"slices"
	"strconv"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// defaultArch is assumed for a template that reports no architecture: CloudStack before 4.20 has no arch field and
// only ran x86_64 hypervisors.
const defaultArch = karpv1.ArchitectureAmd64

func (p *DefaultProvider) newInstanceType(nc *v1.CloudStackNodeClass, g *group, tags map[string]map[string]string,
	ephemeral resource.Quantity) *cloudprovider.InstanceType {
	s := g.size
	settings := settingsFor(s, nc)
	capacity := capacity(s.cpu, s.memoryMiB, g.gpus, settings.MaxPods, ephemeral, p.memoryOverheadPercent)

	var archs, zoneNames, zoneIDs, offeringIDs []string
	for _, m := range g.members {
		offeringIDs = append(offeringIDs, m.offering.Id)
		for _, z := range m.zones {
			zoneNames = append(zoneNames, v1.ZoneLabelValue(z.Name))
			zoneIDs = append(zoneIDs, z.ID)
			for _, a := range z.archs {
				if !slices.Contains(archs, a) {
					archs = append(archs, a)
				}
			}
		}
	}
	// Each offering pins its architecture when the NodeClass serves several, so a NodeClaim that asks for one
	// architecture only launches where a template of it exists, and the template is chosen by the offering's arch.
	mixedArch := len(archs) > 1
	offerings := make(cloudprovider.Offerings, 0, len(zoneIDs))
	for _, m := range g.members {
		price := p.price(m.offering, s, g.gpus, tags[m.offering.Id])
		for _, z := range m.zones {
			for _, a := range z.archs {
				reqs := scheduling.NewRequirements(
					scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeOnDemand),
					scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, v1.ZoneLabelValue(z.Name)),
					scheduling.NewRequirement(v1.LabelZoneID, corev1.NodeSelectorOpIn, z.ID),
					scheduling.NewRequirement(v1.LabelServiceOfferingID, corev1.NodeSelectorOpIn, m.offering.Id),
				)
				if mixedArch {
					reqs.Add(scheduling.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, a))
				}
				offerings = append(offerings, &cloudprovider.Offering{
					Requirements: reqs,
					Price:        price,
					Available:    !p.unavailable.IsUnavailable(s.name, z.Name),
				})
			}
		}
	}
	return &cloudprovider.InstanceType{
		Name:         s.name,
		Requirements: requirements(g.members[0].offering, s, archs, zoneNames, zoneIDs, offeringIDs),
		Offerings:    offerings,
		Capacity:     capacity,
		Overhead:     overhead(capacity, settings),
	}
}

// requirements define every well-known label: the standard ones Karpenter needs and the provider labels, the latter
// with DoesNotExist when the offering has no such property so NodePools can select on their absence.
func requirements(o *csgo.ServiceOffering, s size, archs, zoneNames, zoneIDs, offeringIDs []string) scheduling.Requirements {
	reqs := scheduling.NewRequirements(
		scheduling.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, s.name),
		scheduling.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, archs...),
		scheduling.NewRequirement(corev1.LabelOSStable, corev1.NodeSelectorOpIn, string(corev1.Linux)),
		scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, zoneNames...),
		scheduling.NewRequirement(v1.LabelZoneID, corev1.NodeSelectorOpIn, zoneIDs...),
		scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeOnDemand),
		scheduling.NewRequirement(v1.LabelServiceOfferingID, corev1.NodeSelectorOpIn, offeringIDs...),
		scheduling.NewRequirement(v1.LabelInstanceCPU, corev1.NodeSelectorOpIn, strconv.Itoa(s.cpu)),
		scheduling.NewRequirement(v1.LabelInstanceMemory, corev1.NodeSelectorOpIn, strconv.Itoa(s.memoryMiB)),
		optional(v1.LabelInstanceGPUName, gpuName(o)),
		optional(v1.LabelInstanceGPUCount, lo.Ternary(o.Gpucount > 0, strconv.Itoa(o.Gpucount), "")),
		optional(v1.LabelInstanceHostTag, SanitizeName(o.Hosttags)),
		optional(v1.LabelInstanceStorageType, SanitizeName(o.Storagetype)),
	)
	return reqs
}

func optional(key, value string) *scheduling.Requirement {
	if value == "" {
		return scheduling.NewRequirement(key, corev1.NodeSelectorOpDoesNotExist)
	}
	return scheduling.NewRequirement(key, corev1.NodeSelectorOpIn, value)
}

// gpuName prefers the vGPU profile (what the VM actually sees) over the physical card.
func gpuName(o *csgo.ServiceOffering) string {
	if o.Gpucount <= 0 && o.Vgpuprofilename == "" && o.Gpucardname == "" {
		return ""
	}
	if o.Vgpuprofilename != "" {
		return SanitizeName(o.Vgpuprofilename)
	}
	return SanitizeName(o.Gpucardname)
}
