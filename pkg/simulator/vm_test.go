package simulator_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func jobError(j *csgo.QueryAsyncJobResultResponse) (int, string) {
	var e struct {
		ErrorCode int    `json:"errorcode"`
		ErrorText string `json:"errortext"`
	}
	Expect(json.Unmarshal(j.Jobresult, &e)).To(Succeed())
	var keys map[string]any
	Expect(json.Unmarshal(j.Jobresult, &keys)).To(Succeed())
	Expect(keys).To(HaveLen(2), "a failed job carries only errorcode and errortext")
	return e.ErrorCode, e.ErrorText
}

// slowExpungeEnv is an environment whose destroyed VMs stay Destroyed for 2 s before they are expunged: a spec that
// checks a Destroyed VM once, right after its destroy job, has seconds of slack on a loaded machine (the suite's
// 300 ms did not).
func slowExpungeEnv() *env {
	c := loadCatalog()
	c.Settings.ExpungeDelay = simulator.Duration{Duration: 2 * time.Second}
	return newEnv(c)
}

var _ = Describe("Async jobs and the VM state machine", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("returns {id, jobid} at once, reports jobstatus 0 while running, then the VM", func() {
		// Stopped lasts half the job latency, Starting the other half: 1.5 s each leaves the single-shot checks below
		// (Stopped, jobstatus 0) room on a loaded machine; at 1 s the slack was half a second.
		e.sim.SetJobLatency(3 * time.Second)
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("node-1", "small"))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Id).NotTo(BeEmpty())
		Expect(resp.JobID).NotTo(BeEmpty())
		Expect(resp.State).To(BeEmpty(), "the start response carries only id and jobid")
		Expect(e.vmState(e.user, resp.Id)).To(Equal("Stopped"))
		j, err := e.user.Asyncjob.QueryAsyncJobResult(e.user.Asyncjob.NewQueryAsyncJobResultParams(resp.JobID))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Jobstatus).To(Equal(0))
		Expect(j.Jobresult).To(BeEmpty())
		Eventually(func() string { return e.vmState(e.user, resp.Id) }).WithTimeout(30 * time.Second).WithPolling(2 * time.Millisecond).Should(Equal("Starting"))
		j = waitJob(e.user, resp.JobID)
		Expect(j.Jobstatus).To(Equal(1))
		Expect(j.Jobinstanceid).To(Equal(resp.Id))
		var result struct {
			VM csgo.VirtualMachine `json:"virtualmachine"`
		}
		Expect(json.Unmarshal(j.Jobresult, &result)).To(Succeed())
		Expect(result.VM.State).To(Equal("Running"))
		Expect(result.VM.Name).To(Equal("node-1"))
		Expect(result.VM.Nic).To(HaveLen(1))
		Expect(e.vmState(e.user, resp.Id)).To(Equal("Running"))
	})

	It("works with the SDK's blocking client", func() {
		async := csgo.NewAsyncClient(e.sim.URL(), userKey, userSecret, false)
		resp, err := async.VirtualMachine.DeployVirtualMachine(e.deployParams("node-async", "medium"))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.State).To(Equal("Running"))
		Expect(resp.Cpunumber).To(Equal(4))
	})

	It("takes capacity at deploy and releases it at destroy, then Destroyed turns Expunging and goes", func() {
		e = slowExpungeEnv()
		id, _ := e.deploy("node-cap", "large")
		used := func() int64 {
			p := e.admin.SystemCapacity.NewListCapacityParams()
			p.SetZoneid(e.zoneID("zone-a"))
			p.SetType(90)
			l, err := e.admin.SystemCapacity.ListCapacity(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(l.Capacity).To(HaveLen(1))
			return l.Capacity[0].Capacityused
		}
		Expect(used()).To(Equal(int64(8)))
		e.sim.SetJobLatency(time.Second) // Expunging lasts one job latency: wide enough to observe
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		Expect(used()).To(BeZero())
		Expect(e.vmState(e.admin, id)).To(Equal("Destroyed"))
		Expect(e.vmState(e.user, id)).To(Equal("gone"), "users do not see destroyed VMs unless allow.user.view.destroyed.vm")
		Eventually(func() string { return e.vmState(e.admin, id) }).WithTimeout(30 * time.Second).WithPolling(5 * time.Millisecond).Should(Equal("Expunging"))
		Eventually(func() string { return e.vmState(e.admin, id) }).WithTimeout(30 * time.Second).WithPolling(5 * time.Millisecond).Should(Equal("gone"))
		_, count, err := e.user.VirtualMachine.GetVirtualMachineByID(id)
		Expect(err).To(MatchError(ContainSubstring("No match found")))
		Expect(count).To(BeZero())
	})

	It("shows a VM Stopping for the whole of its destroy and stop jobs, as advanceStop makes it before the host stops it", func() {
		id, _ := e.deploy("node-stopping", "small")
		e.sim.SetJobLatency(3 * time.Second)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		// Stopping from the job's start: well within its 3 s, not after half of it.
		Eventually(func() string { return e.vmState(e.admin, id) }).WithTimeout(time.Second).WithPolling(5 * time.Millisecond).Should(Equal("Stopping"))
		j, err := e.user.Asyncjob.QueryAsyncJobResult(e.user.Asyncjob.NewQueryAsyncJobResultParams(d.JobID))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Jobstatus).To(Equal(0), "the destroy is still running")
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))

		id, _ = e.deploy("node-stop", "small")
		s, err := e.user.VirtualMachine.StopVirtualMachine(e.user.VirtualMachine.NewStopVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string { return e.vmState(e.user, id) }).WithTimeout(time.Second).WithPolling(5 * time.Millisecond).Should(Equal("Stopping"))
		Expect(waitJob(e.user, s.JobID).Jobstatus).To(Equal(1))
		Expect(e.vmState(e.user, id)).To(Equal("Stopped"))
	})

	It("removes the VM when the job ends with expunge=true", func() {
		id, _ := e.deploy("node-expunge", "small")
		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(id)
		p.SetExpunge(true)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		Expect(e.vmState(e.admin, id)).To(Equal("gone"))
		Expect(e.sim.VirtualMachines()).To(BeEmpty())
	})

	It("refuses expunge=true from a user when allow.user.expunge.recover.vm is off", func() {
		c := loadCatalog()
		c.Settings.AllowUserExpungeRecoverVM = false
		e = newEnv(c)
		id, _ := e.deploy("node-noexp", "small")
		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(id)
		p.SetExpunge(true)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred(), "the check runs in the job")
		res := waitJob(e.user, d.JobID)
		Expect(res.Jobstatus).To(Equal(2))
		Expect(string(res.Jobresult)).To(ContainSubstring(`"errorcode":531`))
		Expect(string(res.Jobresult)).To(ContainSubstring("Account does not have permission for expunging."))
		Expect(e.vmState(e.user, id)).To(Equal("Running"), "a refused expunge leaves the VM as it was")
	})

	It("stops, starts and reboots", func() {
		id, _ := e.deploy("node-ops", "small")
		s, err := e.user.VirtualMachine.StopVirtualMachine(e.user.VirtualMachine.NewStopVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, s.JobID).Jobstatus).To(Equal(1))
		Expect(e.vmState(e.user, id)).To(Equal("Stopped"))
		_, err = e.user.VirtualMachine.RebootVirtualMachine(e.user.VirtualMachine.NewRebootVirtualMachineParams(id))
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431")))
		st, err := e.user.VirtualMachine.StartVirtualMachine(e.user.VirtualMachine.NewStartVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, st.JobID).Jobstatus).To(Equal(1))
		Expect(e.vmState(e.user, id)).To(Equal("Running"))
		r, err := e.user.VirtualMachine.RebootVirtualMachine(e.user.VirtualMachine.NewRebootVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, r.JobID).Jobstatus).To(Equal(1))
		Expect(e.sim.VirtualMachines()[0].Reboots).To(Equal(1))
	})

	It("queues a destroy behind a running deploy, as CloudStack serializes jobs on a VM", func() {
		e = slowExpungeEnv()
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("node-queue", "small"))
		Expect(err).NotTo(HaveOccurred())
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(resp.Id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, resp.JobID).Jobstatus).To(Equal(1))
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		Expect(e.vmState(e.admin, resp.Id)).To(Equal("Destroyed"))
	})

	It("completes jobs within the request with zero job latency", func() {
		e.sim.SetJobLatency(0)
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("node-fast", "small"))
		Expect(err).NotTo(HaveOccurred())
		j, err := e.user.Asyncjob.QueryAsyncJobResult(e.user.Asyncjob.NewQueryAsyncJobResultParams(resp.JobID))
		Expect(err).NotTo(HaveOccurred())
		Expect(j.Jobstatus).To(Equal(1))
	})

	It("answers 431 for an unknown job id", func() {
		_, err := e.user.Asyncjob.QueryAsyncJobResult(e.user.Asyncjob.NewQueryAsyncJobResultParams(simulator.StableID("job", "nope")))
		Expect(err).To(MatchError(ContainSubstring("Invalid parameter jobid value=")))
	})
})

var _ = Describe("Errors", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("answers an unknown UUID with the exact 431 text the SDK's GetXByID helpers parse", func() {
		unknown := simulator.StableID("vm", "never-deployed")
		p := e.user.VirtualMachine.NewListVirtualMachinesParams()
		p.SetId(unknown)
		_, err := e.user.VirtualMachine.ListVirtualMachines(p)
		Expect(err).To(MatchError("CloudStack API error 431 (CSExceptionErrorCode: 9999): Unable to execute API command listvirtualmachines " +
			"due to invalid value. Invalid parameter id value=" + unknown + " due to incorrect long value format, or entity does not exist " +
			"or due to incorrect parameter annotation for the field in api cmd class."))
		_, count, err := e.user.VirtualMachine.GetVirtualMachineByID(unknown)
		Expect(err).To(MatchError(ContainSubstring("No match found for " + unknown)))
		Expect(count).To(BeZero())
	})

	It("answers an unknown template, offering or zone at deploy with 431 naming the parameter", func() {
		p := e.deployParams("node-x", "small")
		p.SetTemplateid(simulator.StableID("template", "missing"))
		_, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(ContainSubstring("Unable to execute API command deployvirtualmachine due to invalid value. Invalid parameter templateid value=")))
		p = e.deployParams("node-x", "small")
		p.SetNetworkids([]string{simulator.StableID("network", "missing")})
		_, err = e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(ContainSubstring("Invalid parameter networkids value=")))
	})

	It("refuses a template that is not ready", func() {
		p := e.deployParams("node-x", "small")
		p.SetTemplateid(e.templateID("ubuntu-24.04-kube-v1.37-amd64", "zone-a"))
		_, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431")))
	})

	It("answers a duplicate hostname with 431, until the first VM is expunged", func() {
		e = slowExpungeEnv()
		id, _ := e.deploy("dup", "small")
		_, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("dup", "small"))
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431 (CSExceptionErrorCode: 4350): The vm with hostName dup already exists in the network domain")))
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		waitJob(e.user, d.JobID)
		_, err = e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("dup", "small"))
		Expect(err).To(MatchError(ContainSubstring("already exists")), "a destroyed VM keeps its NIC until expunged")
		Eventually(func() string { return e.vmState(e.admin, id) }).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal("gone"))
		_, job := e.deploy("dup", "small")
		Expect(job.Jobstatus).To(Equal(1))
	})

	It("answers an account limit with 535 at deploy", func() {
		c := loadCatalog()
		two := int64(2)
		c.Accounts[1].Limits.UserVM = &two
		e = newEnv(c)
		e.deploy("lim-1", "small")
		e.deploy("lim-2", "small")
		_, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("lim-3", "small"))
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 535 (CSExceptionErrorCode: 4370): Maximum number of resources of type 'user_vm' for account name=karpenter in domain id=")))
	})

	It("fails the job with 533 and leaves the VM in Error when the zone has no capacity", func() {
		e.sim.SetZoneCapacity("zone-a", 4, 0)
		_, first := e.deploy("cap-1", "small")
		Expect(first.Jobstatus).To(Equal(1))
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("cap-2", "medium"))
		Expect(err).NotTo(HaveOccurred(), "capacity is checked inside the job")
		j := waitJob(e.user, resp.JobID)
		Expect(j.Jobstatus).To(Equal(2))
		Expect(j.Jobresultcode).To(Equal(533))
		code, text := jobError(j)
		Expect(code).To(Equal(533))
		Expect(text).To(MatchRegexp(`^Unable to create a deployment for VM\[User\|i-\d+-\d+-VM\]$`))
		Expect(e.vmState(e.user, resp.Id)).To(Equal("Error"))
		async := csgo.NewAsyncClient(e.sim.URL(), userKey, userSecret, false)
		_, err = async.VirtualMachine.DeployVirtualMachine(e.deployParams("cap-3", "medium"))
		Expect(err).To(MatchError(MatchRegexp(`^Undefined error: \{"errorcode":533,"errortext":"Unable to create a deployment for VM\[User\|i-\d+-\d+-VM\]"\}$`)))
	})

	DescribeTable("rejects bad userdata with 431",
		func(userdata, text string) {
			p := e.deployParams("node-ud", "small")
			p.SetUserdata(userdata)
			_, err := e.user.VirtualMachine.DeployVirtualMachine(p)
			Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431")))
			Expect(err).To(MatchError(ContainSubstring(text)))
		},
		Entry("not base64", "this is not base64!", "User data is not base64 encoded"),
		Entry("over vm.userdata.max.length", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 24577))), "User data has exceeded configurable max length : 32768"),
		Entry("empty", "", "User data is too short"),
	)

	It("limits userdata sent by GET to 4096 characters", func() {
		e.user.HTTPGETOnly = true
		p := e.deployParams("node-get", "small")
		p.SetUserdata(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 3100))))
		_, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(ContainSubstring("User data is too long for an http GET request")))
	})

	DescribeTable("enforces customized offering parameters",
		func(details map[string]string, offering, text string) {
			p := e.deployParams("node-custom", offering)
			if details != nil {
				p.SetDetails(details)
			}
			resp, err := e.user.VirtualMachine.DeployVirtualMachine(p)
			if text == "" {
				Expect(err).NotTo(HaveOccurred())
				Expect(waitJob(e.user, resp.JobID).Jobstatus).To(Equal(1))
				vm := e.sim.VirtualMachines()[0]
				Expect(vm.CPUNumber).To(Equal(6))
				Expect(vm.MemoryMiB).To(Equal(6144))
				return
			}
			Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431")))
			Expect(err).To(MatchError(ContainSubstring(text)))
		},
		Entry("within bounds", map[string]string{"cpuNumber": "6", "memory": "6144"}, "custom-constrained", ""),
		Entry("without values", nil, "custom-constrained", "Need to specify custom parameter values cpu, cpu speed and memory when using custom offering"),
		Entry("too many cores", map[string]string{"cpuNumber": "32", "memory": "4096"}, "custom-constrained", "Invalid cpu cores value, specify a value between 1 and 16"),
		Entry("too little memory", map[string]string{"cpuNumber": "2", "memory": "512"}, "custom-constrained", "Invalid memory value, specify a value between 1024 and 65536"),
		Entry("speed on a constrained offering", map[string]string{"cpuNumber": "2", "memory": "2048", "cpuSpeed": "1000"}, "custom-constrained", "cpu speed of this offering"),
		Entry("cores on a fixed offering", map[string]string{"cpuNumber": "2"}, "small", "is not customizable"),
	)

	It("answers 429 with the real text while throttling is on", func() {
		e.sim.SetThrottle(true)
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(MatchError("CloudStack API error 429 (CSExceptionErrorCode: 4545): The given user has reached his/her account api limit, please retry after 1000 ms."))
		e.sim.SetThrottle(false)
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
	})

	It("refuses an invalid hostname", func() {
		_, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("9-starts-with-digit", "small"))
		Expect(err).To(MatchError(ContainSubstring("Invalid name.")))
	})
})

var _ = Describe("Guest IP addresses", func() {
	It("runs out with the network's CIDR, answering deploy as the server does, and frees addresses on expunge", func() {
		c := loadCatalog()
		for i := range c.Networks {
			if c.Networks[i].Name == "isolated-a" {
				c.Networks[i].CIDR = "10.9.9.0/29" // hosts .2 to .6: five guest addresses
			}
		}
		e := newEnv(c)
		e.sim.SetJobLatency(0)
		var ids []string
		for i := range 5 {
			id, job := e.deploy(fmt.Sprintf("ip-%d", i), "small")
			Expect(job.Jobstatus).To(Equal(1))
			ids = append(ids, id)
		}
		_, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("ip-5", "small"))
		Expect(err).To(MatchError("CloudStack API error 533 (CSExceptionErrorCode: 4330): Internal error executing command, please contact your system administrator"),
			"the cause is hidden from users")
		admin := e.deployParams("ip-5", "small")
		_, err = e.admin.VirtualMachine.DeployVirtualMachine(admin)
		Expect(err).To(MatchError(ContainSubstring("Unable to acquire Guest IP address for network")))

		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(ids[0])
		p.SetExpunge(true)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		_, job := e.deploy("ip-5", "small")
		Expect(job.Jobstatus).To(Equal(1), "the expunged VM's address is free again")
	})
})
