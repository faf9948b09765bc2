package cloudprovider_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/nodepool/readiness"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/garbagecollection"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

func decodeUserData(encoded string) string {
	GinkgoHelper()
	raw, err := base64.StdEncoding.DecodeString(encoded)
	Expect(err).ToNot(HaveOccurred())
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	Expect(err).ToNot(HaveOccurred())
	out, err := io.ReadAll(zr)
	Expect(err).ToNot(HaveOccurred())
	return string(out)
}

func liveVMs() []simulator.VM {
	return lo.Filter(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM, _ int) bool {
		return vm.State != "Destroyed" && vm.State != "Expunging" && vm.State != "Error"
	})
}

func pendingPod(cpu string) *corev1.Pod {
	return coretest.UnschedulablePod(coretest.PodOptions{ResourceRequirements: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
	}})
}

var _ = Describe("Provisioning", func() {
	var nodeClass *v1.CloudStackNodeClass
	var nodePool *karpv1.NodePool

	BeforeEach(func() {
		nodeClass = expectNodeClassReconciled(newNodeClass())
		Expect(nodeClass.StatusConditions().Root().IsTrue()).To(BeTrue(), "NodeClass should be Ready: %v", nodeClass.Status.Conditions)
		nodePool = nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
	})

	It("turns a pending pod into a VM with the right offering, zone, network, template, tags and userData", func() {
		pod := pendingPod("1500m")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		node := ExpectScheduled(ctx, env.Client, pod)

		vms := liveVMs()
		Expect(vms).To(HaveLen(1))
		vm := vms[0]
		nodeClaims := ExpectNodeClaims(ctx, env.Client)
		Expect(nodeClaims).To(HaveLen(1))
		nodeClaim := nodeClaims[0]

		// The cheapest general-purpose offering that fits 1.5 vCPU plus overhead: small (2 vCPU).
		Expect(vm.ServiceOfferingName).To(Equal("small"))
		Expect(vm.Name).To(Equal(nodeClaim.Name))
		Expect(vm.ZoneName).To(Equal("zone-a"))
		Expect(vm.NetworkIDs).To(Equal([]string{nodeClass.Status.Networks[0].ID}))
		Expect(vm.TemplateID).To(Equal(nodeClass.Status.Templates[0].ID))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyCluster, test.ClusterName))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodePool, nodePool.Name))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodeClaim, nodeClaim.Name))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodeClass, nodeClass.Name))
		Expect(vm.Tags).To(HaveKeyWithValue("team", "platform"))
		userData := decodeUserData(vm.UserData)
		Expect(userData).To(ContainSubstring(nodeClaim.Name))
		Expect(userData).To(ContainSubstring("karpenter.sh/unregistered:NoExecute"))

		Expect(nodeClaim.Status.ProviderID).To(Equal(v1.ProviderID(vm.ID)))
		Expect(node.Spec.ProviderID).To(Equal(v1.ProviderID(vm.ID)))
		Expect(nodeClaim.Status.ImageID).To(Equal(vm.TemplateID))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "small"))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "zone-a"))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, "amd64"))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(v1.LabelServiceOfferingID, vm.ServiceOfferingID))
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(v1.LabelInstanceCPU, "2"))
		Expect(nodeClaim.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHash, nodeClass.Hash()))
		Expect(nodeClaim.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHashVersion, v1.NodeClassHashVersion))
		Expect(nodeClaim.Status.Capacity.Cpu().String()).To(Equal("2"))
		// The guest sees 95% of the offering's 4096 MiB (the default VM memory overhead), rounded down to a MiB.
		Expect(nodeClaim.Status.Capacity.Memory().Value()).To(Equal(int64(3891) * 1024 * 1024))
		Expect(nodeClaim.Status.Allocatable.Cpu().Cmp(*nodeClaim.Status.Capacity.Cpu())).To(Equal(-1), "allocatable must leave room for overhead")
	})

	It("falls back to the next offering when the cheapest has no capacity, and remembers it", func() {
		csEnv.Simulator.FailNextDeploys(1, "zone-a", "small")
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		ExpectScheduled(ctx, env.Client, pod)

		vms := liveVMs()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].ServiceOfferingName).To(Equal("medium"))
		// The failed VM of the first attempt was destroyed, not left in Error.
		Expect(lo.CountBy(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.State == "Error" })).To(BeZero())

		its, err := cloudProvider.GetInstanceTypes(ctx, nodePool)
		Expect(err).ToNot(HaveOccurred())
		small, ok := lo.Find(its, func(it *corecloudprovider.InstanceType) bool { return it.Name == "small" })
		Expect(ok).To(BeTrue())
		Expect(small.Offerings.Available()).To(BeEmpty(), "small in zone-a should be marked unavailable")
	})

	It("adopts the VM of a repeated Create instead of deploying a second one", func() {
		nodeClaim := coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.k8s.cloudstack", Kind: "CloudStackNodeClass", Name: nodeClass.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"medium"}}},
		}})
		nodeClaim.Labels = lo.Assign(nodeClaim.Labels, map[string]string{karpv1.NodePoolLabelKey: nodePool.Name})
		first, err := cloudProvider.Create(ctx, nodeClaim)
		Expect(err).ToNot(HaveOccurred())
		second, err := cloudProvider.Create(ctx, nodeClaim)
		Expect(err).ToNot(HaveOccurred())
		Expect(second.Status.ProviderID).To(Equal(first.Status.ProviderID))
		Expect(liveVMs()).To(HaveLen(1))
	})

	It("maps VMs back to NodeClaims with Get and List, and Delete ends in NodeClaimNotFound", func() {
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]

		got, err := cloudProvider.Get(ctx, nodeClaim.Status.ProviderID)
		Expect(err).ToNot(HaveOccurred())
		Expect(got.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, nodeClaim.Labels[corev1.LabelInstanceTypeStable]))
		Expect(got.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, nodePool.Name))
		// The CloudStack CCM's providerID format resolves to the same VM.
		id, _ := v1.ParseProviderID(nodeClaim.Status.ProviderID)
		viaCCM, err := cloudProvider.Get(ctx, "external-cloudstack://"+id)
		Expect(err).ToNot(HaveOccurred())
		Expect(viaCCM.Status.ProviderID).To(Equal(nodeClaim.Status.ProviderID))

		listed, err := cloudProvider.List(ctx)
		Expect(err).ToNot(HaveOccurred())
		Expect(lo.Map(listed, func(nc *karpv1.NodeClaim, _ int) string { return nc.Status.ProviderID })).To(ConsistOf(nodeClaim.Status.ProviderID))

		Eventually(func() error { return cloudProvider.Delete(ctx, nodeClaim) }).WithTimeout(10 * time.Second).
			Should(Satisfy(corecloudprovider.IsNodeClaimNotFoundError))
		_, err = cloudProvider.Get(ctx, nodeClaim.Status.ProviderID)
		Expect(corecloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "got %v", err)
		Expect(liveVMs()).To(BeEmpty())
	})

	It("reboots the VM in place", func() {
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		Expect(cloudProvider.Reboot(ctx, nodeClaim, "op-1")).To(Succeed())
		Expect(liveVMs()[0].Reboots).To(Equal(1))
	})
})

var _ = Describe("NodeClass readiness", func() {
	It("launches nothing while the NodeClass is not ready, and the NodePool reports it", func() {
		nodeClass := newNodeClass()
		nodeClass.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "ubuntu-does-not-exist"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.StatusConditions().Root().IsFalse()).To(BeTrue())
		templates := nodeClass.StatusConditions().Get(v1.ConditionTypeTemplatesReady)
		Expect(templates.IsFalse()).To(BeTrue())
		Expect(templates.Message).To(ContainSubstring("ubuntu-does-not-exist"))

		nodePool := nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
		ExpectObjectReconciled(ctx, env.Client, readiness.NewController(env.Clock, env.Client, cloudProvider), nodePool)
		nodePool = ExpectExists(ctx, env.Client, nodePool)
		Expect(nodePool.StatusConditions().Get(karpv1.ConditionTypeNodeClassReady).IsFalse()).To(BeTrue())

		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		ExpectNotScheduled(ctx, env.Client, pod)
		Expect(csEnv.Simulator.VirtualMachines()).To(BeEmpty())

		// Create itself refuses too, with the error that makes core drop the NodeClaim.
		_, err := cloudProvider.Create(ctx, coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.k8s.cloudstack", Kind: "CloudStackNodeClass", Name: nodeClass.Name},
		}}))
		Expect(corecloudprovider.IsNodeClassNotReadyError(err)).To(BeTrue(), "got %v", err)
		_, err = cloudProvider.Create(ctx, coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.k8s.cloudstack", Kind: "CloudStackNodeClass", Name: "missing"},
		}}))
		Expect(corecloudprovider.IsNodeClassNotReadyError(err)).To(BeTrue(), "got %v", err)
	})
})

var _ = Describe("Drift", func() {
	var nodeClass *v1.CloudStackNodeClass
	var nodeClaim *karpv1.NodeClaim

	BeforeEach(func() {
		nodeClass = expectNodeClassReconciled(newNodeClass())
		nodePool := nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim = ExpectNodeClaims(ctx, env.Client)[0]
		reason, err := cloudProvider.IsDrifted(ctx, nodeClaim)
		Expect(err).ToNot(HaveOccurred())
		Expect(reason).To(BeEmpty())
	})

	It("reports NodeClassDrift when a hashed spec field changes", func() {
		nodeClass.Spec.UserData = lo.ToPtr("#cloud-config\n")
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.NodeClassDrift))
	})
	It("does not compare hashes of another hash version", func() {
		nodeClaim.Annotations[v1.AnnotationNodeClassHashVersion] = "v0"
		nodeClass.Spec.UserData = lo.ToPtr("#cloud-config\n")
		expectNodeClassReconciled(nodeClass)
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(BeEmpty())
	})
	It("reports ServiceOfferingDrift when the VM's offering is no longer selected", func() {
		nodeClass.Spec.ServiceOfferingSelectorTerms = []v1.SelectorTerm{{Name: "large"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.ServiceOfferingDrift))
	})
	It("reports NetworkDrift when the zone's default network changes", func() {
		nodeClass.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "shared-a"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.NetworkDrift))
	})
	It("reports ZoneDrift when the VM's zone is no longer selected", func() {
		nodeClass.Spec.Zone = "zone-b"
		nodeClass.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "isolated-b"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.ZoneDrift))
	})
	It("reports TemplateDrift when the zone's resolved template changes", func() {
		// The catalog has one ready amd64 template in zone-a; a status written by the NodeClass controller after a
		// template swap looks like this.
		stored := nodeClass.DeepCopy()
		nodeClass.Status.Templates[0].ID = "7f1d7d39-0000-4000-8000-000000000001"
		Expect(env.Client.Status().Patch(ctx, nodeClass, client.MergeFrom(stored))).To(Succeed())
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.TemplateDrift))
	})
	It("compares the template of the VM's architecture only", func() {
		// An arm64 template joins the zone (sorted first): the amd64 VM's own template is unchanged, so no drift.
		stored := nodeClass.DeepCopy()
		nodeClass.Status.Templates = append([]v1.Template{{ID: "7f1d7d39-0000-4000-8000-000000000002", Name: "arm", ZoneID: nodeClass.Status.Templates[0].ZoneID,
			Architecture: "arm64"}}, nodeClass.Status.Templates...)
		Expect(env.Client.Status().Patch(ctx, nodeClass, client.MergeFrom(stored))).To(Succeed())
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(BeEmpty())
		// Without an amd64 template the VM's architecture is no longer served.
		stored = nodeClass.DeepCopy()
		nodeClass.Status.Templates = nodeClass.Status.Templates[:1]
		Expect(env.Client.Status().Patch(ctx, nodeClass, client.MergeFrom(stored))).To(Succeed())
		Expect(cloudProvider.IsDrifted(ctx, nodeClaim)).To(Equal(cloudprovider.TemplateDrift))
	})
})

var _ = Describe("Garbage collection", func() {
	It("destroys leaked VMs of this cluster after the grace period and never touches a foreign VM", func() {
		nodeClass := expectNodeClassReconciled(newNodeClass())
		nodePool := nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
		// A NodeClaim whose VM was launched, then deleted from the API server before the VM was: a leak.
		leakedClaim := coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.k8s.cloudstack", Kind: "CloudStackNodeClass", Name: nodeClass.Name},
		}})
		leakedClaim.Labels = lo.Assign(leakedClaim.Labels, map[string]string{karpv1.NodePoolLabelKey: nodePool.Name})
		leaked, err := cloudProvider.Create(ctx, leakedClaim)
		Expect(err).ToNot(HaveOccurred())
		// A VM with a NodeClaim: kept.
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		kept := ExpectNodeClaims(ctx, env.Client)[0]
		// A VM of someone else in the same account, named like a NodeClaim but without this cluster's tags.
		foreign := "default-foreign-x7k2p"
		test.DeployVM(csEnv, foreign, "zone-a", nil)
		// A second VM of this cluster under the name of a launched NodeClaim, as a Create retried after a restart
		// in another zone would leave: the NodeClaim's providerID names the other VM, so this one is a leak.
		duplicate := test.DeployVM(csEnv, kept.Name, "zone-b", map[string]string{v1.TagKeyCluster: test.ClusterName, v1.TagKeyNodeClaim: kept.Name})
		// A failed launch whose own cleanup failed: tagged, in Error, claimed by nobody.
		csEnv.Simulator.FailNextDeploys(1, "zone-b", "")
		failed := test.DeployVM(csEnv, "default-failed-q9w3z", "zone-b", map[string]string{v1.TagKeyCluster: test.ClusterName})
		Expect(lo.Must(csEnv.API.GetVM(ctx, failed)).State).To(Equal("Error"))

		gc := garbagecollection.NewController(env.Clock, env.Client, csEnv.InstanceProvider, 30*time.Second)
		ExpectSingletonReconciled(ctx, gc)
		Expect(liveVMs()).To(HaveLen(4), "nothing is collected within the grace period")

		env.Clock.Step(time.Minute)
		ExpectSingletonReconciled(ctx, gc)
		names := lo.Map(liveVMs(), func(vm simulator.VM, _ int) string { return vm.Name })
		Expect(names).To(ConsistOf(kept.Name, foreign))
		leakedID, _ := v1.ParseProviderID(leaked.Status.ProviderID)
		Expect(lo.ContainsBy(liveVMs(), func(vm simulator.VM) bool { return vm.ID == leakedID || vm.ID == duplicate })).To(BeFalse())
		if vm, found := lo.Find(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == failed }); found {
			Expect(vm.State).To(BeElementOf("Destroyed", "Expunging"), "the VM left in Error must be destroyed")
		}
	})
})
