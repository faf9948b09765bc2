package chart_test

import (
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// networkPolicy.enabled: the controller pods take ingress on the metrics port from the listed peers only.
var _ = Describe("The NetworkPolicy", func() {
	It("is off by default", func() {
		Expect(kinds(render(defaultRelease))).NotTo(HaveKey("NetworkPolicy"))
	})

	It("selects the controller pods and lets only metricsFrom reach the metrics port", func() {
		objs := render(ciRelease)
		u := find(objs, "NetworkPolicy", ciFullname)
		Expect(u).NotTo(BeNil())
		np := &networkingv1.NetworkPolicy{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, np)).To(Succeed())
		pod := deployment(objs, ciFullname).Spec.Template
		selector, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		Expect(err).NotTo(HaveOccurred())
		Expect(selector.Matches(labels.Set(pod.Labels))).To(BeTrue(), "the policy must select the controller pods")

		Expect(np.Spec.PolicyTypes).To(ConsistOf(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress))
		Expect(np.Spec.Ingress).To(HaveLen(1))
		rule := np.Spec.Ingress[0]
		Expect(rule.From).To(HaveLen(1))
		Expect(rule.From[0].NamespaceSelector.MatchLabels).To(Equal(map[string]string{"kubernetes.io/metadata.name": "monitoring"}))
		Expect(rule.Ports).To(HaveLen(1))
		// The named port is the container port /metrics is served on, and no other port is open.
		Expect(*rule.Ports[0].Port).To(Equal(intstr.FromString("http-metrics")))
		metricsPort := findPort(pod.Spec.Containers[0], "http-metrics")
		Expect(metricsPort).NotTo(BeNil())
		Expect(pod.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "METRICS_PORT", Value: strconv.Itoa(int(metricsPort.ContainerPort))}))
		Expect(np.Spec.Egress).To(HaveLen(2))
	})
})

func findPort(c corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}
