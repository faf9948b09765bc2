package garbagecollection_test

import (
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/garbagecollection"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

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
		duplicate := test.DeployVM(csEnv, kept.Name, "zone-b", lo.Assign(test.Owner().Tags(), map[string]string{v1.TagKeyNodeClaim: kept.Name}))
		// A failed launch whose own cleanup failed: tagged, in Error, claimed by nobody.
		csEnv.Simulator.FailNextDeploys(1, "zone-b", "")
		failed := test.DeployVM(csEnv, "default-failed-q9w3z", "zone-b", test.Owner().Tags())
		Expect(lo.Must(csEnv.API.GetVM(ctx, failed)).State).To(Equal("Error"))

		gc := garbagecollection.NewController(env.Clock, env.Client, csEnv.InstanceProvider, 30*time.Second)
		ExpectSingletonReconciled(ctx, gc)
		Expect(liveVMs()).To(HaveLen(4), "nothing is collected within the grace period")

		env.Clock.Step(10 * time.Minute) // far past the 30 s grace period, however long the spec took in real time
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

var _ = Describe("Garbage collection on a shared cloud", func() {
	// deploy launches a VM in zone-a outside the provider, through the given account, in the given instance group and
	// with the given tags (none: a launch whose tagging failed).
	deploy := func(api *cloudstack.Client, name, network, group string, tags map[string]string) string {
		GinkgoHelper()
		zoneID := lo.Must(csEnv.ZoneProvider.List(ctx))[0].Id
		p := &csgo.DeployVirtualMachineParams{}
		p.SetZoneid(zoneID)
		p.SetServiceofferingid(simulator.StableID("serviceoffering", "small"))
		p.SetTemplateid(simulator.StableID("template", "ubuntu-24.04-kube-v1.36-amd64"))
		p.SetNetworkids([]string{simulator.StableID("network", network)})
		p.SetName(name)
		p.SetGroup(group)
		id, jobID := lo.Must2(api.DeployVM(ctx, p))
		if len(tags) > 0 {
			lo.Must0(api.CreateTags(ctx, []string{id}, "UserVm", tags))
		}
		lo.Must(api.WaitForJob(ctx, jobID))
		return id
	}
	clientFor := func(key, secret string) *cloudstack.Client { return lo.Must(csEnv.ClientWithKeys(key, secret)) }
	gcFor := func(api *cloudstack.Client, owner instance.Owner) *garbagecollection.Controller {
		return garbagecollection.NewController(env.Clock, env.Client, instance.NewDefaultProvider(api, csEnv.UnavailableOfferings, owner, instance.WithServiceOfferings(csEnv.InstanceTypeProvider.(*instancetype.DefaultProvider))), 30*time.Second)
	}

	It("stays inside its project: a project's GC never sees the account's VMs, and the account's never the project's", func() {
		ours := test.Owner()
		projectAPI := lo.Must(cloudstack.New(cloudstack.Options{APIURL: csEnv.Simulator.URL(), APIKey: "sim-user-api-key",
			SecretKey: "sim-user-secret-key", Project: "platform", JobPollInterval: 10 * time.Millisecond,
			JobPollMaxInterval: 100 * time.Millisecond, QPS: 1000, Burst: 1000}))
		inProject := []string{
			deploy(projectAPI, "project-tagged", "shared-a", ours.Group(), ours.Tags()),
			deploy(projectAPI, "project-untagged", "shared-a", ours.Group(), nil),
		}
		inAccount := deploy(csEnv.API, "account-tagged", "isolated-a", ours.Group(), ours.Tags())
		project := func() []string {
			return lo.FilterMap(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM, _ int) (string, bool) {
				return vm.ID, vm.Project == "platform" && vm.State != "Destroyed" && vm.State != "Expunging"
			})
		}
		alive := func(id string) bool {
			return lo.ContainsBy(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool {
				return vm.ID == id && vm.State != "Destroyed" && vm.State != "Expunging"
			})
		}
		Expect(project()).To(ConsistOf(inProject))
		env.Clock.Step(10 * time.Minute)

		ExpectSingletonReconciled(ctx, gcFor(projectAPI, ours))
		Expect(project()).To(BeEmpty(), "the project's GC destroys the project's leaks")
		Expect(alive(inAccount)).To(BeTrue(), "the project's GC must not touch the account's VMs")

		inProject = []string{deploy(projectAPI, "project-tagged-2", "shared-a", ours.Group(), ours.Tags())}
		env.Clock.Step(10 * time.Minute)
		ExpectSingletonReconciled(ctx, gcFor(csEnv.API, ours))
		Expect(alive(inAccount)).To(BeFalse(), "the account's GC destroys the account's leak")
		Expect(project()).To(ConsistOf(inProject), "the account's GC must not touch the project's VMs")
		ExpectSingletonReconciled(ctx, gcFor(projectAPI, ours))
		Expect(project()).To(BeEmpty())
	})

	It("destroys only each cluster's own leaks when clusters share a name, in one account and across accounts", func() {
		ours := test.Owner()
		sameAccount := instance.Owner{ClusterName: test.ClusterName, ClusterID: "0f4c2e1a-9b7d-4e36-8c15-3a2d6f9e0b47"}
		rootAPI, domainAdminAPI := clientFor("sim-admin-api-key", "sim-admin-secret-key"), clientFor("sim-domain-admin-api-key", "sim-domain-admin-secret-key")

		mine := []string{
			deploy(csEnv.API, "mine-tagged", "isolated-a", ours.Group(), ours.Tags()),
			deploy(csEnv.API, "mine-untagged", "isolated-a", ours.Group(), nil),
		}
		theirs := []string{
			deploy(csEnv.API, "theirs-tagged", "isolated-a", sameAccount.Group(), sameAccount.Tags()),
			deploy(csEnv.API, "theirs-untagged", "isolated-a", sameAccount.Group(), nil),
		}
		// Other accounts' clusters, run with root-admin and domain-admin keys; the worst case: same name, same ID.
		rootOwn := deploy(rootAPI, "root-own", "shared-a", ours.Group(), ours.Tags())
		domainAdminOwn := deploy(domainAdminAPI, "domain-admin-own", "shared-a", ours.Group(), ours.Tags())
		all := append(append(append([]string{}, mine...), theirs...), rootOwn, domainAdminOwn)
		live := func() []string {
			return lo.FilterMap(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM, _ int) (string, bool) {
				return vm.ID, vm.State != "Destroyed" && vm.State != "Expunging"
			})
		}
		Expect(live()).To(ConsistOf(all))
		env.Clock.Step(10 * time.Minute) // far past the 30 s grace period, however long the spec took in real time

		ExpectSingletonReconciled(ctx, gcFor(rootAPI, ours))
		Expect(live()).To(ConsistOf(lo.Without(all, rootOwn)), "the root admin's GC destroys its own leak only")
		ExpectSingletonReconciled(ctx, gcFor(domainAdminAPI, ours))
		Expect(live()).To(ConsistOf(lo.Without(all, rootOwn, domainAdminOwn)), "the domain admin's GC destroys its own leak only")
		ExpectSingletonReconciled(ctx, gcFor(csEnv.API, ours))
		Expect(live()).To(ConsistOf(theirs), "this cluster destroys its leaks, tagged or not, and nothing of the other cluster of its name")
		ExpectSingletonReconciled(ctx, gcFor(csEnv.API, sameAccount))
		Expect(live()).To(BeEmpty())
	})

	It("completes the tags of a NodeClaim's VM whose tagging failed at launch", func() {
		nodeClass := expectNodeClassReconciled(newNodeClass())
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		// createTags fails for both of Create's attempts; the VM is ours by its instance group only.
		csEnv.Simulator.FailNextCommands("createTags", 2)
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		vmID := lo.Must(v1.ParseProviderID(nodeClaim.Status.ProviderID))
		vm, _ := lo.Find(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == vmID })
		Expect(vm.Tags).To(BeEmpty())
		listed := lo.Must(cloudProvider.List(ctx))
		Expect(lo.Map(listed, func(nc *karpv1.NodeClaim, _ int) string { return nc.Status.ProviderID })).To(ContainElement(nodeClaim.Status.ProviderID),
			"an untagged VM of this cluster is still listed, so core never garbage-collects its NodeClaim")

		csEnv.Simulator.FailNextCommands("createTags", 1)
		gc := garbagecollection.NewController(env.Clock, env.Client, csEnv.InstanceProvider, 30*time.Second)
		env.Clock.Step(10 * time.Minute) // far past the 30 s grace period, however long the spec took in real time
		_, err := gc.Reconcile(ctx)
		Expect(err).To(HaveOccurred(), "a third failure is reported and retried on the next pass")
		ExpectSingletonReconciled(ctx, gc)
		vm, _ = lo.Find(csEnv.Simulator.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == vmID })
		Expect(vm.Tags).To(Equal(lo.Assign(test.Owner().Tags(), map[string]string{
			v1.TagKeyNodeClass: nodeClass.Name, v1.TagKeyNodePool: nodeClaim.Labels[karpv1.NodePoolLabelKey],
			"team": "platform",
		})))
		Expect(vm.State).To(Equal("Running"), "the VM is kept")
		csEnv.Simulator.ResetCounts()
		ExpectSingletonReconciled(ctx, gc)
		Expect(csEnv.Simulator.Counts()).NotTo(HaveKey("createTags"), "a fully tagged VM costs no tagging request")
	})
})

var _ = Describe("Garbage collection of launches in flight", func() {
	It("never destroys the VM of a NodeClaim whose launch has not recorded a providerID yet, however old", func() {
		nodeClass := expectNodeClassReconciled(newNodeClass())
		nodePool := nodePoolFor(nodeClass)
		ExpectApplied(ctx, env.Client, nodePool)
		// The NodeClaim exists in the API server; its VM is deployed but Create has not returned, so the NodeClaim
		// carries no providerID (as after a controller restart in the middle of a launch).
		launching := coretest.NodeClaim(karpv1.NodeClaim{Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClass.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"small"}}},
		}})
		launching.Labels = lo.Assign(launching.Labels, map[string]string{karpv1.NodePoolLabelKey: nodePool.Name})
		launching.Status.ProviderID = "" // coretest fills in a fake one
		ExpectApplied(ctx, env.Client, launching)
		created, err := cloudProvider.Create(ctx, launching)
		Expect(err).NotTo(HaveOccurred())
		Expect(ExpectExists(ctx, env.Client, launching).Status.ProviderID).To(BeEmpty())
		// A leak beside it, so the pass below is seen to collect.
		leakedClaim := coretest.NodeClaim(karpv1.NodeClaim{Spec: launching.Spec})
		leakedClaim.Labels = launching.Labels
		leaked, err := cloudProvider.Create(ctx, leakedClaim)
		Expect(err).NotTo(HaveOccurred())

		gc := garbagecollection.NewController(env.Clock, env.Client, csEnv.InstanceProvider, 30*time.Second)
		env.Clock.Step(time.Hour)
		ExpectSingletonReconciled(ctx, gc)
		ids := lo.Map(liveVMs(), func(vm simulator.VM, _ int) string { return v1.ProviderID(vm.ID) })
		Expect(ids).To(ConsistOf(created.Status.ProviderID), "the launching NodeClaim's VM stays, the leak %s goes", leaked.Status.ProviderID)
	})
})
