package e2e_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A zone named as operators name zones, end to end through the running controller, the node agent and the scheduler.
var _ = Describe("Zone names", func() {
	It("launches in a zone named with spaces and parentheses, with the zone label made a valid label value", func() {
		const zoneName, zoneLabel = "Zone 1 (Paris)", "Zone_1__Paris"
		nc := expectReady(createNodeClass(nodeClass("paris", []string{zoneName}, "k8s.small")))
		np := nodePool("paris", nc.Name, requirement(corev1.LabelTopologyZone, zoneLabel))
		dep := deployment("paris", np.Name, 1, "100m")
		create(np, dep)
		DeferCleanup(cleanup, dep, np, nc)

		claim := expectInitialized(np.Name, 1)[0]
		Expect(claim.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, zoneLabel))
		vm, found := vmOf(claim, clusterVMs())
		Expect(found).To(BeTrue(), "no VM for %s", claim.Status.ProviderID)
		Expect(vm.ZoneName).To(Equal(zoneName), "the VM runs in the zone of that name")
		node := &corev1.Node{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: claim.Status.NodeName}, node)).To(Succeed())
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, zoneLabel))
		Eventually(func(g Gomega) {
			pods := &corev1.PodList{}
			g.Expect(env.Client.List(ctx, pods, client.InNamespace(dep.Namespace), client.MatchingLabels(dep.Spec.Selector.MatchLabels))).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(1))
			g.Expect(pods.Items[0].Spec.NodeName).To(Equal(node.Name))
		}).Should(Succeed())
	})
})
