package chart_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedcorev1 "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// The nodes a controller pod could be offered: a control-plane node, a static worker, a node Karpenter launched,
// and a Karpenter node that an operator also labelled as control plane (which must still be refused).
var (
	controlPlaneNode = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp-1",
		Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}}}
	staticNode = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "static-1",
		Labels: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}
	karpenterNode = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "karpenter-1",
		Labels: map[string]string{"karpenter.sh/nodepool": "default", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}
	karpenterControlPlaneNode = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "karpenter-cp",
		Labels: map[string]string{"karpenter.sh/nodepool": "default", "node-role.kubernetes.io/control-plane": "",
			"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}}}
)

// schedulable is what the scheduler's NodeAffinity, NodeSelector and TaintToleration filters decide for the
// controller pod the release renders.
func schedulable(r release, extra ...string) []string {
	GinkgoHelper()
	r.args = append(append([]string(nil), r.args...), extra...)
	d := deployment(render(r), fullnameOf(r))
	pod := &corev1.Pod{Spec: d.Spec.Template.Spec}
	var names []string
	for _, n := range []*corev1.Node{controlPlaneNode, staticNode, karpenterNode, karpenterControlPlaneNode} {
		ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(n)
		Expect(err).NotTo(HaveOccurred())
		_, untolerated := schedCorev1Untolerated(n.Spec.Taints, pod.Spec.Tolerations)
		if ok && !untolerated {
			names = append(names, n.Name)
		}
	}
	return names
}

func schedCorev1Untolerated(taints []corev1.Taint, tolerations []corev1.Toleration) (corev1.Taint, bool) {
	return schedcorev1.FindMatchingUntoleratedTaint(klog.Background(), taints, tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
}

func fullnameOf(r release) string {
	if r.name == ciRelease.name {
		return ciFullname
	}
	return defaultFullname
}

var _ = Describe("Controller placement", func() {
	It("runs on nodes Karpenter does not manage by default", func() {
		Expect(schedulable(defaultRelease)).To(ConsistOf("static-1"))
	})

	It("runs only on control-plane nodes with controlPlane.enabled, never on a Karpenter node", func() {
		Expect(schedulable(defaultRelease, "--set", "controlPlane.enabled=true")).To(ConsistOf("cp-1"))
	})

	It("keeps off Karpenter nodes whatever affinity the values set", func() {
		Expect(schedulable(defaultRelease, "--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"+
			".nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/os",
			"--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
			"--set", "tolerations[0].operator=Exists")).To(ConsistOf("cp-1", "static-1"))
		// Every optional value at once: a user affinity term, control-plane placement and an extra toleration.
		Expect(schedulable(ciRelease)).To(ConsistOf("cp-1"))
	})
})

var _ = Describe("Controller image", func() {
	DescribeTable("refuses to render without an image, saying how to build and push one",
		func(args []string, message string) {
			_, err := helm(append(release{name: "x", namespace: "x", args: append([]string{"--set", "settings.clusterName=c",
				"--set", "credentials.existingSecret=s"}, args...)}.helmArgs("template"), "--kube-version", "v1.36.3")...)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(And(ContainSubstring(message), ContainSubstring("docker buildx build"),
				ContainSubstring("--set image.repository=")))
		},
		Entry("no repository", nil, "image.repository is required"),
		Entry("no tag", []string{"--set", "image.repository=registry.example.com/k"}, "image.tag (or image.digest) is required"),
	)

	It("renders repository, tag and digest", func() {
		Expect(deployment(render(defaultRelease), defaultFullname).Spec.Template.Spec.Containers[0].Image).To(
			Equal("registry.example.com/karpenter-provider-cloudstack:v0.0.0-test"))
		r := release{name: "karpenter", namespace: "karpenter", args: []string{"--set", "settings.clusterName=c",
			"--set", "credentials.existingSecret=s", "--set", "image.repository=registry.example.com/k",
			"--set", "image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000"}}
		Expect(deployment(render(r), defaultFullname).Spec.Template.Spec.Containers[0].Image).To(
			Equal("registry.example.com/k@sha256:0000000000000000000000000000000000000000000000000000000000000000"))
	})
})
