package bootstrap

import (
	"fmt"
	"strings"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

// DefaultMaxPods is the kubelet's own default, used when spec.kubelet.maxPods is unset so that the rendered
// --max-pods always matches what the instance type provider assumed for pod capacity.
const DefaultMaxPods = kubelet.DefaultMaxPods

// Values are the variables a userData template sees. docs/bootstrap.md documents each of them; keep the two in step.
type Values struct {
	// ClusterName is the operator's --cluster-name.
	ClusterName string
	// NodeClaimName is the NodeClaim's name, which is also the VM's name and the node's hostname.
	NodeClaimName string
	// NodePoolName is the NodePool that owns the NodeClaim.
	NodePoolName string
	// NodeClassName is the CloudStackNodeClass the NodeClaim references.
	NodeClassName string
	// Labels are the labels the node will carry (the NodeClaim's labels and its single-valued requirements).
	Labels map[string]string
	// Taints are the NodeClaim's taints and startup taints, always ending with karpenter.sh/unregistered:NoExecute
	// unless it is already among them.
	Taints []corev1.Taint
	// RegisterWithTaints is Taints in the kubelet's --register-with-taints syntax (key=value:Effect,...).
	RegisterWithTaints string
	// NodeLabels is the --node-labels value: the Labels the kubelet may set on its own node. Labels in the
	// kubernetes.io and k8s.io domains outside the kubelet's allow-list are left out (the kubelet refuses to start
	// with them); Karpenter copies them onto the Node after it registers.
	NodeLabels string
	// MaxPods is spec.kubelet.maxPods, or 110.
	MaxPods int32
	// KubeReserved is the kube-reserved of the VM's size (docs/capacity.md) with spec.kubelet.kubeReserved over
	// it, as key=value pairs joined by commas: exactly what Karpenter subtracted when it predicted allocatable.
	KubeReserved string
	// SystemReserved is spec.kubelet.systemReserved as key=value pairs joined by commas; empty when unset.
	SystemReserved string
	// EvictionHard is the kubelet's hard-eviction defaults with spec.kubelet.evictionHard over them, as
	// signal<threshold pairs joined by commas. Every signal is listed, so no kubelet version's merge rules matter.
	EvictionHard string
	// KubeletArgsList is every kubelet flag above, one --flag=value per element, unquoted.
	KubeletArgsList []string
	// KubeletArgs is KubeletArgsList joined by spaces. Values never contain spaces, but --eviction-hard contains
	// '<': in a shell use {{ shellquote .KubeletArgsList }} instead.
	KubeletArgs string
	// ProviderIDPrefix is what the node's providerID starts with (cloudstack:///); the VM's UUID completes it.
	ProviderIDPrefix string
	// DataDisks are the VM's data disks (spec.dataDisks as resolved), in order: the first is attached when the VM
	// first boots, the others are hot-plugged right after. Nil without data disks.
	DataDisks []DataDisk
	// Secret is the data of the Secret spec.userDataSecretRef names (key -> value), nil without a reference. Its
	// values are only ever rendered into the userData: an error of a rendering that had them names none of them.
	Secret map[string]string
}

// DataDisk is one data disk as a userData template sees it.
type DataDisk struct {
	// Name is spec.dataDisks[].name (may be empty).
	Name string
	// DeviceID is the CloudStack device ID the disk is attached at (1, 2, 4, 5, ...).
	DeviceID int64
	// SizeGiB is the disk's size in GiB, the surest way to tell the disks apart inside the guest.
	SizeGiB int64
}

// NewValues builds the template variables for one NodeClaim of a NodeClass launched as a VM of that shape (its
// vCPUs and memory decide the default reservations).
func NewValues(clusterName string, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, shape kubelet.Shape) Values {
	labels := map[string]string{}
	// Single-valued In requirements are labels the node will certainly get, e.g. a NodePool pinned to one zone.
	for _, req := range nodeClaim.Spec.Requirements {
		if req.Operator == corev1.NodeSelectorOpIn && len(req.Values) == 1 {
			labels[req.Key] = req.Values[0]
		}
	}
	labels = lo.Assign(labels, nodeClaim.Labels)
	taints := append(append([]corev1.Taint{}, nodeClaim.Spec.Taints...), nodeClaim.Spec.StartupTaints...)
	if !lo.ContainsBy(taints, func(t corev1.Taint) bool { return t.MatchTaint(&karpv1.UnregisteredNoExecuteTaint) }) {
		taints = append(taints, karpv1.UnregisteredNoExecuteTaint)
	}
	v := Values{
		ClusterName:      clusterName,
		NodeClaimName:    nodeClaim.Name,
		NodePoolName:     nodeClaim.Labels[karpv1.NodePoolLabelKey],
		NodeClassName:    nodeClass.Name,
		Labels:           labels,
		Taints:           taints,
		ProviderIDPrefix: v1.ProviderIDPrefix,
	}
	for _, d := range nodeClass.Status.DataDisks {
		v.DataDisks = append(v.DataDisks, DataDisk{Name: d.Name, DeviceID: d.DeviceID, SizeGiB: d.SizeGiB})
	}
	if v.NodePoolName == "" {
		v.NodePoolName = labels[karpv1.NodePoolLabelKey]
	}
	settings := kubelet.For(shape, nodeClass.Spec.Kubelet)
	v.MaxPods = settings.MaxPods
	v.KubeReserved = kubelet.Join(settings.KubeReserved, "=")
	v.SystemReserved = kubelet.Join(settings.SystemReserved, "=")
	v.EvictionHard = kubelet.Join(settings.EvictionHard, "<")
	v.RegisterWithTaints = strings.Join(lo.Map(taints, func(t corev1.Taint, _ int) string { return formatTaint(t) }), ",")
	v.NodeLabels = joinMap(lo.PickBy(labels, func(k, _ string) bool { return kubeletMaySet(k) }), "=")
	v.KubeletArgsList = []string{
		"--register-with-taints=" + v.RegisterWithTaints,
		"--node-labels=" + v.NodeLabels,
		fmt.Sprintf("--max-pods=%d", v.MaxPods),
	}
	for _, flag := range []struct{ name, value string }{
		{"--kube-reserved", v.KubeReserved}, {"--system-reserved", v.SystemReserved}, {"--eviction-hard", v.EvictionHard},
	} {
		if flag.value != "" {
			v.KubeletArgsList = append(v.KubeletArgsList, flag.name+"="+flag.value)
		}
	}
	v.KubeletArgs = strings.Join(v.KubeletArgsList, " ")
	return v
}

func formatTaint(t corev1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

// joinMap renders a map in key order so that the same NodeClass always renders the same bytes.
func joinMap(m map[string]string, sep string) string {
	return kubelet.Join(m, sep)
}

// kubeletAllowedLabels are the kubernetes.io labels the NodeRestriction admission plugin lets a kubelet set.
var kubeletAllowedLabels = map[string]bool{
	corev1.LabelHostname:                true,
	corev1.LabelInstanceType:            true,
	corev1.LabelInstanceTypeStable:      true,
	corev1.LabelOSStable:                true,
	corev1.LabelArchStable:              true,
	"beta.kubernetes.io/os":             true,
	"beta.kubernetes.io/arch":           true,
	corev1.LabelFailureDomainBetaZone:   true,
	corev1.LabelFailureDomainBetaRegion: true,
	corev1.LabelTopologyZone:            true,
	corev1.LabelTopologyRegion:          true,
}

// kubeletMaySet mirrors the kubelet's --node-labels validation: a label in the kubernetes.io or k8s.io domains
// makes the kubelet exit at start-up unless it is allow-listed or under kubelet.kubernetes.io / node.kubernetes.io.
func kubeletMaySet(key string) bool {
	domain := karpv1.GetLabelDomain(key)
	restricted := func(d string) bool { return domain == d || strings.HasSuffix(domain, "."+d) }
	if !restricted("kubernetes.io") && !restricted("k8s.io") {
		return true
	}
	if kubeletAllowedLabels[key] {
		return true
	}
	return domain == "kubelet.kubernetes.io" || strings.HasSuffix(domain, ".kubelet.kubernetes.io") ||
		domain == "node.kubernetes.io" || strings.HasSuffix(domain, ".node.kubernetes.io")
}

// placeholderShape is a large VM, whose reservations render with the most digits, so the size check errs on the
// safe side.
var placeholderShape = kubelet.Shape{CPU: 1024, MemoryMiB: 16 * 1024 * 1024}

// PlaceholderValues are the variables the NodeClass controller validates a template with before any NodeClaim
// exists. They carry the labels every real NodeClaim gets, with realistic lengths, so that the size check is close
// to what launches will see.
func PlaceholderValues(clusterName string, nodeClass *v1.CloudStackNodeClass) Values {
	nodeClaim := &karpv1.NodeClaim{}
	nodeClaim.Name = "placeholder-nodepool-abcde"
	nodeClaim.Labels = map[string]string{
		karpv1.NodePoolLabelKey:        "placeholder-nodepool",
		karpv1.CapacityTypeLabelKey:    karpv1.CapacityTypeOnDemand,
		corev1.LabelInstanceTypeStable: "placeholder-service-offering",
		corev1.LabelTopologyZone:       "placeholder-zone",
		corev1.LabelArchStable:         karpv1.ArchitectureAmd64,
		corev1.LabelOSStable:           string(corev1.Linux),
		v1.LabelServiceOfferingID:      "00000000-0000-0000-0000-000000000000",
		v1.LabelZoneID:                 "00000000-0000-0000-0000-000000000000",
	}
	return NewValues(clusterName, nodeClass, nodeClaim, placeholderShape)
}
