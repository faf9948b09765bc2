package cloudprovider_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	nodeclaimlifecycle "sigs.k8s.io/karpenter/pkg/controllers/nodeclaim/lifecycle"
	"sigs.k8s.io/karpenter/pkg/controllers/nodepool/readiness"
	"sigs.k8s.io/karpenter/pkg/state/nodepoolhealth"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
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
		Expect(vm.DisplayName).To(Equal(nodeClaim.Name))
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

	It("maps VMs back to NodeClaims with Get and List, and the Delete that destroys the VM answers NodeClaimNotFound", func() {
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

		// The call that destroys the VM already answers NodeClaimNotFound: after a nil core asks again only 5 s later.
		err = cloudProvider.Delete(ctx, nodeClaim)
		Expect(corecloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "got %v", err)
		Expect(liveVMs()).To(BeEmpty())
		_, err = cloudProvider.Get(ctx, nodeClaim.Status.ProviderID)
		Expect(corecloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "got %v", err)
		Expect(cloudProvider.Delete(ctx, nodeClaim)).To(Satisfy(corecloudprovider.IsNodeClaimNotFoundError))
	})

	It("reboots the VM in place", func() {
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		Expect(cloudProvider.Reboot(ctx, nodeClaim, "op-1")).To(Succeed())
		Expect(liveVMs()[0].Reboots).To(Equal(1))
	})

	It("keeps transient reboot failures retryable and fails the reboot only when retrying cannot help", func() {
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		transient := func(err error) {
			GinkgoHelper()
			Expect(err).To(HaveOccurred())
			Expect(corecloudprovider.IsNodeRebootFailedError(err)).To(BeFalse(), "core must retry: %v", err)
			Expect(corecloudprovider.IsNodeClaimNotFoundError(err)).To(BeFalse())
		}
		csEnv.Simulator.FailNextCommands("rebootVirtualMachine", 1)
		transient(cloudProvider.Reboot(ctx, nodeClaim, "op-1"))
		csEnv.Simulator.SetThrottle(true)
		transient(cloudProvider.Reboot(ctx, nodeClaim, "op-1"))
		csEnv.Simulator.SetThrottle(false)
		csEnv.Simulator.DropNextConnections(1)
		transient(cloudProvider.Reboot(ctx, nodeClaim, "op-1"))
		Expect(cloudProvider.Reboot(ctx, nodeClaim, "op-1")).To(Succeed(), "the retry succeeds")

		// A stopped VM cannot be rebooted (431): retrying cannot help.
		id := lo.Must(v1.ParseProviderID(nodeClaim.Status.ProviderID))
		// An operator stops it with their own key: the provider's role does not allow stopVirtualMachine.
		sdk := csgo.NewClient(csEnv.Simulator.URL(), "sim-admin-api-key", "sim-admin-secret-key", false)
		stopped := lo.Must(sdk.VirtualMachine.StopVirtualMachine(sdk.VirtualMachine.NewStopVirtualMachineParams(id)))
		Eventually(func(g Gomega) int {
			job, err := sdk.Asyncjob.QueryAsyncJobResult(sdk.Asyncjob.NewQueryAsyncJobResultParams(stopped.JobID))
			g.Expect(err).NotTo(HaveOccurred())
			return job.Jobstatus
		}).WithTimeout(30 * time.Second).Should(Equal(1))
		err := cloudProvider.Reboot(ctx, nodeClaim, "op-2")
		Expect(corecloudprovider.IsNodeRebootFailedError(err)).To(BeTrue(), "%v", err)
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

var _ = Describe("Hostile userData at launch", func() {
	It("refuses to render a template past a bound even when the NodeClass's Ready is stale, and deploys nothing", func() {
		nodeClass := expectNodeClassReconciled(newNodeClass())
		Expect(nodeClass.StatusConditions().Root().IsTrue()).To(BeTrue())
		// The spec changes and Create runs before the NodeClass controller has seen it: Ready is still True.
		nodeClass.Spec.UserData = lo.ToPtr(`{{ $s := printf "%1000s" "x" }}{{ $n := 1000000000000 }}{{ range $n }}{{ $s }}{{ end }}`)
		ExpectApplied(ctx, env.Client, nodeClass)

		_, err := cloudProvider.Create(ctx, coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: "karpenter.k8s.cloudstack", Kind: "CloudStackNodeClass", Name: nodeClass.Name},
		}}))
		Expect(err).To(HaveOccurred())
		Expect(corecloudprovider.IsNodeClassNotReadyError(err)).To(BeFalse())
		Expect(err.Error()).To(ContainSubstring("rendered size bound"))
		Expect(csEnv.Simulator.VirtualMachines()).To(BeEmpty())
		Expect(csEnv.Simulator.Counts()["deployVirtualMachine"]).To(BeZero())
	})
})

var _ = Describe("NodeClass readiness not yet known", func() {
	It("keeps the NodeClaim of a NodeClass the controller has not reconciled yet, and launches it once Ready", func() {
		// Applied, never reconciled: no Ready condition at all, as right after `kubectl apply` of a NodeClass and
		// a NodeClaim together.
		nodeClass := newNodeClass()
		ExpectApplied(ctx, env.Client, nodeClass)
		nodePool := nodePoolFor(nodeClass)
		nodeClaim := coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClass.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"small"}}},
		}})
		nodeClaim.Labels = lo.Assign(nodeClaim.Labels, map[string]string{karpv1.NodePoolLabelKey: nodePool.Name})
		ExpectApplied(ctx, env.Client, nodePool, nodeClaim)

		_, err := cloudProvider.Create(ctx, nodeClaim)
		Expect(err).To(HaveOccurred())
		Expect(corecloudprovider.IsNodeClassNotReadyError(err)).To(BeFalse(), "Unknown is not broken: %v", err)
		var createErr *corecloudprovider.CreateError
		Expect(errors.As(err, &createErr)).To(BeTrue(), "got %T %v", err, err)
		Expect(createErr.ConditionReason).To(Equal("NodeClassReadinessUnknown"))

		// Core's own launch path: the NodeClaim survives with Launched=Unknown and the reason, and no VM exists.
		lifecycleCtrl := nodeclaimlifecycle.NewController(env.Clock, env.Client, cloudProvider, recorder, cluster, nodepoolhealth.NewState(), nil)
		_ = ExpectObjectReconcileFailed(ctx, env.Client, lifecycleCtrl, nodeClaim)
		nodeClaim = ExpectExists(ctx, env.Client, nodeClaim)
		launched := nodeClaim.StatusConditions().Get(karpv1.ConditionTypeLaunched)
		Expect(launched.IsUnknown()).To(BeTrue(), "%v", launched)
		Expect(launched.Reason).To(Equal("NodeClassReadinessUnknown"))
		Expect(liveVMs()).To(BeEmpty())

		// Reconciled: core's retry of the same NodeClaim launches it.
		expectNodeClassReconciled(nodeClass)
		launchedClaim, err := cloudProvider.Create(ctx, nodeClaim)
		Expect(err).NotTo(HaveOccurred())
		Expect(launchedClaim.Status.ProviderID).NotTo(BeEmpty())
		Expect(liveVMs()).To(HaveLen(1))
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

var _ = Describe("Zone names", func() {
	It("launches in a zone named with spaces and parentheses, labelled with the zone name made a valid label value", func() {
		// A zone of the example catalog, renamed as operators name zones.
		cat := lo.Must(test.ExampleCatalog())
		const paris = "Zone 1 (Paris)"
		for i := range cat.Zones {
			if cat.Zones[i].Name == "zone-a" {
				cat.Zones[i].Name = paris
			}
		}
		for i := range cat.Networks {
			if cat.Networks[i].Zone == "zone-a" {
				cat.Networks[i].Zone = paris
			}
		}
		for i := range cat.Templates {
			for j, z := range cat.Templates[i].Zones {
				if z == "zone-a" {
					cat.Templates[i].Zones[j] = paris
				}
			}
		}
		for i := range cat.ServiceOfferings {
			cat.ServiceOfferings[i].Zones = lo.Map(cat.ServiceOfferings[i].Zones, func(z string, _ int) string { return lo.Ternary(z == "zone-a", paris, z) })
		}
		csEnv = lo.Must(test.NewEnvironment(test.WithCatalog(cat)))
		DeferCleanup(csEnv.Close)
		wire()

		nodeClass := newNodeClass()
		nodeClass.Spec.Zone = paris
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.StatusConditions().Root().IsTrue()).To(BeTrue(), "%v", nodeClass.Status.Conditions)
		nodePool := nodePoolFor(nodeClass)
		nodePool.Spec.Template.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelTopologyZone,
			Operator: corev1.NodeSelectorOpIn, Values: []string{"Zone_1__Paris"}}}
		ExpectApplied(ctx, env.Client, nodePool)
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		Expect(nodeClaim.Status.ProviderID).NotTo(BeEmpty())
		Expect(nodeClaim.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "Zone_1__Paris"))
		vm := liveVMs()[0]
		Expect(vm.ZoneName).To(Equal(paris))
		listed := lo.Must(cloudProvider.List(ctx))
		Expect(listed[0].Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "Zone_1__Paris"))
	})
})

var _ = Describe("Disabled zones", func() {
	// refresh drops every provider cache, as their TTLs would, so the test sees CloudStack as it is now.
	refresh := func() {
		csEnv.Operator = csEnv.Restarted().Operator
		wire()
	}

	It("stops launches in a zone an operator disables, without drifting its running nodes, and resumes once re-enabled", func() {
		nodeClass := newNodeClass()
		nodeClass.Spec.Zone = ""
		nodeClass.Spec.ZoneSelectorTerms = []v1.SelectorTerm{{Name: "zone-a"}, {Name: "zone-b"}}
		nodeClass.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "isolated-a"}, {Name: "isolated-b"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.Zones).To(HaveLen(2))
		inZone := func(zone string) *karpv1.NodePool {
			np := nodePoolFor(nodeClass)
			np.Spec.Template.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelTopologyZone,
				Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}
			return np
		}
		poolA := inZone("zone-a")
		ExpectApplied(ctx, env.Client, poolA)
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pendingPod("1"))
		running := ExpectNodeClaims(ctx, env.Client)[0]
		Expect(running.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "zone-a"))
		running.Annotations = lo.Assign(running.Annotations, map[string]string{v1.AnnotationNodeClassHash: nodeClass.Hash(),
			v1.AnnotationNodeClassHashVersion: v1.NodeClassHashVersion})

		csEnv.Simulator.SetZoneDisabled("zone-a", true)
		refresh()
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.Zones).To(ConsistOf(HaveField("Name", "zone-b")), "a disabled zone is not launched in")
		Expect(cloudProvider.IsDrifted(ctx, running)).To(BeEmpty(), "the running node is not replaced")
		pending := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pending)
		ExpectNotScheduled(ctx, env.Client, pending)
		Expect(ExpectNodeClaims(ctx, env.Client)).To(HaveLen(1))

		csEnv.Simulator.SetZoneDisabled("zone-a", false)
		refresh()
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.Zones).To(HaveLen(2))
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pending)
		Expect(ExpectNodeClaims(ctx, env.Client)).To(HaveLen(2), "launches resume")
	})
})

var _ = Describe("Create, Get, List and IsDrifted at the edges of a NodeClass's life", func() {
	var nodeClass *v1.CloudStackNodeClass
	var nodePool *karpv1.NodePool
	claimFor := func(instanceTypes ...string) *karpv1.NodeClaim {
		nc := coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClass.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: instanceTypes}},
		}})
		nc.Labels = lo.Assign(nc.Labels, map[string]string{karpv1.NodePoolLabelKey: nodePool.Name})
		return nc
	}
	BeforeEach(func() {
		nodeClass = expectNodeClassReconciled(newNodeClass())
		nodePool = nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
	})

	It("refuses to launch for a NodeClass being deleted, and deploys nothing", func() {
		Expect(nodeClass.Finalizers).NotTo(BeEmpty(), "the NodeClass controller's finalizer keeps it while deleting")
		Expect(env.Client.Delete(ctx, nodeClass)).To(Succeed())
		_, err := cloudProvider.Create(ctx, claimFor("small"))
		Expect(err).To(MatchError(ContainSubstring(nodeClass.Name)))
		Expect(csEnv.Simulator.VirtualMachines()).To(BeEmpty())
		ExpectFinalizersRemoved(ctx, env.Client, nodeClass)
	})

	It("answers InsufficientCapacity, naming the NodeClass, when no offering satisfies the NodeClaim", func() {
		_, err := cloudProvider.Create(ctx, claimFor("no-such-offering"))
		Expect(corecloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "got %v", err)
		Expect(err).To(MatchError(ContainSubstring(nodeClass.Name)))
		Expect(csEnv.Simulator.VirtualMachines()).To(BeEmpty())
	})

	It("still finds, lists and judges drift of a VM after its NodeClass is gone", func() {
		created, err := cloudProvider.Create(ctx, claimFor("small"))
		Expect(err).NotTo(HaveOccurred())
		nodeClaim := claimFor("small")
		nodeClaim.Status = created.Status
		nodeClaim.Annotations = created.Annotations
		ExpectFinalizersRemoved(ctx, env.Client, nodeClass)
		ExpectDeleted(ctx, env.Client, nodeClass)

		got, err := cloudProvider.Get(ctx, created.Status.ProviderID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Status.ProviderID).To(Equal(created.Status.ProviderID))
		// Without the NodeClass the instance type cannot be resolved; what the VM itself says is still reported.
		Expect(got.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "zone-a"))
		Expect(got.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, nodePool.Name))
		listed, err := cloudProvider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(listed, func(nc *karpv1.NodeClaim, _ int) string { return nc.Status.ProviderID })).To(ConsistOf(created.Status.ProviderID))
		reason, err := cloudProvider.IsDrifted(ctx, nodeClaim)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty(), "without its NodeClass there is nothing to drift from")
	})
})

var _ = Describe("NodePool names", func() {
	DescribeTable("launch VMs with valid hostnames for NodePools whose names are DNS subdomains, and find them again",
		func(nodePoolName string) {
			nodeClass := expectNodeClassReconciled(newNodeClass())
			nodePool := nodePoolFor(nodeClass)
			nodePool.Name = nodePoolName
			ExpectApplied(ctx, env.Client, nodePool)
			ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pendingPod("1"))
			nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
			Expect(nodeClaim.Status.ProviderID).NotTo(BeEmpty())
			vm := liveVMs()[0]
			Expect(vm.Name).To(Equal(instance.Hostname(nodeClaim.Name)))
			Expect(vm.Name).To(MatchRegexp(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`))
			Expect(vm.DisplayName).To(Equal(nodeClaim.Name))
			Expect(vm.Tags).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, nodePoolName))
			got, err := cloudProvider.Get(ctx, nodeClaim.Status.ProviderID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Labels).To(HaveKeyWithValue(karpv1.NodePoolLabelKey, nodePoolName))
		},
		Entry("with a dot", "gpu.v1"),
		Entry("with a leading digit", "1st-pool"),
		Entry("of 63 characters", "pool-"+strings.Repeat("x", 58)),
	)
})
