package cloudprovider_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/tagging"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass/hash"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

var _ = Describe("Tags changed in place", func() {
	var nodeClass *v1.CloudStackNodeClass
	var tagger *tagging.Controller

	// launch provisions n nodes, one per pod: each pod needs most of a small offering.
	launch := func(n int) []*karpv1.NodeClaim {
		GinkgoHelper()
		for range n {
			ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pendingPod("1500m"))
		}
		claims := ExpectNodeClaims(ctx, env.Client)
		Expect(claims).To(HaveLen(n))
		return claims
	}
	vmOf := func(nc *karpv1.NodeClaim) simulator.VM {
		GinkgoHelper()
		id := lo.Must(v1.ParseProviderID(nc.Status.ProviderID))
		vm, ok := lo.Find(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == id })
		Expect(ok).To(BeTrue(), "no VM %s", id)
		return vm
	}
	setTags := func(tags map[string]string) {
		GinkgoHelper()
		nodeClass = ExpectExists(ctx, env.Client, nodeClass)
		nodeClass.Spec.Tags = tags
		ExpectApplied(ctx, env.Client, nodeClass)
		ExpectObjectReconciled(ctx, env.Client, nodeClassCtrl, nodeClass)
	}

	BeforeEach(func() {
		nc := newNodeClass()
		nc.Spec.Tags = map[string]string{"team": "platform", "env": "prod"}
		nodeClass = expectNodeClassReconciled(nc)
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		tagger = tagging.NewController(env.Client, csEnv.InstanceProvider)
	})

	It("updates, adds and removes tags on every running VM with one request pair, replacing no node", func() {
		claims := launch(3)
		for _, nc := range claims {
			Expect(nc.Annotations).To(HaveKeyWithValue(v1.AnnotationTags, `{"env":"prod","team":"platform"}`), "Create records the tags it launched with")
		}
		// A tag someone else put on a VM is not the NodeClass's to remove.
		lo.Must0(csEnv.API.CreateTags(ctx, []string{vmOf(claims[0]).ID}, "UserVm", map[string]string{"backup": "daily"}))
		csEnv.Simulator.ResetCounts()
		ExpectSingletonReconciled(ctx, tagger)
		Expect(csEnv.Simulator.Counts()).To(BeEmpty(), "VMs whose NodeClaims record the current tags cost no request")

		setTags(map[string]string{"team": "infra", "cost-center": "42"})
		csEnv.Simulator.ResetCounts()
		ExpectSingletonReconciled(ctx, tagger)
		counts := csEnv.Simulator.Counts()
		Expect(counts).To(HaveKeyWithValue("listVirtualMachines", BeEquivalentTo(1)))
		Expect(counts).To(HaveKeyWithValue("deleteTags", BeEquivalentTo(1)), "one deleteTags for the three VMs")
		Expect(counts).To(HaveKeyWithValue("createTags", BeEquivalentTo(1)), "one createTags for the three VMs")

		for _, nc := range claims {
			vm := vmOf(nc)
			Expect(vm.State).To(Equal("Running"))
			Expect(vm.Tags).To(HaveKeyWithValue("team", "infra"))
			Expect(vm.Tags).To(HaveKeyWithValue("cost-center", "42"))
			Expect(vm.Tags).NotTo(HaveKey("env"), "a tag removed from the NodeClass is removed from the VM")
			Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyClusterID, test.ClusterID), "ownership tags are kept")
			Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodeClass, nodeClass.Name))
			Expect(ExpectExists(ctx, env.Client, nc).Annotations).To(HaveKeyWithValue(v1.AnnotationTags, `{"cost-center":"42","team":"infra"}`))
			drifted, err := cloudProvider.IsDrifted(ctx, ExpectExists(ctx, env.Client, nc))
			Expect(err).NotTo(HaveOccurred())
			Expect(drifted).To(BeEmpty(), "a tag change is no drift")
		}
		Expect(vmOf(claims[0]).Tags).To(HaveKeyWithValue("backup", "daily"))
		Expect(ExpectNodeClaims(ctx, env.Client)).To(HaveLen(3))

		csEnv.Simulator.ResetCounts()
		ExpectSingletonReconciled(ctx, tagger)
		Expect(csEnv.Simulator.Counts()).To(BeEmpty(), "in sync again: no request")
	})

	It("updates the other VMs when one VM of a shared request is gone: CloudStack refuses the whole request", func() {
		claims := launch(3)
		ids := lo.Map(claims, func(nc *karpv1.NodeClaim, _ int) string { return vmOf(nc).ID })
		lo.Must0(csEnv.API.DestroyVM(ctx, ids[1], true))
		change := func(id string) instance.TagChange {
			return instance.TagChange{VMID: id, Delete: map[string]string{"team": "platform"}, Create: map[string]string{"team": "infra"}}
		}
		csEnv.Simulator.ResetCounts()
		failed := csEnv.InstanceProvider.ChangeTags(ctx, []instance.TagChange{change(ids[0]), change(ids[1]), change(ids[2])})
		Expect(failed).To(HaveLen(1))
		Expect(failed).To(HaveKey(ids[1]))
		Expect(csEnv.Simulator.Counts()).To(HaveKeyWithValue("createTags", BeEquivalentTo(4)), "the shared request, then one per VM")
		for _, nc := range []*karpv1.NodeClaim{claims[0], claims[2]} {
			Expect(vmOf(nc).Tags).To(HaveKeyWithValue("team", "infra"))
		}
	})

	It("retries a failed update on the next pass", func() {
		claims := launch(2)
		setTags(map[string]string{"team": "infra", "env": "prod"})
		// The shared request and both single retries fail.
		csEnv.Simulator.FailNextCommands("createTags", 3)
		_, err := tagger.Reconcile(injection.WithControllerName(ctx, "test"))
		Expect(err).To(HaveOccurred())
		for _, nc := range claims {
			Expect(ExpectExists(ctx, env.Client, nc).Annotations).To(HaveKeyWithValue(v1.AnnotationTags, `{"env":"prod","team":"platform"}`),
				"nothing is recorded that CloudStack does not have")
		}
		ExpectSingletonReconciled(ctx, tagger)
		for _, nc := range claims {
			Expect(vmOf(nc).Tags).To(HaveKeyWithValue("team", "infra"))
			Expect(vmOf(nc).Tags).To(HaveKeyWithValue("env", "prod"))
		}
	})

	It("adds the NodeClass's tags to a NodeClaim launched by a release that kept no record, and deletes none", func() {
		claims := launch(1)
		nc := claims[0]
		delete(nc.Annotations, v1.AnnotationTags)
		ExpectApplied(ctx, env.Client, nc)
		lo.Must0(csEnv.API.CreateTags(ctx, []string{vmOf(nc).ID}, "UserVm", map[string]string{"legacy": "yes"}))
		setTags(map[string]string{"team": "platform", "owner": "ops"})
		ExpectSingletonReconciled(ctx, tagger)
		vm := vmOf(nc)
		Expect(vm.Tags).To(HaveKeyWithValue("owner", "ops"))
		Expect(vm.Tags).To(HaveKeyWithValue("env", "prod"), "without a record, no key is known to be the NodeClass's")
		Expect(vm.Tags).To(HaveKeyWithValue("legacy", "yes"))
		Expect(ExpectExists(ctx, env.Client, nc).Annotations).To(HaveKeyWithValue(v1.AnnotationTags, `{"owner":"ops","team":"platform"}`))
	})

	It("re-stamps NodeClaims of an older hash version that have not drifted, so an upgrade drifts nothing", func() {
		claims := launch(2)
		old := map[string]string{v1.AnnotationNodeClassHash: "12345", v1.AnnotationNodeClassHashVersion: "v1"}
		for _, nc := range claims {
			nc.Annotations = lo.Assign(nc.Annotations, old)
			ExpectApplied(ctx, env.Client, nc)
		}
		drifted := ExpectExists(ctx, env.Client, claims[1])
		drifted.StatusConditions().SetTrue(karpv1.ConditionTypeDrifted)
		ExpectApplied(ctx, env.Client, drifted)
		ExpectObjectReconciled(ctx, env.Client, hash.NewController(env.Client), nodeClass)
		Expect(ExpectExists(ctx, env.Client, claims[0]).Annotations).To(And(
			HaveKeyWithValue(v1.AnnotationNodeClassHash, nodeClass.Hash()),
			HaveKeyWithValue(v1.AnnotationNodeClassHashVersion, v1.NodeClassHashVersion)))
		Expect(ExpectExists(ctx, env.Client, claims[1]).Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHashVersion, "v1"),
			"a NodeClaim already Drifted keeps its replacement")

		// After the re-stamp, a hashed field still drifts the node launched before the upgrade.
		nodeClass = ExpectExists(ctx, env.Client, nodeClass)
		nodeClass.Spec.UserData = lo.ToPtr("#!/bin/sh\necho changed\n")
		ExpectApplied(ctx, env.Client, nodeClass)
		ExpectObjectReconciled(ctx, env.Client, nodeClassCtrl, nodeClass)
		reason, err := cloudProvider.IsDrifted(ctx, ExpectExists(ctx, env.Client, claims[0]))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(reason)).To(Equal("NodeClassDrift"))
	})
})
