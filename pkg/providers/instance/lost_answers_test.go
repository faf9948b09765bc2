package instance_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Found by the chaos run (docs/reliability.md): CloudStack acted, but its answer never arrived.
var _ = Describe("Answers lost after CloudStack acted", func() {
	// liveNamed are the VMs of that hostname that are not destroyed.
	liveNamed := func(name string) []simulator.VM {
		return lo.Filter(sim.VirtualMachines(), func(vm simulator.VM, _ int) bool {
			return vm.Name == name && vm.State != simulator.StateDestroyed && vm.State != simulator.StateExpunging
		})
	}
	// steerToZoneB makes zone-b the cheapest candidate, on another network than zone-a's, where CloudStack's
	// duplicate-hostname rule cannot refuse a second deploy of the same name.
	steerToZoneB := func() {
		for _, name := range []string{"small", "medium"} {
			unavailable.MarkUnavailable(ctx, "test", name, "zone-a")
		}
	}

	// createWhileJobsUnfollowable launches while every answer about the deploy's progress is lost (the VM listing
	// that follows jobs and the job query alike), until the launch gives up.
	createWhileJobsUnfollowable := func(nc *v1.CloudStackNodeClass, claim *karpv1.NodeClaim, its []*cloudprovider.InstanceType) (*instance.Instance, error) {
		GinkgoHelper()
		sim.ApplyChaos(simulator.ChaosSettings{DropAfterAction: map[string]float64{"queryAsyncJobResult": 1, "listVirtualMachines": 1}})
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return provider.Create(cctx, nc, claim, its, userData)
	}

	It("adopts at once the VM of a deploy whose answer was lost", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		sim.ApplyChaos(simulator.ChaosSettings{DropAfterAction: map[string]float64{"deployVirtualMachine": 1}})
		inst, err := provider.Create(ctx, nc, nodeClaim("lost-deploy"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(liveNamed("lost-deploy")).To(HaveLen(1))
		Expect(inst.ID).To(Equal(liveNamed("lost-deploy")[0].ID))
		Expect(inst.State).To(Equal("Running"))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(1))
	})

	It("looks for that VM on the next Create when the lookup failed too, instead of deploying a second one elsewhere", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		claim := nodeClaim("lost-twice")
		sim.ApplyChaos(simulator.ChaosSettings{DropAfterAction: map[string]float64{"deployVirtualMachine": 1, "listVirtualMachines": 1}})
		_, err := provider.Create(ctx, nc, claim, its, userData)
		Expect(err).To(HaveOccurred())
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeFalse())
		Expect(liveNamed("lost-twice")).To(HaveLen(1))
		Expect(liveNamed("lost-twice")[0].ZoneName).To(Equal("zone-a"))
		sim.ResetFaults()

		steerToZoneB()
		inst, err := provider.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(liveNamed("lost-twice")).To(HaveLen(1), "a second VM was deployed for the NodeClaim")
		Expect(inst.ZoneName).To(Equal("zone-a"))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(1))
	})

	It("keeps a starting VM whose job could not be followed, and adopts it on the next Create", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		claim := nodeClaim("lost-job")
		_, err := createWhileJobsUnfollowable(nc, claim, its)
		Expect(err).To(HaveOccurred())
		sim.ResetFaults()
		Expect(liveNamed("lost-job")).To(HaveLen(1), "the VM was destroyed although its launch may have succeeded")
		first := liveNamed("lost-job")[0]

		steerToZoneB()
		inst, err := provider.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).To(Equal(first.ID))
		Expect(liveNamed("lost-job")).To(HaveLen(1))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(1))
	})

	// Found by the 200-node run: meanwhile capacity failures had marked every offering unavailable, the retried
	// Create answered InsufficientCapacity, Karpenter deleted the NodeClaim, and the Node registered from its running
	// VM, owned by no NodeClaim, held Karpenter's cluster state unsynced (no provisioning) until the VM was collected.
	It("adopts that VM even when no offering is available any more, instead of answering insufficient capacity", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		claim := nodeClaim("lost-then-full")
		_, err := createWhileJobsUnfollowable(nc, claim, its)
		Expect(err).To(HaveOccurred())
		sim.ResetFaults()
		Expect(liveNamed("lost-then-full")).To(HaveLen(1))

		inst, err := provider.Create(ctx, nc, claim, nil, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).To(Equal(liveNamed("lost-then-full")[0].ID))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(1))
	})
})
