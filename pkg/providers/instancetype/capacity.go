package instancetype

import (
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// ResourceNvidiaGPU is the extended resource the NVIDIA device plugin advertises for GPU offerings.
const ResourceNvidiaGPU corev1.ResourceName = "nvidia.com/gpu"

// DefaultMaxPods is the pod capacity when spec.kubelet.maxPods is unset: the kubelet's own --max-pods default, which
// the node's kubelet uses unless the userData changes it (CloudStack networks do not limit pods per VM the way ENIs do).
const DefaultMaxPods = 110

// DefaultEphemeralStorage is the ephemeral-storage capacity when neither spec.rootDiskSize nor the offering's
// rootdisksize says how big the root disk is; the template's size is unknown until the VM exists, and 20 GiB is the
// smallest root disk the common CloudStack Kubernetes templates ship with, so scheduling never over-commits.
var DefaultEphemeralStorage = resource.MustParse("20Gi")

// Defaults of the overhead formulas, in the spirit of the AWS provider's: they approximate what the kubelet,
// container runtime and OS need on a node of the given size when spec.kubelet does not say.
var (
	// kubeReservedMemoryBase and kubeReservedMemoryPerPod: 255Mi + 11Mi per pod.
	kubeReservedMemoryBase   = resource.MustParse("255Mi")
	kubeReservedMemoryPerPod = resource.MustParse("11Mi")
	// kubeReservedEphemeralStorage keeps room for logs and images of system daemons.
	kubeReservedEphemeralStorage = resource.MustParse("1Gi")
	// evictionMemoryAvailable and evictionNodefsPercent are the kubelet's own hard-eviction defaults.
	evictionMemoryAvailable = resource.MustParse("100Mi")
)

const evictionNodefsPercent = 10.0

// kubeReservedCPUTiers reserve 6% of the first core, 1% of the second, 0.5% of the third and fourth and 0.25% of every
// further core (in millicores), as the AWS provider and GKE do.
var kubeReservedCPUTiers = []struct {
	cores   int
	percent float64
}{{1, 6}, {1, 1}, {2, 0.5}, {math.MaxInt32, 0.25}}

// capacity is the full resource list of a VM of the given shape.
func capacity(cpu, memoryMiB, gpus int, maxPods int64, ephemeral resource.Quantity) corev1.ResourceList {
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(cpu), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(int64(memoryMiB)*1024*1024, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: ephemeral,
	}
	if gpus > 0 {
		rl[ResourceNvidiaGPU] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
	}
	return rl
}

// overhead is what the kubelet subtracts from capacity: spec.kubelet's kubeReserved, systemReserved and evictionHard
// when set (key by key, over the defaults), else the default formulas above.
func overhead(capacity corev1.ResourceList, maxPods int64, kubelet *v1.KubeletConfiguration) *cloudprovider.InstanceTypeOverhead {
	cpu := capacity.Cpu().Value()
	var cpuMilli int64
	remaining := cpu
	for _, tier := range kubeReservedCPUTiers {
		n := min(remaining, int64(tier.cores))
		cpuMilli += int64(float64(n) * 1000 * tier.percent / 100)
		remaining -= n
		if remaining <= 0 {
			break
		}
	}
	mem := kubeReservedMemoryPerPod.DeepCopy()
	mem.Set(mem.Value() * maxPods)
	mem.Add(kubeReservedMemoryBase)

	kubeReserved := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI),
		corev1.ResourceMemory:           mem,
		corev1.ResourceEphemeralStorage: kubeReservedEphemeralStorage.DeepCopy(),
	}
	systemReserved := corev1.ResourceList{}
	eviction := corev1.ResourceList{
		corev1.ResourceMemory:           evictionMemoryAvailable.DeepCopy(),
		corev1.ResourceEphemeralStorage: percentOf(capacity[corev1.ResourceEphemeralStorage], evictionNodefsPercent),
	}
	if kubelet != nil {
		overrideReserved(kubeReserved, kubelet.KubeReserved)
		overrideReserved(systemReserved, kubelet.SystemReserved)
		overrideEviction(eviction, capacity, kubelet.EvictionHard)
	}
	return &cloudprovider.InstanceTypeOverhead{KubeReserved: kubeReserved, SystemReserved: systemReserved, EvictionThreshold: eviction}
}

// overrideReserved applies the resource keys the kubelet understands; "pid" is not a schedulable resource and values
// that do not parse are left at the default (CEL validation rejects them before they get here).
func overrideReserved(dst corev1.ResourceList, src map[string]string) {
	for k, v := range src {
		name := corev1.ResourceName(k)
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
			continue
		}
		if q, err := resource.ParseQuantity(v); err == nil {
			dst[name] = q
		}
	}
}

// overrideEviction maps kubelet eviction signals to the resource they protect; percentages are of that resource's
// capacity. Image filesystem and inode signals do not reduce allocatable and are ignored.
func overrideEviction(dst, capacity corev1.ResourceList, src map[string]string) {
	for signal, v := range src {
		var name corev1.ResourceName
		switch signal {
		case "memory.available":
			name = corev1.ResourceMemory
		case "nodefs.available":
			name = corev1.ResourceEphemeralStorage
		default:
			continue
		}
		if p, ok := strings.CutSuffix(v, "%"); ok {
			if q, err := resource.ParseQuantity(p); err == nil {
				dst[name] = percentOf(capacity[name], q.AsApproximateFloat64())
			}
			continue
		}
		if q, err := resource.ParseQuantity(v); err == nil {
			dst[name] = q
		}
	}
}

func percentOf(q resource.Quantity, percent float64) resource.Quantity {
	return *resource.NewQuantity(int64(math.Ceil(float64(q.Value())*percent/100)), q.Format)
}
