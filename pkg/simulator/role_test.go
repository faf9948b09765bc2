package simulator_test

import (
	"net/http"
	"net/url"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("roles", func() {
	// withRole gives the user account a custom role allowing exactly the listed commands.
	withRole := func(cmds ...string) *env {
		c := loadCatalog()
		c.Roles = []simulator.Role{{Name: "narrow", Commands: cmds}}
		for i := range c.Accounts {
			if c.Accounts[i].APIKey == userKey {
				c.Accounts[i].Role = "narrow"
			}
		}
		return newEnv(c)
	}

	It("refuses a command outside the role with 432, as DynamicRoleBasedAPIAccessChecker does", func() {
		e := withRole("listZones", "queryAsyncJobResult")
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listNetworks"}})
		Expect(code).To(Equal(432))
		Expect(string(body["listnetworksresponse"])).To(And(
			ContainSubstring(`"errorcode":432`),
			ContainSubstring("The API [listNetworks] does not exist or is not available for the account karpenter.")))
		code, _ = rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listZones"}})
		Expect(code).To(Equal(http.StatusOK))
		// Another account of the same cloud keeps its built-in role.
		code, _ = rawCall(e.sim, http.MethodGet, e.sim.APIKey(), e.sim.SecretKey(), url.Values{"command": {"listNetworks"}})
		Expect(code).To(Equal(http.StatusOK))
	})

	It("fails destroy with expunge=true in the job when the role lacks expungeVirtualMachine", func() {
		e := withRole("listZones", "listServiceOfferings", "listTemplates", "listNetworks", "deployVirtualMachine",
			"queryAsyncJobResult", "destroyVirtualMachine", "listVirtualMachines")
		id, _ := e.deploy("node-role", "small")
		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(id)
		p.SetExpunge(true)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		res := waitJob(e.user, d.JobID)
		Expect(res.Jobstatus).To(Equal(2))
		Expect(string(res.Jobresult)).To(ContainSubstring("Account does not have permission for expunging."))
		Expect(e.vmState(e.user, id)).To(Equal("Running"))

		// Without expunge the same role destroys.
		d, err = e.user.VirtualMachine.DestroyVirtualMachine(e.user.VirtualMachine.NewDestroyVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
	})

	It("rejects a catalog whose account holds an undefined role or whose role names an unserved command", func() {
		c := loadCatalog()
		c.Accounts[1].Role = "missing"
		_, err := simulator.New(c)
		Expect(err).To(MatchError(ContainSubstring(`holds role "missing"`)))
		c = loadCatalog()
		c.Roles = []simulator.Role{{Name: "typo", Commands: []string{"listZone"}}}
		_, err = simulator.New(c)
		Expect(err).To(MatchError(ContainSubstring(`allows "listZone"`)))
	})
})
