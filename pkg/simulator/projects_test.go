package simulator_test

import (
	"encoding/base64"
	"encoding/json"
	"sort"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Projects as QueryManagerImpl.listProjectsInternal lists them, and resources a project owns, visible only with its
// projectid to its members.
var _ = Describe("Projects", func() {
	var (
		e                        *env
		outsider, domainAdmin    *csgo.CloudStackClient
		platform, finance, fresh string
	)
	BeforeEach(func() {
		c := loadCatalog()
		c.Accounts = append(c.Accounts, simulator.Account{Name: "outsider", Domain: "ROOT/other", APIKey: "outsider", SecretKey: "outsider-secret"})
		c.Projects = append(c.Projects, simulator.Project{Name: "finance", Domain: "ROOT/other", Members: []string{"outsider"}},
			simulator.Project{Name: "fresh", State: "Suspended", Members: []string{"karpenter"}})
		c.Networks = append(c.Networks, simulator.Network{Name: "platform-net", Zone: "zone-a", Project: "platform", CIDR: "10.8.0.0/24"})
		c.Templates = append(c.Templates, simulator.Template{Name: "platform-image", Zones: []string{"zone-a"}, Project: "platform", Public: lo.ToPtr(false)})
		c, err := simulator.ParseCatalog(lo.Must(json.Marshal(c)))
		Expect(err).NotTo(HaveOccurred())
		e = newEnv(c)
		outsider = csgo.NewClient(e.sim.URL(), "outsider", "outsider-secret", false)
		domainAdmin = csgo.NewClient(e.sim.URL(), "sim-domain-admin-api-key", "sim-domain-admin-secret-key", false)
		platform, finance, fresh = simulator.StableID("project", "platform"), simulator.StableID("project", "finance"), simulator.StableID("project", "fresh")
	})
	clients := map[string]func() *csgo.CloudStackClient{
		"a member":                 func() *csgo.CloudStackClient { return e.user },
		"another project's member": func() *csgo.CloudStackClient { return outsider },
		"a root admin":             func() *csgo.CloudStackClient { return e.admin },
		"a domain admin of ROOT":   func() *csgo.CloudStackClient { return domainAdmin },
	}

	type query struct {
		id, name string
		listAll  bool
	}
	DescribeTable("listProjects shows",
		func(who string, q query, want []string) {
			p := csgo.ListProjectsParams{}
			if q.id != "" {
				p.SetId(simulator.StableID("project", q.id))
			}
			if q.name != "" {
				p.SetName(q.name)
			}
			if q.listAll {
				p.SetListall(true)
			}
			r, err := clients[who]().Project.ListProjects(&p)
			Expect(err).NotTo(HaveOccurred())
			names := lo.Map(r.Projects, func(p *csgo.Project, _ int) string { return p.Name })
			sort.Strings(names)
			Expect(names).To(Equal(want))
			Expect(r.Count).To(Equal(len(want)))
		},
		Entry("a member the projects it is a member of", "a member", query{}, []string{"fresh", "platform"}),
		Entry("a member one by name, compared as MySQL does (any case)", "a member", query{name: "PLATFORM"}, []string{"platform"}),
		Entry("a member the same with listall", "a member", query{name: "platform", listAll: true}, []string{"platform"}),
		Entry("a member nothing of a project it is not in, by name", "a member", query{name: "finance", listAll: true}, []string{}),
		Entry("a member nothing of a project it is not in, by ID", "a member", query{id: "finance", listAll: true}, []string{}),
		Entry("a root admin without listall only its own projects (none)", "a root admin", query{}, []string{}),
		Entry("a root admin every project with listall", "a root admin", query{listAll: true}, []string{"finance", "fresh", "platform"}),
		Entry("a domain admin with listall the projects of its domain and below", "a domain admin of ROOT", query{listAll: true},
			[]string{"finance", "fresh", "platform"}),
	)

	It("reports state, domain and project account of a project", func() {
		r, err := e.user.Project.ListProjects(&csgo.ListProjectsParams{})
		Expect(err).NotTo(HaveOccurred())
		byName := lo.SliceToMap(r.Projects, func(p *csgo.Project) (string, *csgo.Project) { return p.Name, p })
		Expect(byName["platform"].Id).To(Equal(platform))
		Expect(byName["platform"].State).To(Equal("Active"))
		Expect(byName["fresh"].Id).To(Equal(fresh))
		Expect(byName["fresh"].State).To(Equal("Suspended"))
		Expect(byName["platform"].Projectaccountname).To(HavePrefix("PrjAcct-platform-"))
		Expect(byName["platform"].Domain).To(Equal("ROOT"))
	})

	It("refuses an ID that is no project's with 431, as the API layer does", func() {
		p := csgo.ListProjectsParams{}
		p.SetId("6c1f8a52-3d4e-4b7a-8c9d-0e1f2a3b4c5d")
		_, err := e.user.Project.ListProjects(&p)
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 431")))
		Expect(err).To(MatchError(ContainSubstring("Invalid parameter id value=6c1f8a52-3d4e-4b7a-8c9d-0e1f2a3b4c5d")))
	})

	It("shows a project's networks and templates to its members with its projectid only", func() {
		networks := func(cs *csgo.CloudStackClient, project string) ([]string, error) {
			p := cs.Network.NewListNetworksParams()
			if project != "" {
				p.SetProjectid(project)
			}
			r, err := cs.Network.ListNetworks(p)
			if err != nil {
				return nil, err
			}
			return lo.Map(r.Networks, func(n *csgo.Network, _ int) string { return n.Name }), nil
		}
		templates := func(cs *csgo.CloudStackClient, project string) ([]string, error) {
			p := cs.Template.NewListTemplatesParams("executable")
			if project != "" {
				p.SetProjectid(project)
			}
			r, err := cs.Template.ListTemplates(p)
			if err != nil {
				return nil, err
			}
			return lo.Map(r.Templates, func(t *csgo.Template, _ int) string { return t.Name }), nil
		}
		Expect(networks(e.user, platform)).To(ContainElement("platform-net"))
		Expect(networks(e.user, platform)).NotTo(ContainElement("isolated-a"), "the account's own networks are not the project's")
		Expect(networks(e.user, "")).NotTo(ContainElement("platform-net"))
		Expect(templates(e.user, platform)).To(ContainElement("platform-image"))
		Expect(templates(e.user, "")).NotTo(ContainElement("platform-image"))
		for _, list := range []func(*csgo.CloudStackClient, string) ([]string, error){networks, templates} {
			_, err := list(outsider, platform)
			Expect(err).To(MatchError(ContainSubstring("CloudStack API error 531")))
			Expect(err).To(MatchError(ContainSubstring("can't access project id=" + platform)))
		}
		_, err := networks(e.user, finance)
		Expect(err).To(MatchError(ContainSubstring("can't access project id=" + finance)))
	})

	It("deploys into a project for its members only, with the server's refusal text for others", func() {
		deploy := func(cs *csgo.CloudStackClient) (string, error) {
			p := cs.VirtualMachine.NewDeployVirtualMachineParams(e.offeringID("small"), e.templateID("ubuntu-24.04-kube-v1.36-amd64", "zone-a"), e.zoneID("zone-a"))
			p.SetNetworkids([]string{simulator.StableID("network", "platform-net")})
			p.SetUserdata(base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")))
			p.SetProjectid(platform)
			r, err := cs.VirtualMachine.DeployVirtualMachine(p)
			if err != nil {
				return "", err
			}
			Expect(waitJob(cs, r.JobID).Jobstatus).To(Equal(1))
			return r.Id, nil
		}
		_, err := deploy(outsider)
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 531")))
		Expect(err).To(MatchError(ContainSubstring("is unauthorised to use project id=" + platform)))
		id, err := deploy(e.user)
		Expect(err).NotTo(HaveOccurred())
		p := e.user.VirtualMachine.NewDeployVirtualMachineParams(e.offeringID("small"), e.templateID("ubuntu-24.04-kube-v1.36-amd64", "zone-a"), e.zoneID("zone-a"))
		p.SetNetworkids([]string{e.networkID("shared-a")})
		p.SetProjectid(fresh)
		_, err = e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 531")))
		Expect(err).To(MatchError(ContainSubstring("Can't add resources to the project with specified projectId in state=Suspended as it's no longer active")))
		vm, _ := lo.Find(e.sim.VirtualMachines(), func(v simulator.VM) bool { return v.ID == id })
		Expect(vm.Project).To(Equal("platform"))
		Expect(vm.Account).To(HavePrefix("PrjAcct-platform-"))
	})
})
