package cloudstack_test

import (
	"context"
	"encoding/json"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// projectCatalog is the example catalog (project "platform" with the user account as member) plus resources the
// project owns, a project the user is no member of and a suspended one.
func projectCatalog() *simulator.Catalog {
	c := loadCatalog()
	c.Projects = append(c.Projects,
		simulator.Project{Name: "finance", Members: []string{"admin"}},
		simulator.Project{Name: "frozen", State: "Suspended", Members: []string{"karpenter"}})
	c.Networks = append(c.Networks, simulator.Network{Name: "platform-a", Zone: "zone-a", Project: "platform", CIDR: "10.7.0.0/24"})
	c.Templates = append(c.Templates, simulator.Template{Name: "platform-image", Zones: []string{"zone-a"}, Project: "platform", Public: lo.ToPtr(false)})
	c.AffinityGroups = append(c.AffinityGroups, simulator.AffinityGroup{Name: "platform-spread", Project: "platform"})
	c.SSHKeyPairs = append(c.SSHKeyPairs, simulator.SSHKeyPair{Name: "platform-key", Project: "platform"})
	c.SecurityGroups = append(c.SecurityGroups, simulator.SecurityGroup{Name: "platform-sg", Project: "platform"})
	// Parsing completes the catalog (owners, IDs); JSON is YAML.
	c, err := simulator.ParseCatalog(lo.Must(json.Marshal(c)))
	Expect(err).NotTo(HaveOccurred())
	return c
}

func withProject(ref string) func(*cloudstack.Options) {
	return func(o *cloudstack.Options) { o.Project = ref }
}

func nameList[T any](items []T, name func(T) string) []string {
	return lo.Map(items, func(i T, _ int) string { return name(i) })
}

var _ = Describe("A client in a project", func() {
	platformID := simulator.StableID("project", "platform")

	It("resolves the project by name, in any case, and by ID", func(ctx context.Context) {
		for _, ref := range []string{"platform", "Platform", platformID} {
			e := newEnv(projectCatalog(), withProject(ref))
			p, err := e.client.ResolveProject(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(p).To(Equal(&cloudstack.Project{ID: platformID, Name: "platform", Domain: "ROOT", State: "Active"}))
		}
		p, err := newEnv(projectCatalog()).client.ResolveProject(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(BeNil(), "no project configured")
	})

	It("lists the project's resources and never the account's, and deploys into the project", func(ctx context.Context) {
		cat := projectCatalog()
		e, account := newEnv(cat, withProject("platform")), newEnv(cat)
		// Both clients on one simulator: the second env's client is rebuilt against the first one's server.
		account.client = lo.Must(cloudstack.New(testOptions(e.sim, nil)))
		zoneA := e.zoneID(ctx, "zone-a")

		networks := lo.Must(e.client.ListNetworks(ctx, zoneA))
		Expect(nameList(networks, func(n *csgo.Network) string { return n.Name })).To(ConsistOf("platform-a", "shared-a"))
		templates := nameList(lo.Must(e.client.ListTemplates(ctx, zoneA)), func(t *csgo.Template) string { return t.Name })
		Expect(templates).To(ContainElements("platform-image", "ubuntu-24.04-kube-v1.36-amd64"))
		Expect(nameList(lo.Must(account.client.ListTemplates(ctx, zoneA)), func(t *csgo.Template) string { return t.Name })).NotTo(ContainElement("platform-image"))
		Expect(nameList(lo.Must(e.client.ListAffinityGroups(ctx)), func(g *csgo.AffinityGroup) string { return g.Name })).To(ConsistOf("platform-spread"))
		Expect(nameList(lo.Must(e.client.ListSSHKeyPairs(ctx)), func(k *csgo.SSHKeyPair) string { return k.Name })).To(ConsistOf("platform-key"))
		Expect(nameList(lo.Must(e.client.ListSecurityGroups(ctx)), func(g *csgo.SecurityGroup) string { return g.Name })).To(ConsistOf("platform-sg"))

		p := account.deployParams(ctx, "node-in-account")
		accountVM, job := lo.Must2(account.client.DeployVM(ctx, p))
		lo.Must(account.client.WaitForJob(ctx, job))
		p = e.deployParams(ctx, "node-in-project")
		p.SetNetworkids([]string{networks[lo.IndexOf(nameList(networks, func(n *csgo.Network) string { return n.Name }), "platform-a")].Id})
		projectVM, job := lo.Must2(e.client.DeployVM(ctx, p))
		lo.Must(e.client.WaitForJob(ctx, job))
		vm, _ := lo.Find(e.sim.VirtualMachines(), func(v simulator.VM) bool { return v.ID == projectVM })
		Expect(vm.Project).To(Equal("platform"), "deployVirtualMachine must carry the projectid")

		Expect(nameList(lo.Must(e.client.ListVMs(ctx, "", nil)), func(v *csgo.VirtualMachine) string { return v.Id })).To(ConsistOf(projectVM))
		Expect(nameList(lo.Must(account.client.ListVMs(ctx, "", nil)), func(v *csgo.VirtualMachine) string { return v.Id })).To(ConsistOf(accountVM))
		Expect(lo.Must(e.client.ListVMsByID(ctx, []string{projectVM, accountVM}))).To(ConsistOf(HaveField("Id", projectVM)))
		Expect(lo.Must(e.client.GetVM(ctx, projectVM)).Id).To(Equal(projectVM))
		_, err := e.client.GetVM(ctx, accountVM)
		Expect(cserrors.IsNotFound(err)).To(BeTrue(), "the account's VM is not the project's: %v", err)

		// A data disk is created in the project too, or it could not be attached to the project's VM.
		offerings := lo.Must(e.client.ListDiskOfferings(ctx))
		fixed, _ := lo.Find(offerings, func(o *csgo.DiskOffering) bool { return o.Name == "data-20g" })
		volume := lo.Must(e.client.CreateVolume(ctx, "project-data", fixed.Id, zoneA, 0))
		Expect(e.client.AttachVolume(ctx, volume, projectVM, 0)).To(Succeed())
		Expect(nameList(lo.Must(e.client.ListDataDisks(ctx, projectVM, nil)), func(v *csgo.Volume) string { return v.Id })).To(ConsistOf(volume))
		Expect(lo.Must(account.client.ListDataDisks(ctx, "", nil))).To(BeEmpty(), "the project's data disk is not the account's")

		// Calls by resource ID take no projectid: the server checks the key's membership of the owning project.
		Expect(e.client.CreateTags(ctx, []string{projectVM}, cloudstack.ResourceTypeUserVM, map[string]string{"team": "platform"})).To(Succeed())
		Expect(e.client.DestroyVM(ctx, projectVM, true)).To(Succeed())
	})

	DescribeTable("fails every call that takes a projectid before sending it when the project cannot be used",
		func(ctx context.Context, ref, reason string) {
			e := newEnv(projectCatalog(), withProject(ref))
			zoneA := simulator.StableID("zone", "zone-a")
			calls := map[string]func() error{
				"listNetworks":       func() error { _, err := e.client.ListNetworks(ctx, zoneA); return err },
				"listTemplates":      func() error { _, err := e.client.ListTemplates(ctx, zoneA); return err },
				"listAffinityGroups": func() error { _, err := e.client.ListAffinityGroups(ctx); return err },
				"listSSHKeyPairs":    func() error { _, err := e.client.ListSSHKeyPairs(ctx); return err },
				"listSecurityGroups": func() error { _, err := e.client.ListSecurityGroups(ctx); return err },
				"listVolumes":        func() error { _, err := e.client.ListDataDisks(ctx, "", nil); return err },
				"createVolume": func() error {
					_, err := e.client.CreateVolume(ctx, "data", simulator.StableID("diskoffering", "data-20g"), zoneA, 0)
					return err
				},
				"listVirtualMachines": func() error {
					_, err1 := e.client.ListVMs(ctx, "", nil)
					_, err2 := e.client.ListVMsByID(ctx, []string{zoneA})
					_, err3 := e.client.GetVM(ctx, zoneA)
					return lo.Ternary(err1 != nil && err2 != nil && err3 != nil, err1, nil)
				},
				"deployVirtualMachine": func() error {
					p := &csgo.DeployVirtualMachineParams{}
					p.SetZoneid(zoneA)
					_, _, err := e.client.DeployVM(ctx, p)
					return err
				},
			}
			for command, call := range calls {
				err := call()
				pe, ok := cserrors.AsProjectError(err)
				Expect(ok).To(BeTrue(), "%s: %v", command, err)
				Expect(pe.Reason).To(Equal(reason))
				Expect(pe.Error()).To(ContainSubstring("--cloudstack-project"))
				Expect(e.sim.Counts()).NotTo(HaveKey(command), "%s was sent without the project", command)
			}
			Expect(e.sim.Counts()).To(HaveKey("listProjects"))
		},
		Entry("an unknown name", "nonexistent", cserrors.ReasonProjectNotFound),
		Entry("a project the account is no member of", "finance", cserrors.ReasonProjectNotFound),
		Entry("an unknown ID", "6c1f8a52-3d4e-4b7a-8c9d-0e1f2a3b4c5d", cserrors.ReasonProjectNotFound),
		Entry("a suspended project", "frozen", cserrors.ReasonProjectNotActive),
	)
})
