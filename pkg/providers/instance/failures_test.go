package instance_test

import (
	"context"
	"fmt"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// These specs drive the provider's failure paths through its public interface only (Create, Get, List, Delete)
// against the simulator over the real SDK, and judge the outcome by what the cloud holds afterwards: which VMs
// exist, in which state, with which tags. They say nothing about which requests the provider sends, so they hold
// however its internals batch tags, follow jobs or list VMs.

// everVMs is every VM the simulator ever held under that hostname, live or already expunged, once each.
func everVMs(s *simulator.Server, name string) []simulator.VM {
	all := append(s.VirtualMachines(), s.ExpungedVirtualMachines()...)
	return lo.UniqBy(lo.Filter(all, func(vm simulator.VM, _ int) bool { return vm.Name == name }),
		func(vm simulator.VM) string { return vm.ID })
}

// candidateOf names the (offering, size, zone) a VM was launched as: a customized offering gives several sizes.
func candidateOf(vm simulator.VM, _ int) string {
	return fmt.Sprintf("%s/%dx%d/%s", vm.ServiceOfferingName, vm.CPUNumber, vm.MemoryMiB, vm.ZoneName)
}

// liveVMs are the VMs under that hostname that are neither destroyed nor in Error: what a node could run on.
func liveVMs(s *simulator.Server, name string) []simulator.VM {
	return lo.Filter(s.VirtualMachines(), func(vm simulator.VM, _ int) bool {
		return vm.Name == name && !lo.Contains([]string{simulator.StateDestroyed, simulator.StateExpunging, simulator.StateError}, vm.State)
	})
}

// restartedProvider is the provider of a controller that just started: a NodeClaim created before it may already
// have a VM, launched by the previous process.
func restartedProvider(opts ...instance.Option) *instance.DefaultProvider {
	return instance.NewDefaultProvider(api, unavailable, owner, append([]instance.Option{instance.WithServiceOfferings(instanceTypes)}, opts...)...)
}

// olderNodeClaim is a NodeClaim created before the running provider started.
func olderNodeClaim(name string) *karpv1.NodeClaim {
	claim := nodeClaim(name)
	claim.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Hour))
	return claim
}

// deployAsLostCreate deploys a VM the way a Create that died right after deploy leaves it: this cluster's instance
// group and the NodeClaim's hostname, no tags. It returns the VM's ID and its deploy job.
func deployAsLostCreate(name string) (string, string) {
	GinkgoHelper()
	p := &csgo.DeployVirtualMachineParams{}
	p.SetZoneid(id("zone", "zone-a"))
	p.SetServiceofferingid(id("serviceoffering", "small"))
	p.SetTemplateid(id("template", "ubuntu"))
	p.SetNetworkids([]string{id("network", "net-a2"), id("network", "net-a")})
	p.SetName(name)
	p.SetGroup(owner.Group())
	vmID, jobID, err := api.DeployVM(ctx, p)
	Expect(err).NotTo(HaveOccurred())
	return vmID, jobID
}

// cloud is a simulator of its own with a provider for this cluster, for specs that need another catalog.
type cloud struct {
	sim      *simulator.Server
	types    *instancetype.DefaultProvider
	provider *instance.DefaultProvider
}

func newCloud(mutate func(*simulator.Catalog)) *cloud {
	GinkgoHelper()
	cat := suiteCatalog()
	mutate(cat)
	e, err := test.NewEnvironment(append(environmentOptions(5*time.Millisecond), test.WithCatalog(cat))...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.Close)
	return &cloud{sim: e.Simulator, types: e.InstanceTypeProvider.(*instancetype.DefaultProvider), provider: e.InstanceProvider.(*instance.DefaultProvider)}
}

var _ = Describe("Create when tagging fails", func() {
	It("retries the tags once, so a single failure leaves a fully tagged VM", func() {
		nc := nodeClass()
		sim.FailNextCommands("createTags", 1)
		inst, err := provider.Create(ctx, nc, nodeClaim("tag-retry"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(simVM(inst.ID).Tags).To(Equal(provider.Tags(nc, nodeClaim("tag-retry"))))
		Expect(everVMs(sim, "tag-retry")).To(HaveLen(1), "the tagging failure launched no second VM")
	})

	It("keeps a VM that only its instance group proves ours, lists it, and completes its tags when the NodeClaim is retried", func() {
		nc := nodeClass()
		// Both of Create's tagging attempts fail: the launch still succeeds, as the VM is ours by its instance group.
		sim.FailNextCommands("createTags", 2)
		inst, err := provider.Create(ctx, nc, nodeClaim("group-only"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(simVM(inst.ID).Tags).To(BeEmpty())
		Expect(simVM(inst.ID).State).To(Equal(simulator.StateRunning))

		// Still this cluster's: Get and List see it, so neither core nor the garbage collector takes it for a leak
		// of nobody's.
		got, err := provider.Get(ctx, inst.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Group).To(Equal(owner.Group()))
		listed, err := provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(listed, func(i *instance.Instance, _ int) string { return i.ID })).To(ContainElement(inst.ID))

		// After a restart the NodeClaim's Create finds its VM, adopts it and writes the missing tags.
		claim := olderNodeClaim("group-only")
		adopted, err := restartedProvider().Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(adopted.ID).To(Equal(inst.ID))
		Expect(simVM(inst.ID).Tags).To(Equal(provider.Tags(nc, claim)))
		Expect(everVMs(sim, "group-only")).To(HaveLen(1))
	})

	It("never counts a VM of another cluster in the same account that carries neither its group nor its tags", func() {
		nc := nodeClass()
		other := instance.NewDefaultProvider(api, unavailable, otherCluster, instance.WithServiceOfferings(instanceTypes))
		sim.FailNextCommands("createTags", 2)
		theirs, err := other.Create(ctx, nc, nodeClaim("their-group-only"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(simVM(theirs.ID).Tags).To(BeEmpty())
		listed, err := provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(listed, func(i *instance.Instance, _ int) string { return i.ID })).NotTo(ContainElement(theirs.ID))
	})
})

var _ = Describe("Create's launch attempts", func() {
	It("tries at most three candidates per Create, leaves none of them behind, and the next Create tries the next ones", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		Expect(len(its)*2).To(BeNumerically(">", 3), "more than three (offering, zone) candidates, or the cap is not exercised")
		sim.FailNextDeploys(1000, "", "")
		_, err := provider.Create(ctx, nc, nodeClaim("capped"), its, userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		attempts := everVMs(sim, "capped")
		Expect(attempts).To(HaveLen(3), "one VM per attempt, three attempts")
		tried := lo.Map(attempts, candidateOf)
		Expect(lo.Uniq(tried)).To(HaveLen(3), "each attempt another candidate: %v", tried)
		Expect(liveVMs(sim, "capped")).To(BeEmpty())
		Eventually(func() []simulator.VM {
			return lo.Filter(sim.VirtualMachines(), func(vm simulator.VM, _ int) bool { return vm.State == simulator.StateError })
		}).WithTimeout(30*time.Second).Should(BeEmpty(), "every failed attempt is destroyed")

		// Karpenter retries the NodeClaim: the three failed candidates are skipped, the next three are tried.
		_, err = provider.Create(ctx, nc, nodeClaim("capped"), listInstanceTypes(nc), userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		again := lo.Map(everVMs(sim, "capped"), candidateOf)
		Expect(again).To(HaveLen(6))
		Expect(lo.Uniq(again)).To(HaveLen(6), "the second Create tried none of the first one's candidates: %v", again)
	})
})

var _ = Describe("Create at an account resource limit", func() {
	It("answers InsufficientCapacity naming the limit, and leaves no VM behind", func() {
		// CloudStack refuses the deploy synchronously with 535/4370 "Maximum number of resources of type 'user_vm'
		// for account name=… has been exceeded." (ResourceLimitManagerImpl).
		c := newCloud(func(cat *simulator.Catalog) { cat.Accounts[0].Limits.UserVM = lo.ToPtr(int64(1)) })
		nc := nodeClass()
		first, err := c.provider.Create(ctx, nc, nodeClaim("limit-1"), listWith(c.types, nc), userData)
		Expect(err).NotTo(HaveOccurred())
		_, err = c.provider.Create(ctx, nc, nodeClaim("limit-2"), listWith(c.types, nc), userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("Maximum number of resources of type 'user_vm'"), "the operator learns which limit")
		Expect(everVMs(c.sim, "limit-2")).To(BeEmpty())
		Expect(lo.Map(c.sim.VirtualMachines(), func(vm simulator.VM, _ int) string { return vm.ID })).To(ConsistOf(first.ID))
		Expect(c.sim.VirtualMachines()[0].State).To(Equal(simulator.StateRunning), "the running node is untouched")
	})

	It("counts CPU limits too: an offering over the account's CPU limit is refused, leaving nothing", func() {
		c := newCloud(func(cat *simulator.Catalog) { cat.Accounts[0].Limits.CPU = lo.ToPtr(int64(1)) })
		nc := nodeClass()
		_, err := c.provider.Create(ctx, nc, nodeClaim("cpu-limit", req("node.kubernetes.io/instance-type", "medium")), listWith(c.types, nc), userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("Maximum number of resources of type 'cpu'"))
		Expect(c.sim.VirtualMachines()).To(BeEmpty())
	})
})

var _ = Describe("Create finding the NodeClaim's VM in Error", func() {
	// A launch whose deploy job failed and whose own cleanup failed too: this cluster's group, tags and hostname,
	// in Error, holding its hostname in the network.
	leaveInError := func(name string) string {
		GinkgoHelper()
		sim.FailNextDeploys(1, "", "")
		vmID, jobID := deployAsLostCreate(name)
		_, err := api.WaitForJob(ctx, jobID)
		Expect(err).To(HaveOccurred())
		Expect(simVM(vmID).State).To(Equal(simulator.StateError))
		return vmID
	}

	DescribeTable("destroys the VM in Error and launches a new one",
		func(name string, restarted bool) {
			nc := nodeClass()
			broken := leaveInError(name)
			p, claim := provider, nodeClaim(name)
			if restarted {
				p, claim = restartedProvider(), olderNodeClaim(name)
			}
			// Bounded, so a provider that waits on the Error VM fails here rather than hanging the suite.
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			inst, err := p.Create(cctx, nc, claim, listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst.ID).NotTo(Equal(broken))
			Expect(inst.State).To(Equal(instance.StateRunning))
			Expect(lo.Map(liveVMs(sim, name), func(vm simulator.VM, _ int) string { return vm.ID })).To(ConsistOf(inst.ID))
			Expect(vmState(broken)).To(BeElementOf(simulator.StateDestroyed, simulator.StateExpunging, ""), "the VM in Error is destroyed")
			Expect(simVM(inst.ID).Tags).To(Equal(provider.Tags(nc, claim)))
		},
		Entry("found by the lookup before deploy, after a restart", "error-restarted", true),
		Entry("found after CloudStack refused the duplicate hostname", "error-duplicate", false),
	)
})

var _ = Describe("Create adopting a VM that does not start", func() {
	It("gives up after the adopt timeout with a retryable error, keeps the VM, and adopts it once it runs", func() {
		nc := nodeClass()
		// The previous process deployed the VM and died; the VM takes long to start: 12 s, so that it is still
		// starting when Create gives up, half a second after its lookup and tagging, even on a loaded machine.
		sim.SetJobLatency(12 * time.Second)
		vmID, _ := deployAsLostCreate("slow-start")
		p := restartedProvider(instance.WithAdoptTimeout(500 * time.Millisecond))
		claim := olderNodeClaim("slow-start")
		_, err := p.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(vmID), "the error names the VM it waited for")
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeFalse(), "the VM is not refused, only slow: %v", err)
		Expect(vmState(vmID)).To(BeElementOf(simulator.StateStopped, simulator.StateStarting), "the VM is kept while it starts")
		Expect(everVMs(sim, "slow-start")).To(HaveLen(1), "no second VM")

		Eventually(func() string { return vmState(vmID) }).WithTimeout(time.Minute).Should(Equal(simulator.StateRunning))
		inst, err := p.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).To(Equal(vmID))
		Expect(everVMs(sim, "slow-start")).To(HaveLen(1))
		sim.SetJobLatency(20 * time.Millisecond) // the cleanup's destroy need not wait 12 s
	})
})

var _ = Describe("Create cancelled during the launch", func() {
	// A cancelled Create (the process shutting down, leadership lost) cannot know how its deploy ended: destroying
	// the VM would waste a launch that may succeed, and a destroy that fails too would leave it to run beside a
	// second one. The VM is kept; the next Create of the NodeClaim adopts it, and the garbage collector takes it if
	// the NodeClaim is gone.
	It("keeps the VM of a cancelled launch, and the next Create adopts it instead of deploying a second one", func() {
		nc := nodeClass()
		// The deploy job lasts 10 s: the cancel below must come while it runs, after the tagging, on a loaded machine.
		sim.SetJobLatency(10 * time.Second)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		claim := nodeClaim("cancelled")
		done := make(chan error, 1)
		go func() {
			_, err := provider.Create(cctx, nc, claim, listInstanceTypes(nc), userData)
			done <- err
		}()
		// Cancel once CloudStack has accepted the deploy and the provider knows the VM (it tags it right after the
		// deploy answer): the VM is starting.
		Eventually(func(g Gomega) {
			vms := everVMs(sim, "cancelled")
			g.Expect(vms).To(HaveLen(1))
			g.Expect(vms[0].Tags).To(HaveKeyWithValue(v1.TagKeyClusterID, owner.ClusterID))
		}).WithTimeout(30 * time.Second).WithPolling(5 * time.Millisecond).Should(Succeed())
		cancel()
		var err error
		Eventually(done).WithTimeout(time.Minute).Should(Receive(&err))
		Expect(err).To(HaveOccurred())
		Expect(liveVMs(sim, "cancelled")).To(HaveLen(1), "the VM of the cancelled launch is kept for adoption")
		first := liveVMs(sim, "cancelled")[0]

		inst, err := provider.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).To(Equal(first.ID))
		Expect(everVMs(sim, "cancelled")).To(HaveLen(1), "no second VM for the NodeClaim")
		sim.SetJobLatency(20 * time.Millisecond)
	})
})

var _ = Describe("Delete where users may not expunge", func() {
	It("destroys the VM, which Get, List and Delete then report as gone while CloudStack keeps it until expunge.delay", func() {
		c := newCloud(func(cat *simulator.Catalog) {
			cat.Settings.AllowUserExpungeRecoverVM = false
			cat.Settings.ExpungeDelay = simulator.Duration{Duration: time.Hour}
		})
		nc := nodeClass()
		inst, err := c.provider.Create(ctx, nc, nodeClaim("no-expunge"), listWith(c.types, nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.provider.Delete(ctx, inst.ID)).To(Succeed())
		vm, found := lo.Find(c.sim.VirtualMachines(), func(vm simulator.VM) bool { return vm.ID == inst.ID })
		Expect(found).To(BeTrue())
		Expect(vm.State).To(Equal(simulator.StateDestroyed), "destroyed, not expunged: the account may not")
		_, err = c.provider.Get(ctx, inst.ID)
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "%v", err)
		listed, err := c.provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(listed).To(BeEmpty())
		err = c.provider.Delete(ctx, inst.ID)
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "a second Delete ends in NodeClaimNotFound: %v", err)
	})
})
