package instancetype

import (
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

func (p *DefaultProvider) newInstanceType(o *csgo.ServiceOffering, s size, zones []zoneInfo, tags map[string]string,
	maxPods int64, ephemeral resource.Quantity, kubelet *v1.KubeletConfiguration) *cloudprovider.InstanceType {
	gpus := o.Gpucount
	capacity := capacity(s.cpu, s.memoryMiB, gpus, maxPods, ephemeral)
	price := p.price(o, s, gpus, tags)

	archs := map[string]bool{}
	zoneNames := make([]string, 0, len(zones))
	zoneIDs := make([]string, 0, len(zones))
	for _, z := range zones {
		archs[z.arch] = true
		zoneNames = append(zoneNames, v1.ZoneLabelValue(z.Name))
		zoneIDs = append(zoneIDs, z.ID)
	}
	// When the zones' templates differ in architecture each offering pins its zone's arch, so a NodeClaim that asks
	// for one arch only lands in zones whose template runs it.
	mixedArch := len(archs) > 1
	offerings := make(cloudprovider.Offerings, 0, len(zones))
	for _, z := range zones {
		reqs := scheduling.NewRequirements(
			scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeOnDemand),
			scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, v1.ZoneLabelValue(z.Name)),
			scheduling.NewRequirement(v1.LabelZoneID, corev1.NodeSelectorOpIn, z.ID),
		)
		if mixedArch {
			reqs.Add(scheduling.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, z.arch))
		}
		offerings = append(offerings, &cloudprovider.Offering{
			Requirements: reqs,
			Price:        price,
			Available:    !p.unavailable.IsUnavailable(s.name, z.Name),
		})
	}
	archList := make([]string, 0, len(archs))
	for a := range archs {
		archList = append(archList, a)
	}
	return &cloudprovider.InstanceType{
		Name:         s.name,
		Requirements: requirements(o, s, archList, zoneNames, zoneIDs),
		Offerings:    offerings,
		Capacity:     capacity,
		Overhead:     overhead(capacity, maxPods, kubelet),
	}
}

// requirements define every well-known label: the standard ones Karpenter needs and the provider labels, the latter
// with DoesNotExist when the offering has no such property so NodePools can select on their absence.
func requirements(o *csgo.ServiceOffering, s size, archs, zoneNames, zoneIDs []string) scheduling.Requirements {
	reqs := scheduling.NewRequirements(
		scheduling.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, s.name),
		scheduling.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, archs...),
		scheduling.NewRequirement(corev1.LabelOSStable, corev1.NodeSelectorOpIn, string(corev1.Linux)),
		scheduling.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, zoneNames...),
		scheduling.NewRequirement(v1.LabelZoneID, corev1.NodeSelectorOpIn, zoneIDs...),
		scheduling.NewRequirement(karpv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, karpv1.CapacityTypeOnDemand),
		scheduling.NewRequirement(v1.LabelServiceOfferingID, corev1.NodeSelectorOpIn, o.Id),
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
