package e2e_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

var _ = Describe("Security groups", func() {
	It("launches in a security-group zone with the groups the NodeClass resolves", func() {
		nc := nodeClass("security-groups", []string{"zone-sg"}, "k8s.small")
		nc.Spec.SecurityGroupSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"k8s-role": "nodes"}}, {Name: "monitoring-sg"}}
		np := nodePool("security-groups", nc.Name)
		dep := deployment("security-groups", np.Name, 2, "1", onePerNode("security-groups"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)

		var want []string
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
			g.Expect(nc.StatusConditions().Get(v1.ConditionTypeSecurityGroupsReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
			want = lo.Map(nc.Status.SecurityGroups, func(s v1.SecurityGroup, _ int) string { return s.ID })
		}).Should(Succeed())
		Expect(lo.Map(nc.Status.SecurityGroups, func(s v1.SecurityGroup, _ int) string { return s.Name })).To(Equal([]string{"k8s-nodes-sg", "monitoring-sg"}))

		expectPodsRunning(dep, 2)
		expectInitialized(np.Name, 2)
		vms := clusterVMs()
		Expect(vms).To(HaveLen(2))
		for _, vm := range vms {
			Expect(vm.ZoneName).To(Equal("zone-sg"))
			Expect(vm.SecurityGroupIDs).To(Equal(want), "VM %s", vm.Name)
		}
		expectVMsMatchNodeClaims(nc.Name)
	})
})
