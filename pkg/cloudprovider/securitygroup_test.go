package cloudprovider_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

var _ = Describe("Security groups", func() {
	BeforeEach(func() {
		// zone-a of the example catalog, with security groups enabled.
		cat := lo.Must(test.ExampleCatalog())
		for i := range cat.Zones {
			if cat.Zones[i].Name == "zone-a" {
				cat.Zones[i].SecurityGroupsEnabled = true
			}
		}
		csEnv = lo.Must(test.NewEnvironment(test.WithCatalog(cat)))
		DeferCleanup(csEnv.Close)
		wire()
	})

	It("launches into the resolved groups, and drifts the node when the resolved set changes", func() {
		nc := newNodeClass()
		nc.Spec.SecurityGroupSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"k8s-role": "nodes"}}}
		nodeClass := expectNodeClassReconciled(nc)
		Expect(nodeClass.StatusConditions().Root().IsTrue()).To(BeTrue(), "%v", nodeClass.Status.Conditions)
		Expect(lo.Map(nodeClass.Status.SecurityGroups, func(g v1.SecurityGroup, _ int) string { return g.Name })).To(Equal([]string{"k8s-nodes"}))
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pendingPod("1"))
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		vmID := lo.Must(v1.ParseProviderID(nodeClaim.Status.ProviderID))
		vm, _ := lo.Find(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == vmID })
		Expect(vm.SecurityGroupIDs).To(Equal([]string{nodeClass.Status.SecurityGroups[0].ID}))
		reason, err := cloudProvider.IsDrifted(ctx, nodeClaim)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty())

		// Another group added to the terms: the running VM lacks it.
		nodeClass = ExpectExists(ctx, env.Client, nodeClass)
		nodeClass.Spec.SecurityGroupSelectorTerms = append(nodeClass.Spec.SecurityGroupSelectorTerms, v1.SelectorTerm{Name: "ssh-from-bastion"})
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.SecurityGroups).To(HaveLen(2))
		reason, err = cloudProvider.IsDrifted(ctx, ExpectExists(ctx, env.Client, nodeClaim))
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(Equal(cloudprovider.SecurityGroupDrift))
	})

	It("is not Ready when a selected zone has security groups disabled, and launches nothing", func() {
		nc := newNodeClass()
		nc.Spec.Zone = ""
		nc.Spec.ZoneSelectorTerms = []v1.SelectorTerm{{Name: "zone-a"}, {Name: "zone-b"}}
		nc.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "isolated-a"}, {Name: "isolated-b"}}
		nc.Spec.SecurityGroupSelectorTerms = []v1.SelectorTerm{{Name: "k8s-nodes"}}
		nodeClass := expectNodeClassReconciled(nc)
		cond := nodeClass.StatusConditions().Get(v1.ConditionTypeSecurityGroupsReady)
		Expect(cond.IsFalse()).To(BeTrue())
		Expect(cond.Message).To(ContainSubstring(`spec.securityGroupSelectorTerms: zone(s) "zone-b" have security groups disabled`))
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		ExpectNotScheduled(ctx, env.Client, pod)
		Expect(liveVMs()).To(BeEmpty())
		Expect(lo.Filter(ExpectNodeClaims(ctx, env.Client), func(nc *karpv1.NodeClaim, _ int) bool { return nc.Status.ProviderID != "" })).To(BeEmpty())
	})
})
