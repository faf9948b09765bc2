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

	It("registers with exactly the name, providerID, labels and taints the kubelet flags say", func() {
		cfg, err := nodeagent.ParseKubeletConfig(rendered)
		Expect(err).NotTo(HaveOccurred())
		reg, err := nodeagent.NewRegistration(cfg, nodeagent.MetadataOf(vm))
		Expect(err).NotTo(HaveOccurred())
		node := nodeagent.NewNode(vm, cfg, reg, time.Now())
		Expect(node.Name).To(Equal("default-abcde"))
		// The literal of the rendered flag with the metadata's instance-id filled in, not the provider's helper.
		Expect(node.Spec.ProviderID).To(Equal("cloudstack:///0b1c2d3e-0000-4000-8000-000000000001"))
		Expect(node.Spec.Taints).To(Equal([]corev1.Taint{karpv1.UnregisteredNoExecuteTaint,
			{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}))
		// No instance type or zone: the kubelet does not know them; Karpenter or a CCM adds them.
		Expect(node.Labels).To(Equal(map[string]string{
			karpv1.NodePoolLabelKey: "default", "workload": "general", corev1.LabelHostname: vm.Name, corev1.LabelOSStable: "linux",
			corev1.LabelArchStable: "amd64",
		}))
		Expect(node.Status.Addresses).To(ContainElement(corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.10.0.7"}))
		Expect(node.Status.Conditions).To(ContainElement(HaveField("Type", corev1.NodeReady)))
	})

	DescribeTable("resolves the registration from the flags and the metadata",
		func(flags string, name, providerID string, extraTaint bool) {
			cfg, err := nodeagent.ParseKubeletConfig("--register-with-taints=karpenter.sh/unregistered:NoExecute " + flags)
			Expect(err).NotTo(HaveOccurred())
			reg, err := nodeagent.NewRegistration(cfg, nodeagent.Metadata{InstanceID: "uuid-1", LocalHostname: "VM-1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(reg.Name).To(Equal(name))
			Expect(reg.ProviderID).To(Equal(providerID))
			if extraTaint {
				Expect(reg.Taints).To(ContainElement(nodeagent.TaintUninitialized))
			} else {
				Expect(reg.Taints).NotTo(ContainElement(nodeagent.TaintUninitialized))
			}
		},
		Entry("sed placeholder", "--provider-id=cloudstack:///@INSTANCE_ID@", "vm-1", "cloudstack:///uuid-1", false),
		Entry("shell variable", "--provider-id=cloudstack:///${INSTANCE_ID}", "vm-1", "cloudstack:///uuid-1", false),
		Entry("a CCM-format ID written by the node itself", "--provider-id=external-cloudstack://$INSTANCE_ID", "vm-1", "external-cloudstack://uuid-1", false),
		Entry("no --provider-id: empty, for a CCM to set", "--cloud-provider=external", "vm-1", "", true),
		Entry("--hostname-override names the node", "--hostname-override=Node-X --provider-id=cloudstack:///@INSTANCE_ID@", "node-x", "cloudstack:///uuid-1", false),
	)

	It("refuses a providerID placeholder no boot script fills in", func() {
		cfg, err := nodeagent.ParseKubeletConfig("--register-with-taints= --provider-id=cloudstack:///@VM_ID@")
		Expect(err).NotTo(HaveOccurred())
		_, err = nodeagent.NewRegistration(cfg, nodeagent.Metadata{InstanceID: "uuid-1", LocalHostname: "vm-1"})
		Expect(err).To(MatchError(ContainSubstring("placeholder")))
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
		// FNV-1a (32 bit) of "uid-1" is 0x50c45a43, computed from the algorithm's constants outside Go, not by PodIP.
		Expect(nodeagent.PodIP("uid-1")).To(Equal("10.68.90.66"))
		Expect(nodeagent.PodIP("uid-2")).NotTo(Equal(nodeagent.PodIP("uid-1")))
	})
})

var _ = Describe("Pod start", func() {
	node := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.10.0.9"}}}}
	status := func(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
		for _, c := range pod.Status.Conditions {
			if c.Type == t {
				return c.Status
			}
		}
		return corev1.ConditionUnknown
	}
	DescribeTable("reports a pod running, and ready only when no container waits for a readiness probe",
		func(probed bool, ready corev1.ConditionStatus) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "pause"}, {Name: "b", Image: "pause"}}}}
			if probed {
				pod.Spec.Containers[1].ReadinessProbe = &corev1.Probe{}
			}
			out := nodeagent.RunningPod(pod, node, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			Expect(out.Status.Phase).To(Equal(corev1.PodRunning))
			Expect(out.Status.HostIP).To(Equal("10.10.0.9"))
			Expect(status(out, corev1.PodScheduled)).To(Equal(corev1.ConditionTrue))
			Expect(status(out, corev1.ContainersReady)).To(Equal(ready))
			Expect(status(out, corev1.PodReady)).To(Equal(ready))
			Expect(out.Status.ContainerStatuses).To(HaveLen(2))
			Expect(out.Status.ContainerStatuses[0].Ready).To(BeTrue())
			Expect(out.Status.ContainerStatuses[1].Ready).To(Equal(!probed))
		},
		Entry("no probe: ready at once", false, corev1.ConditionTrue),
		Entry("a readiness probe nothing answers: never ready", true, corev1.ConditionFalse),
	)
})

var _ = Describe("Pod termination", func() {
	deleting := func(grace int64, requested time.Time, hooks ...*corev1.LifecycleHandler) *corev1.Pod {
		pod := &corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace}}
		for _, h := range hooks {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "c", Lifecycle: &corev1.Lifecycle{PreStop: h}})
		}
		pod.DeletionGracePeriodSeconds = &grace
		pod.DeletionTimestamp = &metav1.Time{Time: requested.Add(time.Duration(grace) * time.Second)}
		return pod
	}
	requested := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	DescribeTable("ends a pod after its preStop hooks, cut at the grace period",
		func(grace int64, after time.Duration, hooks ...*corev1.LifecycleHandler) {
			Expect(nodeagent.TerminationDone(deleting(grace, requested, hooks...))).To(Equal(requested.Add(after)))
		},
		Entry("no hook: at once", int64(30), time.Duration(0)),
		Entry("a sleep action", int64(30), 10*time.Second, &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}),
		Entry("exec sleep, longest hook wins", int64(30), 12*time.Second,
			&corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "echo bye; sleep 12"}}},
			&corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "3"}}}),
		Entry("a hook longer than the grace period is killed at its end", int64(5), 5*time.Second,
			&corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}),
		Entry("grace period 0: at once", int64(0), time.Duration(0), &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}),
	)
})
