package simulator_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("The VM change feed (GET /vms/changes)", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })
	ctx := context.Background()
	ids := func(vms []simulator.VM) []string {
		var out []string
		for _, v := range vms {
			out = append(out, v.ID)
		}
		return out
	}

	It("answers every VM first, then only the VMs that changed, and the expunged ones", func() {
		a, _ := e.deploy("feed-a", "small")
		full := e.sim.VirtualMachineChanges(ctx, "", 0, 0)
		Expect(full.Full).To(BeTrue())
		Expect(ids(full.VMs)).To(ConsistOf(a))

		// Nothing changed: an empty answer at the same revision.
		same := e.sim.VirtualMachineChanges(ctx, full.Epoch, full.Revision, 0)
		Expect(same.Full).To(BeFalse())
		Expect(same.VMs).To(BeEmpty())
		Expect(same.Revision).To(Equal(full.Revision))

		b, _ := e.deploy("feed-b", "small")
		next := e.sim.VirtualMachineChanges(ctx, full.Epoch, full.Revision, 0)
		Expect(next.Full).To(BeFalse())
		Expect(ids(next.VMs)).To(ConsistOf(b), "only the new VM, not the unchanged one")
		Expect(next.VMs[0].State).To(Equal(simulator.StateRunning))

		// A tag is a change of the VM.
		r, err := e.user.Resourcetags.CreateTags(e.user.Resourcetags.NewCreateTagsParams([]string{a}, "UserVm", map[string]string{"k": "v"}))
		Expect(err).NotTo(HaveOccurred())
		waitJob(e.user, r.JobID)
		tagged := e.sim.VirtualMachineChanges(ctx, next.Epoch, next.Revision, 0)
		Expect(ids(tagged.VMs)).To(ConsistOf(a))
		Expect(tagged.VMs[0].Tags).To(HaveKeyWithValue("k", "v"))

		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(b)
		p.SetExpunge(true)
		_, err = e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() []string {
			return e.sim.VirtualMachineChanges(ctx, tagged.Epoch, tagged.Revision, 0).Removed
		}).WithTimeout(30 * time.Second).Should(ConsistOf(b))
	})

	It("waits for a change when there is none, and wakes up when one comes", func() {
		full := e.sim.VirtualMachineChanges(ctx, "", 0, 0)
		done := make(chan simulator.VMChanges, 1)
		go func() {
			defer GinkgoRecover()
			done <- e.sim.VirtualMachineChanges(ctx, full.Epoch, full.Revision, time.Minute)
		}()
		id, _ := e.deploy("feed-wait", "small")
		var got simulator.VMChanges
		Eventually(done).WithTimeout(30 * time.Second).Should(Receive(&got))
		Expect(got.Revision).To(BeNumerically(">", full.Revision))
		Expect(ids(got.VMs)).To(ContainElement(id))
	})

	It("starts over with every VM for a watcher of another epoch (a restarted simulator)", func() {
		id, _ := e.deploy("feed-epoch", "small")
		got := e.sim.VirtualMachineChanges(ctx, "some-other-process", 1, time.Minute)
		Expect(got.Full).To(BeTrue())
		Expect(ids(got.VMs)).To(ConsistOf(id))
	})
})
