package instance_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Found by the chaos run (docs/reliability.md): under CloudStack's api limit every throttled or failed deploy failed
// the whole Create, and Karpenter's growing backoff left pods pending for minutes.
var _ = Describe("A deploy refused without effect", func() {
	It("is sent again within the same Create, and one VM results", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		sim.FailNextCommands("deployVirtualMachine", 2)
		inst, err := provider.Create(ctx, nc, nodeClaim("retried"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.State).To(Equal("Running"))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(3))
		Expect(lo.CountBy(sim.VirtualMachines(), func(vm simulator.VM) bool { return vm.Name == "retried" })).To(Equal(1))
	})

	It("is sent again after a lost answer when no VM of the name exists", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		// The connection drops before the server acts, as a crashed server or a network failure leaves it.
		sim.DropNextConnections(1)
		inst, err := provider.Create(ctx, nc, nodeClaim("dropped-first"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.State).To(Equal("Running"))
		Expect(lo.CountBy(sim.VirtualMachines(), func(vm simulator.VM) bool { return vm.Name == "dropped-first" })).To(Equal(1))
	})
})
