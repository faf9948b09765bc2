package instance_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Found by the chaos run (docs/reliability.md): a NodeClaim stayed unlaunched for minutes because the VM a previous
// process left in Error could not be destroyed at the first attempt (429, 530), so every redeploy of its name was
// refused as a duplicate hostname and found that VM again.
var _ = Describe("A VM left in Error whose destroy is refused at first", func() {
	It("is destroyed after retries and the NodeClaim launches in the same Create", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		// What a previous process left: a deploy of the NodeClaim's name whose job failed, in Error.
		sim.FailNextDeploys(1, "zone-a", "small")
		errorVM, jobID := deployAsLostCreate("left-in-error")
		_, err := api.WaitForJob(ctx, jobID)
		Expect(err).To(HaveOccurred())
		Expect(vmState(errorVM)).To(Equal(simulator.StateError))

		// Internal errors refuse the first two destroys.
		sim.FailNextCommands("destroyVirtualMachine", 2)
		claim := nodeClaim("left-in-error")
		claim.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
		inst, err := provider.Create(ctx, nc, claim, its, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).NotTo(Equal(errorVM))
		Expect(inst.State).To(Equal("Running"))
		Expect(vmState(errorVM)).To(BeElementOf("", simulator.StateExpunging, simulator.StateDestroyed))
		live := lo.Filter(sim.VirtualMachines(), func(vm simulator.VM, _ int) bool {
			return vm.Name == "left-in-error" && vm.State != simulator.StateExpunging && vm.State != simulator.StateDestroyed
		})
		Expect(live).To(HaveLen(1))
	})
})
