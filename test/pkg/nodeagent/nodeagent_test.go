package nodeagent_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

// The rendered line of the examples' userData: KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --provider-id=...
const rendered = `#cloud-config
write_files:
  - path: /etc/default/kubelet
    content: |
      KUBELET_EXTRA_ARGS=--register-with-taints=karpenter.sh/unregistered:NoExecute,dedicated=gpu:NoSchedule --node-labels=karpenter.sh/nodepool=default,workload=general --max-pods=58 --kube-reserved=cpu=100m,memory=512Mi --system-reserved=memory=256Mi --eviction-hard=memory.available<100Mi,nodefs.available<10% --provider-id=cloudstack:///@INSTANCE_ID@
`

func gzipBase64(s string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

var _ = Describe("userData", func() {
	DescribeTable("decodes what CloudStack received",
		func(encoded string) {
			text, err := nodeagent.DecodeUserData(encoded)
			Expect(err).NotTo(HaveOccurred())
			Expect(text).To(Equal(rendered))
		},
		Entry("gzip'ed and base64'ed, as the provider sends it", gzipBase64(rendered)),
		Entry("base64 only", base64.StdEncoding.EncodeToString([]byte(rendered))),
	)

	It("reads labels, taints and kubelet reservations from the kubelet flags", func() {
		cfg, err := nodeagent.ParseKubeletConfig(rendered)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Labels).To(Equal(map[string]string{karpv1.NodePoolLabelKey: "default", "workload": "general"}))
		Expect(cfg.Taints).To(Equal([]corev1.Taint{karpv1.UnregisteredNoExecuteTaint,
			{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}))
		Expect(cfg.MaxPods).To(BeEquivalentTo(58))
		Expect(cfg.KubeReserved.Cpu().String()).To(Equal("100m"))
		Expect(cfg.SystemReserved.Memory().String()).To(Equal("256Mi"))
		Expect(cfg.EvictionHard).To(Equal(map[string]string{"memory.available": "100Mi", "nodefs.available": "10%"}))
	})

	It("reads back what the provider renders and sends for a NodeClaim", func() {
		nodeClass := &v1.CloudStackNodeClass{Spec: v1.CloudStackNodeClassSpec{UserData: lo.ToPtr(
			"#cloud-config\nwrite_files:\n  - path: /etc/default/kubelet\n    content: |\n      KUBELET_EXTRA_ARGS={{ .KubeletArgs }}\n")}}
		nodeClaim := &karpv1.NodeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", Labels: map[string]string{karpv1.NodePoolLabelKey: "default", "team": "a"}},
			Spec: karpv1.NodeClaimSpec{
				Taints:        []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
				StartupTaints: []corev1.Taint{{Key: "cni", Effect: corev1.TaintEffectNoExecute}},
			},
		}
		encoded, err := bootstrap.Generate(nodeClass, bootstrap.NewValues("e2e", nodeClass, nodeClaim, kubelet.Shape{CPU: 2, MemoryMiB: 4096}), 32768)
		Expect(err).NotTo(HaveOccurred())
		text, err := nodeagent.DecodeUserData(encoded)
		Expect(err).NotTo(HaveOccurred())
		cfg, err := nodeagent.ParseKubeletConfig(text)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Taints).To(ConsistOf(karpv1.UnregisteredNoExecuteTaint, nodeClaim.Spec.Taints[0], nodeClaim.Spec.StartupTaints[0]))
		Expect(cfg.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, "default"))
		Expect(cfg.Labels).To(HaveKeyWithValue("team", "a"))
	})

	DescribeTable("refuses userData a node could not bootstrap from",
		func(userData, message string) {
			_, err := nodeagent.ParseKubeletConfig(userData)
			Expect(err).To(MatchError(ContainSubstring(message)))
		},
		Entry("no kubelet flags", "#cloud-config\nruncmd: [echo hi]\n", "no --register-with-taints"),
		Entry("a taint without effect", "--register-with-taints=a=b", "has no effect"),
		Entry("an unknown taint effect", "--register-with-taints=a:Sometimes", "unknown effect"),
		Entry("a label without value separator", "--register-with-taints= --node-labels=novalue", "not key=value"),
		Entry("a bad reservation", "--register-with-taints= --kube-reserved=cpu=lots", "cpu=lots"),
	)
})

var _ = Describe("Node", func() {
	vm := simulator.VM{ID: "0b1c2d3e-0000-4000-8000-000000000001", Name: "default-abcde", State: simulator.StateRunning,
		ZoneName: "zone-a", ServiceOfferingName: "k8s.medium", CPUNumber: 4, MemoryMiB: 8192, RootDiskSizeGiB: 40,
		IPAddresses: []string{"10.10.0.7"}}

	It("registers as the kubelet and the cloud-controller-manager would", func() {
		cfg, err := nodeagent.ParseKubeletConfig(rendered)
		Expect(err).NotTo(HaveOccurred())
		node := nodeagent.NewNode(vm, cfg, time.Now())
		Expect(node.Name).To(Equal(vm.Name))
		Expect(node.Spec.ProviderID).To(Equal(v1.ProviderID(vm.ID)))
		Expect(node.Spec.Taints).To(ContainElement(karpv1.UnregisteredNoExecuteTaint))
		Expect(node.Labels).To(Equal(map[string]string{
			karpv1.NodePoolLabelKey: "default", "workload": "general", corev1.LabelHostname: vm.Name, corev1.LabelOSStable: "linux",
			corev1.LabelArchStable: "amd64", corev1.LabelInstanceTypeStable: "k8s.medium", corev1.LabelTopologyZone: "zone-a",
		}))
		Expect(node.Status.Addresses).To(ContainElement(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.10.0.7"}))
		Expect(node.Status.Conditions).To(ContainElement(HaveField("Type", corev1.NodeReady)))
	})

	DescribeTable("reports capacity from the VM and allocatable after the kubelet's reservations",
		func(name corev1.ResourceName, capacity, allocatable string) {
			cfg, err := nodeagent.ParseKubeletConfig(rendered)
			Expect(err).NotTo(HaveOccurred())
			c := nodeagent.Capacity(vm, cfg)
			a := nodeagent.Allocatable(c, cfg)
			got := c[name]
			Expect(got.Equal(resource.MustParse(capacity))).To(BeTrue(), "capacity %s", got.String())
			got = a[name]
			Expect(got.Equal(resource.MustParse(allocatable))).To(BeTrue(), "allocatable %s", got.String())
		},
		Entry("cpu: minus kube-reserved", corev1.ResourceCPU, "4", "3900m"),
		Entry("memory: minus kube-reserved, system-reserved and the eviction threshold", corev1.ResourceMemory, "8Gi", "7324Mi"),
		Entry("pods: --max-pods", corev1.ResourcePods, "58", "58"),
		Entry("ephemeral storage: the root disk minus 10%", corev1.ResourceEphemeralStorage, "40Gi", "36Gi"),
	)

	It("gives pods stable, valid addresses", func() {
		Expect(nodeagent.PodIP("uid-1")).To(Equal(nodeagent.PodIP("uid-1")))
		Expect(nodeagent.PodIP("uid-1")).To(MatchRegexp(`^10\.\d+\.\d+\.\d+$`))
	})
})
