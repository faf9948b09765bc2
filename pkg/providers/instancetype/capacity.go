package instancetype

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

// ResourceNvidiaGPU is the extended resource the NVIDIA device plugin advertises for GPU offerings.
const ResourceNvidiaGPU corev1.ResourceName = "nvidia.com/gpu"

// DefaultMaxPods is the pod capacity when spec.kubelet.maxPods is unset (kubelet.DefaultMaxPods).
const DefaultMaxPods = kubelet.DefaultMaxPods

// DefaultEphemeralStorage is the ephemeral-storage capacity when neither spec.rootDiskSize, nor the offering's
// rootdisksize, nor the size of any of the NodeClass's templates says how big the root disk is (servers that report
// no template size): 20 GiB is the smallest root disk the common CloudStack Kubernetes templates ship with.
var DefaultEphemeralStorage = resource.MustParse("20Gi")

// DefaultVMMemoryOverheadPercent is the share of an offering's memory the guest does not see: the kernel's own
// reservations (crashkernel, page structures, firmware) make a KVM or VMware guest's MemTotal 2-5% smaller than the
// offering. The kubelet's memory capacity is MemTotal, so the prediction must leave it out; overestimating is
// harmless (Karpenter picks a slightly larger offering), underestimating is not (pods do not fit on the node
// launched for them). The operator sets it with --vm-memory-overhead-percent.
const DefaultVMMemoryOverheadPercent = 5.0

// capacity is the full resource list of a VM of the given shape, memory as the guest sees it.
func capacity(cpu, memoryMiB, gpus int, maxPods int32, ephemeral resource.Quantity, memoryOverheadPercent float64) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(cpu), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(GuestMemoryMiB(memoryMiB, memoryOverheadPercent)*1024*1024, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: ephemeral,
	}
	if gpus > 0 {
		rl[ResourceNvidiaGPU] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
	}
	return rl
}

// GuestMemoryMiB is the memory the guest of an offering is predicted to see, rounded down to a MiB.
func GuestMemoryMiB(memoryMiB int, overheadPercent float64) int64 {
	return int64(math.Floor(float64(memoryMiB) * (1 - overheadPercent/100)))
}

// overhead is what the kubelet subtracts from capacity: exactly the settings the bootstrap renders into the node's
// kubelet flags (kubelet.For), so prediction and node agree.
func overhead(capacity corev1.ResourceList, settings kubelet.Settings) *cloudprovider.InstanceTypeOverhead {
	kubeReserved, systemReserved, eviction := settings.Overhead(capacity)
	return &cloudprovider.InstanceTypeOverhead{KubeReserved: kubeReserved, SystemReserved: systemReserved, EvictionThreshold: eviction}
}

// settingsFor is the kubelet configuration of a node of that size under the NodeClass.
func settingsFor(s size, nc *v1.CloudStackNodeClass) kubelet.Settings {
	return kubelet.For(kubelet.Shape{CPU: s.cpu, MemoryMiB: s.memoryMiB}, nc.Spec.Kubelet)
}

// Shape is the size of a VM the spec launches, as the kubelet reservations see it.
func (s LaunchSpec) Shape() kubelet.Shape { return kubelet.Shape{CPU: s.CPU, MemoryMiB: s.MemoryMiB} }
