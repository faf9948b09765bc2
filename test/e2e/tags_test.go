package e2e_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

var _ = Describe("Tags changed in place", func() {
	It("reaches every running VM within a minute without replacing any node", func() {
		nc := nodeClass("tags", []string{"zone-a"}, "k8s.small")
		nc.Spec.Tags = map[string]string{"suite": "e2e", "team": "platform", "env": "prod"}
		np := nodePool("tags", nc.Name)
		dep := deployment("tags", np.Name, 3, "1", onePerNode("tags"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		expectPodsRunning(dep, 3)
		before := lo.Map(expectInitialized(np.Name, 3), func(c karpv1.NodeClaim, _ int) string { return c.Name })

		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		patch := client.MergeFrom(nc.DeepCopy())
		nc.Spec.Tags = map[string]string{"suite": "e2e", "team": "infra", "cost-center": "42"}
		Expect(env.Client.Patch(ctx, nc, patch)).To(Succeed())
		start := time.Now()
		Eventually(func(g Gomega) {
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(vms).To(HaveLen(3))
			for _, vm := range vms {
				g.Expect(vm.Tags).To(HaveKeyWithValue("team", "infra"), "VM %s", vm.Name)
				g.Expect(vm.Tags).To(HaveKeyWithValue("cost-center", "42"), "VM %s", vm.Name)
				g.Expect(vm.Tags).NotTo(HaveKey("env"), "VM %s", vm.Name)
			}
		}).WithTimeout(time.Minute).Should(Succeed())
		GinkgoWriter.Printf("tags on every VM after %s\n", elapsed(start))

		// No node was replaced, and none is about to be: no NodeClaim is Drifted.
		claims := expectInitialized(np.Name, 3)
		Expect(lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Name })).To(ConsistOf(before))
		for _, c := range claims {
			Expect(c.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue()).To(BeFalse(), "NodeClaim %s is Drifted", c.Name)
		}
		expectVMsMatchNodeClaims(nc.Name)
	})
})
