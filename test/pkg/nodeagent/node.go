package nodeagent

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// KubeletVersion is the version the simulated kubelets report (the control plane's version).
const KubeletVersion = "v1.36.3"

// defaultEphemeralGiB stands in for the root disk of a VM deployed with the template's own disk size, which the
// VM snapshot does not carry.
const defaultEphemeralGiB = 20

// NewNode is the Node a kubelet would register for the VM: name, providerID, labels and taints from the
// registration its userData describes, capacity from the VM's size, allocatable after the reservations, and Ready.
// Instance type, zone and region labels are not the kubelet's: Karpenter copies them from the NodeClaim, and a
// cloud-controller-manager adds them from the VM (see CCM).
func NewNode(vm simulator.VM, cfg *KubeletConfig, reg Registration, now time.Time) *corev1.Node {
	// The kubelet labels its node with the architecture it runs on: the VM's (its template's), whatever the
	// userData's --node-labels or the NodeClaim say.
	if vm.Arch != "" {
		reg.Labels[corev1.LabelArchStable] = template.Architecture(vm.Arch)
	}
	capacity := Capacity(vm, cfg)
	ip := ""
	if len(vm.IPAddresses) > 0 {
		ip = vm.IPAddresses[0]
	}
	addresses := []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: reg.Name}}
	if ip != "" {
		addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}, addresses...)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: reg.Name, Labels: reg.Labels, Annotations: map[string]string{AnnotationVMID: vm.ID}},
		Spec:       corev1.NodeSpec{ProviderID: reg.ProviderID, Taints: reg.Taints},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: Allocatable(capacity, cfg),
			Conditions:  []corev1.NodeCondition{ReadyCondition(now)},
			Addresses:   addresses,
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: KubeletVersion, Architecture: reg.Labels[corev1.LabelArchStable], OperatingSystem: "linux",
				ContainerRuntimeVersion: "containerd://2.1.0", OSImage: "simulated", KernelVersion: "simulated",
			},
		},
	}
}

// AnnotationVMID is the harness's own record of which VM a node runs on, so the agent finds its nodes whatever
// providerID they carry (or none, before a CCM sets it). Neither the provider nor the checks of the tests read it.
const AnnotationVMID = "nodeagent.test.karpenter.k8s.cloudstack/vm-id"

// ReadyCondition is a fresh kubelet Ready heartbeat.
func ReadyCondition(now time.Time) corev1.NodeCondition {
	return corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

// Capacity is what the kubelet reports for the VM: its vCPUs, the memory its guest sees (MemTotal, less than the
// offering's by the hypervisor's and kernel's overhead), --max-pods, the root disk and, for GPU offerings, the GPUs
// the device plugin would advertise (known from the offering's label).
func Capacity(vm simulator.VM, cfg *KubeletConfig) corev1.ResourceList {
	disk := vm.RootDiskSizeGiB
	if disk <= 0 {
		disk = defaultEphemeralGiB
	}
	memory := vm.GuestMemoryKiB * 1024
	if memory <= 0 {
		memory = int64(vm.MemoryMiB) * 1024 * 1024
	}
	out := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(vm.CPUNumber), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memory, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(cfg.MaxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(disk*1024*1024*1024, resource.BinarySI),
	}
	if vm.GPUCount > 0 {
		out["nvidia.com/gpu"] = *resource.NewQuantity(int64(vm.GPUCount), resource.DecimalSI)
	} else if n, err := strconv.ParseInt(cfg.Labels[v1.LabelInstanceGPUCount], 10, 64); err == nil && n > 0 {
		out["nvidia.com/gpu"] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	return out
}

// kubeletDefaultEvictionHard is the kubelet's --eviction-hard default on Linux. A kubelet given the flag uses only
// the signals it lists (the config API replaces the default map rather than merging into it).
var kubeletDefaultEvictionHard = map[string]string{
	"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5%", "imagefs.available": "15%",
}

// Allocatable subtracts --kube-reserved, --system-reserved and the hard eviction thresholds of memory.available
// and nodefs.available from the capacity, as the kubelet's container manager does (GetNodeAllocatableReservation),
// clamping at zero. Other resources (pods, GPUs) are allocatable in full.
func Allocatable(capacity corev1.ResourceList, cfg *KubeletConfig) corev1.ResourceList {
	out := capacity.DeepCopy()
	subtract := func(name corev1.ResourceName, q resource.Quantity) {
		if cur, ok := out[name]; ok {
			cur.Sub(q)
			if cur.Sign() < 0 {
				cur = resource.Quantity{}
			}
			out[name] = cur
		}
	}
	for _, reserved := range []corev1.ResourceList{cfg.KubeReserved, cfg.SystemReserved} {
		for name, q := range reserved {
			subtract(name, q)
		}
	}
	eviction := cfg.EvictionHard
	if !cfg.EvictionHardSet {
		eviction = kubeletDefaultEvictionHard
	}
	for signal, threshold := range eviction {
		name := map[string]corev1.ResourceName{"memory.available": corev1.ResourceMemory, "nodefs.available": corev1.ResourceEphemeralStorage}[signal]
		if name == "" {
			continue
		}
		if pct, ok := strings.CutSuffix(threshold, "%"); ok {
			f, err := strconv.ParseFloat(pct, 64)
			if err != nil {
				continue
			}
			total := capacity[name]
			// The kubelet truncates (eviction.GetThresholdQuantity).
			subtract(name, *resource.NewQuantity(int64(float64(total.Value())*f/100), resource.BinarySI))
			continue
		}
		if q, err := resource.ParseQuantity(threshold); err == nil {
			subtract(name, q)
		}
	}
	return out
}

// PodIP is a stable, valid pod address for a pod on a node: the API validates podIP, and stable values keep the
// agent's status patches idempotent.
func PodIP(podUID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(podUID))
	sum := h.Sum32()
	return fmt.Sprintf("10.%d.%d.%d", 64+(sum>>16)&0x3f, (sum>>8)&0xff, 1+sum&0xfd)
}
