package simulator_test

import (
	"encoding/base64"
	"sort"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// The visibility model of AccountManagerImpl.buildACLSearchParameters: what each kind of key lists with and without
// listall, account, domainid and projectid, and what it may operate on.
var _ = Describe("Accounts, domains and projects", func() {
	var (
		e                                      *env
		tenant, tenantSub, domainAdmin, outsid *csgo.CloudStackClient
		vmIDs                                  map[string]string
	)
	client := func(sim *simulator.Server, key string) *csgo.CloudStackClient {
		return csgo.NewClient(sim.URL(), key, key+"-secret", false)
	}
	BeforeEach(func() {
		c := loadCatalog()
		c.Accounts = append(c.Accounts,
			simulator.Account{Name: "tenant-a", Domain: "ROOT/tenants", APIKey: "tenant-a", SecretKey: "tenant-a-secret"},
			simulator.Account{Name: "tenant-sub", Domain: "ROOT/tenants/sub", APIKey: "tenant-sub", SecretKey: "tenant-sub-secret"},
			simulator.Account{Name: "tenants-admin", Domain: "ROOT/tenants", DomainAdmin: true, APIKey: "tenants-admin", SecretKey: "tenants-admin-secret"},
			simulator.Account{Name: "outsider", Domain: "ROOT/other", APIKey: "outsider", SecretKey: "outsider-secret"},
		)
		c.Projects = []simulator.Project{{Name: "shared-proj", Domain: "ROOT/tenants", Members: []string{"tenant-a"}}}
		e = newEnv(c)
		tenant, tenantSub, domainAdmin, outsid = client(e.sim, "tenant-a"), client(e.sim, "tenant-sub"), client(e.sim, "tenants-admin"), client(e.sim, "outsider")
		vmIDs = map[string]string{}
		deploy := func(cs *csgo.CloudStackClient, name string, project string) {
			p := cs.VirtualMachine.NewDeployVirtualMachineParams(e.offeringID("small"), e.templateID("ubuntu-24.04-kube-v1.36-amd64", "zone-a"), e.zoneID("zone-a"))
			p.SetName(name)
			p.SetNetworkids([]string{e.networkID("shared-a")})
			p.SetUserdata(base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")))
			if project != "" {
				p.SetProjectid(project)
			}
			r, err := cs.VirtualMachine.DeployVirtualMachine(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(waitJob(cs, r.JobID).Jobstatus).To(Equal(1))
			vmIDs[name] = r.Id
		}
		deploy(e.admin, "vm-admin", "")
		deploy(e.user, "vm-user", "")
		deploy(tenant, "vm-tenant", "")
		deploy(tenantSub, "vm-sub", "")
		deploy(domainAdmin, "vm-domadmin", "")
		deploy(outsid, "vm-outsider", "")
		deploy(tenant, "vm-project", simulator.StableID("project", "shared-proj"))
	})

	type listing struct {
		listAll   bool
		id        string
		account   string
		domain    string
		recursive bool
		project   string
	}
	list := func(cs *csgo.CloudStackClient, l listing) ([]string, error) {
		p := cs.VirtualMachine.NewListVirtualMachinesParams()
		if l.listAll {
			p.SetListall(true)
		}
		if l.id != "" {
			p.SetId(vmIDs[l.id])
		}
		if l.account != "" {
			p.SetAccount(l.account)
		}
		if l.domain != "" {
			p.SetDomainid(simulator.StableID("domain", l.domain))
		}
		if l.recursive {
			p.SetIsrecursive(true)
		}
		if l.project != "" {
			p.SetProjectid(l.project)
		}
		r, err := cs.VirtualMachine.ListVirtualMachines(p)
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, vm := range r.VirtualMachines {
			names = append(names, vm.Name)
		}
		sort.Strings(names)
		return names, nil
	}
	caller := map[string]func() *csgo.CloudStackClient{
		"root admin":   func() *csgo.CloudStackClient { return e.admin },
		"user":         func() *csgo.CloudStackClient { return e.user },
		"tenant":       func() *csgo.CloudStackClient { return tenant },
		"domain admin": func() *csgo.CloudStackClient { return domainAdmin },
	}
	project := simulator.StableID("project", "shared-proj")

	DescribeTable("listVirtualMachines shows",
		func(who string, l listing, want []string) {
			got, err := list(caller[who](), l)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("a user its own VMs", "user", listing{}, []string{"vm-user"}),
		Entry("a user its own VMs, even with listall", "user", listing{listAll: true}, []string{"vm-user"}),
		Entry("a root admin its own VMs without listall", "root admin", listing{}, []string{"vm-admin"}),
		Entry("a root admin every account's VMs with listall, but no project's", "root admin", listing{listAll: true},
			[]string{"vm-admin", "vm-domadmin", "vm-outsider", "vm-sub", "vm-tenant", "vm-user"}),
		Entry("a root admin any VM by id", "root admin", listing{id: "vm-tenant"}, []string{"vm-tenant"}),
		Entry("a root admin a project VM by id", "root admin", listing{id: "vm-project"}, []string{"vm-project"}),
		Entry("a root admin every project's VMs with projectid=-1", "root admin", listing{project: "-1"}, []string{"vm-project"}),
		Entry("a domain admin its own VMs without listall", "domain admin", listing{}, []string{"vm-domadmin"}),
		Entry("a domain admin its domain and subdomains with listall", "domain admin", listing{listAll: true},
			[]string{"vm-domadmin", "vm-sub", "vm-tenant"}),
		Entry("a domain admin a VM of its domain by id", "domain admin", listing{id: "vm-sub"}, []string{"vm-sub"}),
		Entry("a domain admin nothing by the id of a VM outside its domain", "domain admin", listing{id: "vm-user"}, []string{}),
		Entry("a domain admin one account of its domain", "domain admin", listing{account: "tenant-a"}, []string{"vm-tenant"}),
		Entry("a domain admin one domain only, not recursive", "domain admin", listing{domain: "ROOT/tenants"}, []string{"vm-domadmin", "vm-tenant"}),
		Entry("a domain admin one domain recursively", "domain admin", listing{domain: "ROOT/tenants", recursive: true},
			[]string{"vm-domadmin", "vm-sub", "vm-tenant"}),
		Entry("a project member its projects with projectid=-1", "tenant", listing{project: "-1"}, []string{"vm-project"}),
		Entry("a project member the project by id", "tenant", listing{project: project}, []string{"vm-project"}),
		Entry("a project member only its account without projectid", "tenant", listing{listAll: true}, []string{"vm-tenant"}),
		Entry("a user of no project nothing with projectid=-1", "user", listing{project: "-1"}, []string{}),
	)

	DescribeTable("listVirtualMachines refuses",
		func(who string, l listing, code int, text string) {
			_, err := list(caller[who](), l)
			Expect(err).To(MatchError(ContainSubstring("CloudStack API error %d", code)))
			Expect(err).To(MatchError(ContainSubstring(text)))
		},
		Entry("a domain admin the ROOT domain", "domain admin", listing{domain: "ROOT"}, 531, "does not have permission to operate within domain"),
		Entry("a domain admin an account outside its domain", "domain admin", listing{account: "karpenter", domain: "ROOT"}, 531, "does not have permission"),
		Entry("an account unknown in the caller's domain", "domain admin", listing{account: "karpenter"}, 431, "could not find account karpenter in domain"),
		Entry("a user another account", "user", listing{account: "admin"}, 531, "does not have permission to access account admin"),
		Entry("a non-member a project", "user", listing{project: project}, 531, "can't access project id="+project),
		Entry("account and projectid together", "tenant", listing{account: "tenant-a", project: project}, 431, "Account and projectId can't be specified together"),
	)

	It("lets a domain admin operate on its domain's VMs only, and a project member on the project's", func() {
		destroy := func(cs *csgo.CloudStackClient, name string) error {
			_, err := cs.VirtualMachine.DestroyVirtualMachine(cs.VirtualMachine.NewDestroyVirtualMachineParams(vmIDs[name]))
			return err
		}
		Expect(destroy(domainAdmin, "vm-user")).To(MatchError(ContainSubstring("CloudStack API error 531")))
		Expect(destroy(tenant, "vm-sub")).To(MatchError(ContainSubstring("CloudStack API error 531")))
		Expect(destroy(domainAdmin, "vm-sub")).To(Succeed())
		Expect(destroy(tenant, "vm-project")).To(Succeed())
		Expect(destroy(e.user, "vm-project")).To(MatchError(ContainSubstring("CloudStack API error 531")))
	})

	It("reports the project and the owning domain on project VMs", func() {
		vm, _, err := tenant.VirtualMachine.GetVirtualMachineByID(vmIDs["vm-project"], csgo.WithProject(project))
		Expect(err).NotTo(HaveOccurred())
		Expect(vm.Project).To(Equal("shared-proj"))
		Expect(vm.Projectid).To(Equal(project))
		Expect(vm.Domain).To(Equal("tenants"))
		Expect(vm.Account).To(HavePrefix("PrjAcct-shared-proj"))
	})
})
