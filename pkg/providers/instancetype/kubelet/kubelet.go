package kubelet

import (
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// DefaultMaxPods is the kubelet's own --max-pods default, used when spec.kubelet.maxPods is unset. GKE keeps 110
// on every machine size; CloudStack networks do not cap pods per VM the way AWS ENIs do, and the memory reservation
// below does not grow with it, so small offerings stay usable.
const DefaultMaxPods int32 = 110

// Shape is what the reservations depend on: the size of the offering, not what the guest sees after the hypervisor's
// overhead, which the provider can only estimate while the numbers rendered into userData must be exact.
type Shape struct {
	CPU       int
	MemoryMiB int
}

// Settings are the effective kubelet settings of a node: spec.kubelet's values key by key over the defaults.
type Settings struct {
	// MaxPods is --max-pods.
	MaxPods int32
	// KubeReserved is --kube-reserved: resource name -> quantity as written.
	KubeReserved map[string]string
	// SystemReserved is --system-reserved; empty unless spec.kubelet.systemReserved sets it.
	SystemReserved map[string]string
	// EvictionHard is --eviction-hard: signal -> threshold (a quantity or a percentage). It always holds every
	// signal, so the kubelet's behaviour does not depend on whether it merges defaults into a partial map.
	EvictionHard map[string]string
}

// defaultEvictionHard are the kubelet's Linux hard-eviction defaults (pkg/kubelet/eviction/defaults_linux.go).
var defaultEvictionHard = map[string]string{
	"memory.available":   "100Mi",
	"nodefs.available":   "10%",
	"nodefs.inodesFree":  "5%",
	"imagefs.available":  "15%",
	"imagefs.inodesFree": "5%",
}

// kubeReservedEphemeralStorage keeps room for the logs and images of system daemons.
const kubeReservedEphemeralStorage = "1Gi"

// cpuTiers reserve 6% of the first core, 1% of the second, 0.5% of the third and fourth and 0.25% of every further
// core, as GKE, AKS and the AWS provider do.
var cpuTiers = []tier{{1, 6}, {1, 1}, {2, 0.5}, {math.MaxInt32, 0.25}}

// tier reserves percent of the next size units (cores or MiB).
type tier struct {
	size    int
	percent float64
}

// tiered sums each tier's percentage of the part of amount that falls into it.
func tiered(amount int, tiers []tier) float64 {
	var out float64
	for _, t := range tiers {
		if amount <= 0 {
			break
		}
		n := min(amount, t.size)
		out += float64(n) * t.percent / 100
		amount -= n
	}
	return out
}

// memoryTiers reserve 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and 2% of
// the rest, GKE's (and AKS's before 1.29) formula: it does not depend on maxPods, so a 1 GiB offering keeps most of its
// memory while a 1 TiB one reserves about 27 GiB. The AWS provider's 255Mi + 11Mi x maxPods would reserve 1.4 GiB with
// 110 pods, more than a 1 GiB node has.
var memoryTiers = []tier{{4 * 1024, 25}, {4 * 1024, 20}, {8 * 1024, 10}, {112 * 1024, 6}, {math.MaxInt32, 2}}

// minKubeReservedMemoryMiB is GKE's floor for machines under 1 GiB.
const minKubeReservedMemoryMiB = 255

// For returns the kubelet settings of a node of that shape under spec.kubelet (nil for none).
func For(shape Shape, k *v1.KubeletConfiguration) Settings {
	s := Settings{
		MaxPods: DefaultMaxPods,
		KubeReserved: map[string]string{
			string(corev1.ResourceCPU):              fmt.Sprintf("%dm", ReservedCPUMillis(shape.CPU)),
			string(corev1.ResourceMemory):           fmt.Sprintf("%dMi", ReservedMemoryMiB(shape.MemoryMiB)),
			string(corev1.ResourceEphemeralStorage): kubeReservedEphemeralStorage,
		},
		SystemReserved: map[string]string{},
		EvictionHard:   map[string]string{},
	}
	for k, v := range defaultEvictionHard {
		s.EvictionHard[k] = v
	}
	if k == nil {
		return s
	}
	if k.MaxPods != nil {
		s.MaxPods = *k.MaxPods
	}
	for key, v := range k.KubeReserved {
		s.KubeReserved[key] = v
	}
	for key, v := range k.SystemReserved {
		s.SystemReserved[key] = v
	}
	for key, v := range k.EvictionHard {
		s.EvictionHard[key] = v
	}
	return s
}

// ReservedCPUMillis is the default kube-reserved CPU of a node with that many vCPUs.
func ReservedCPUMillis(cpus int) int64 {
	// Whole millicores, rounded down; the epsilon absorbs float error (6% + 1% + 2 x 0.5% is 80m, not 79.99...).
	return int64(math.Floor(tiered(cpus, cpuTiers)*1000 + 1e-6))
}

// ReservedMemoryMiB is the default kube-reserved memory of an offering with that much memory, rounded up to a MiB.
func ReservedMemoryMiB(memoryMiB int) int64 {
	return max(int64(math.Ceil(tiered(memoryMiB, memoryTiers))), minKubeReservedMemoryMiB)
}

// Overhead is what the kubelet subtracts from capacity to get allocatable, per schedulable resource: kube-reserved,
// system-reserved and the hard-eviction thresholds of memory.available and nodefs.available (percentages of the
// capacity). Other signals (inodes, image filesystem, pid) do not reduce allocatable.
func (s Settings) Overhead(capacity corev1.ResourceList) (kubeReserved, systemReserved, eviction corev1.ResourceList) {
	eviction = corev1.ResourceList{}
	for signal, threshold := range s.EvictionHard {
		name, ok := EvictionSignals[signal]
		if !ok {
			continue
		}
		if q, ok := Threshold(threshold, capacity[name]); ok {
			eviction[name] = q
		}
	}
	return schedulable(s.KubeReserved), schedulable(s.SystemReserved), eviction
}

// EvictionSignals map the hard-eviction signals that reduce allocatable to the resource they protect.
var EvictionSignals = map[string]corev1.ResourceName{
	"memory.available": corev1.ResourceMemory,
	"nodefs.available": corev1.ResourceEphemeralStorage,
}

// Threshold is an eviction threshold as a quantity: a percentage of capacity (rounded up, as the kubelet does not
// round down what it keeps free) or a quantity. ok is false for a value that does not parse.
func Threshold(threshold string, capacity resource.Quantity) (resource.Quantity, bool) {
	if p, isPercent := strings.CutSuffix(threshold, "%"); isPercent {
		q, err := resource.ParseQuantity(p)
		if err != nil {
			return resource.Quantity{}, false
		}
		return *resource.NewQuantity(int64(math.Ceil(float64(capacity.Value())*q.AsApproximateFloat64()/100)), capacity.Format), true
	}
	q, err := resource.ParseQuantity(threshold)
	return q, err == nil
}

// schedulable keeps cpu, memory and ephemeral-storage; pid is not a schedulable resource and values that do not
// parse are dropped (admission rejects them before they get here).
func schedulable(m map[string]string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range m {
		name := corev1.ResourceName(k)
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
			continue
		}
		if q, err := resource.ParseQuantity(v); err == nil {
			out[name] = q
		}
	}
	return out
}

// Join renders a map as sorted key<sep>value pairs joined by commas, the syntax of the kubelet's map flags, so
// that the same settings always render the same bytes.
func Join(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+sep+m[k])
	}
	return strings.Join(pairs, ",")
}
