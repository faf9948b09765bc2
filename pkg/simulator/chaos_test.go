package simulator_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Chaos knobs", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("acts on a command whose answer it then drops: the client sees its connection closed, the VM exists", func() {
		params := e.deployParams("dropped", "small")
		e.sim.ApplyChaos(simulator.ChaosSettings{DropAfterAction: map[string]float64{"deployVirtualMachine": 1}})
		_, err := e.user.VirtualMachine.DeployVirtualMachine(params)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(Or(ContainSubstring("EOF"), ContainSubstring("connection reset")))
		vms := e.sim.VirtualMachines()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].Name).To(Equal("dropped"))
		// Other commands are answered.
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
		// Counted once the handler returns, which may be just after the client saw the connection close.
		Eventually(func() map[int]int64 { return e.sim.Results()["deployVirtualMachine"] }).Should(HaveKeyWithValue(0, int64(1)))
		Expect(e.sim.Results()["listZones"]).To(HaveKey(200))
	})

	It("fails deployments in the three ways a management server does, leaving failed jobs' VMs in Error", func() {
		e.sim.ApplyChaos(simulator.ChaosSettings{DeployFailureRate: lo.ToPtr(1.0)})
		seen := map[string]int{}
		for i := 0; i < 60 && len(seen) < 3; i++ {
			resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams(fmt.Sprintf("fail-%d", i), "small"))
			if err != nil {
				Expect(err).To(MatchError("CloudStack API error 533 (CSExceptionErrorCode: 4335): Internal error executing command, please contact your system administrator"))
				seen["refused"]++
				continue
			}
			job := waitJob(e.user, resp.JobID)
			Expect(job.Jobstatus).To(Equal(2))
			Expect(e.vmState(e.user, resp.Id)).To(Equal(simulator.StateError))
			switch job.Jobresultcode {
			case 533:
				Expect(string(job.Jobresult)).To(ContainSubstring("Unable to create a deployment for VM"))
				seen["capacity"]++
			case 530:
				Expect(string(job.Jobresult)).To(ContainSubstring("Unable to start VM"))
				seen["internal"]++
			default:
				Fail(fmt.Sprintf("unexpected job result code %d", job.Jobresultcode))
			}
		}
		Expect(seen).To(HaveLen(3), "each way of failing was drawn within 60 deployments: %v", seen)
		e.sim.ApplyChaos(simulator.ChaosSettings{DeployFailureRate: lo.ToPtr(0.0)})
		_, job := e.deploy("fine", "small")
		Expect(job.Jobstatus).To(Equal(1))
	})

	It("throttles an account over its api limit with 429 until the interval ends, and exempts root admins", func() {
		e.sim.ApplyChaos(simulator.ChaosSettings{APILimit: &simulator.APILimitSetting{Max: 3, Interval: simulator.Duration{Duration: time.Hour}}})
		for range 3 {
			_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(MatchError(MatchRegexp(`^CloudStack API error 429 \(CSExceptionErrorCode: 4545\): The given user has reached his/her account api limit, please retry after \d+ ms\.$`)))
		_, err = e.admin.Zone.ListZones(e.admin.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
		e.sim.ApplyChaos(simulator.ChaosSettings{APILimit: &simulator.APILimitSetting{Max: 0}})
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
	})

	It("is unreachable during an outage and serves again after it", func() {
		params := e.deployParams("during-outage", "small")
		e.sim.ApplyChaos(simulator.ChaosSettings{Outage: &simulator.Duration{Duration: time.Hour}})
		Expect(e.sim.Down()).To(BeTrue())
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(HaveOccurred())
		_, err = e.user.VirtualMachine.DeployVirtualMachine(params)
		Expect(err).To(HaveOccurred())
		Expect(e.sim.VirtualMachines()).To(BeEmpty(), "nothing happens while the server is down")
		e.sim.ApplyChaos(simulator.ChaosSettings{Outage: &simulator.Duration{}})
		Expect(e.sim.Down()).To(BeFalse())
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
	})

	It("answers a share of requests as a proxy without a healthy backend: 502/503 with an HTML body", func() {
		e.sim.ApplyChaos(simulator.ChaosSettings{ProxyErrorRate: lo.ToPtr(1.0)})
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(HaveOccurred())
		r := e.sim.Results()["listZones"]
		Expect(r[502] + r[503]).To(Equal(int64(1)))
	})

	It("fails deployments of an exhausted offering inside the job with 533, in every zone or in one", func() {
		e.sim.ApplyChaos(simulator.ChaosSettings{ExhaustedOfferings: map[string]bool{"small@zone-a": true}})
		id, job := e.deploy("exhausted", "small")
		Expect(job.Jobstatus).To(Equal(2))
		Expect(job.Jobresultcode).To(Equal(533))
		Expect(e.vmState(e.user, id)).To(Equal(simulator.StateError))
		_, job = e.deploy("other-offering", "medium")
		Expect(job.Jobstatus).To(Equal(1))
		e.sim.ApplyChaos(simulator.ChaosSettings{ExhaustedOfferings: map[string]bool{"small@zone-a": false}})
		_, job = e.deploy("available-again", "small")
		Expect(job.Jobstatus).To(Equal(1))
	})

	It("records when a VM first ran", func() {
		id, job := e.deploy("runs", "small")
		Expect(job.Jobstatus).To(Equal(1))
		vm, ok := lo.Find(e.sim.VirtualMachines(), func(v simulator.VM) bool { return v.ID == id })
		Expect(ok).To(BeTrue())
		Expect(vm.Started).NotTo(BeZero())
		e.sim.FailNextDeploys(1, "", "")
		id, _ = e.deploy("never-runs", "small")
		vm, _ = lo.Find(e.sim.VirtualMachines(), func(v simulator.VM) bool { return v.ID == id })
		Expect(vm.Started).To(BeZero())
	})

	It("takes chaos knobs through the admin endpoint's fault settings", func() {
		e.sim.ApplyFaults(simulator.FaultSettings{ChaosSettings: simulator.ChaosSettings{Outage: &simulator.Duration{Duration: time.Hour}}})
		Expect(e.sim.Down()).To(BeTrue())
		e.sim.ApplyFaults(simulator.FaultSettings{Reset: true})
		Expect(e.sim.Down()).To(BeFalse())
	})
})
