package simulator_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Reset", func() {
	It("brings back the cloud New built, with no VM, tag, fault or count of the specs before", func() {
		e := newEnv(nil)
		vmID, job := e.deploy("before-reset", "small")
		Expect(job.Jobstatus).To(Equal(1))
		tp := e.user.Resourcetags.NewCreateTagsParams([]string{vmID}, "UserVm", map[string]string{"spec": "before"})
		_, err := e.user.Resourcetags.CreateTags(tp)
		Expect(err).NotTo(HaveOccurred())
		e.sim.FailNextDeploys(1, "", "")
		e.sim.SetJobLatency(time.Hour)
		e.sim.SetZoneDisabled("zone-a", true)
		Expect(e.sim.Counts()).NotTo(BeEmpty())

		Expect(e.sim.Reset()).To(Succeed())

		Expect(e.sim.VirtualMachines()).To(BeEmpty())
		Expect(e.sim.Counts()).To(BeEmpty())
		lt := e.user.Resourcetags.NewListTagsParams()
		lt.SetResourceid(vmID)
		tags, err := e.user.Resourcetags.ListTags(lt)
		Expect(err).NotTo(HaveOccurred())
		Expect(tags.Tags).To(BeEmpty())
		// zone-a is enabled again, deploys are not failed and jobs take New's latency again.
		newID, job := e.deploy("after-reset", "small")
		Expect(job.Jobstatus).To(Equal(1), string(job.Jobresult))
		Expect(e.vmState(e.user, newID)).To(Equal(simulator.StateRunning))
		Expect(e.sim.VirtualMachines()).To(HaveLen(1))
	})

	It("drops the job transitions scheduled before it", func() {
		e := newEnv(nil)
		vmID, _ := e.deploy("destroyed-before-reset", "small")
		resp, err := e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(vmID))
		Expect(err).NotTo(HaveOccurred())
		waitJob(e.user, resp.JobID)
		// The expunge thread would take the VM after the catalog's expunge delay (300 ms) and a job latency.
		Expect(e.sim.Reset()).To(Succeed())
		Consistently(e.sim.ExpungedVirtualMachines).WithTimeout(time.Second).WithPolling(20 * time.Millisecond).Should(BeEmpty())
	})
})
