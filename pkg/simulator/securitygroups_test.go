package simulator_test

import (
	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Security groups", func() {
	var e *env
	BeforeEach(func() {
		c := loadCatalog()
		for i := range c.Zones {
			if c.Zones[i].Name == "zone-b" {
				c.Zones[i].SecurityGroupsEnabled = true
			}
		}
		c.SecurityGroups = append(c.SecurityGroups, simulator.SecurityGroup{ID: simulator.StableID("securitygroup", "admin/admins-only"), Name: "admins-only", Account: "admin"})
		e = newEnv(c)
	})
	groupID := func(cs *csgo.CloudStackClient, name string) string {
		GinkgoHelper()
		p := cs.SecurityGroup.NewListSecurityGroupsParams()
		p.SetSecuritygroupname(name)
		l, err := cs.SecurityGroup.ListSecurityGroups(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.SecurityGroups).To(HaveLen(1))
		return l.SecurityGroups[0].Id
	}
	deployIn := func(zone, network string, sgIDs ...string) (*csgo.DeployVirtualMachineResponse, error) {
		p := e.deployParams("sg-vm", "small")
		p.SetZoneid(e.zoneID(zone))
		p.SetTemplateid(e.templateID("ubuntu-24.04-kube-v1.36-amd64", zone))
		p.SetNetworkids([]string{e.networkID(network)})
		if len(sgIDs) > 0 {
			p.SetSecuritygroupids(sgIDs)
		}
		return e.user.VirtualMachine.DeployVirtualMachine(p)
	}

	It("lists the account's own groups with their tags, and only those", func() {
		l, err := e.user.SecurityGroup.ListSecurityGroups(e.user.SecurityGroup.NewListSecurityGroupsParams())
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(l.SecurityGroups, func(g *csgo.SecurityGroup, _ int) string { return g.Name })).To(ConsistOf("k8s-nodes", "ssh-from-bastion"))
		g, _ := lo.Find(l.SecurityGroups, func(g *csgo.SecurityGroup) bool { return g.Name == "k8s-nodes" })
		Expect(g.Tags).To(ContainElement(HaveField("Key", "k8s-role")))
	})

	It("refuses securitygroupids in a zone without security groups, before any job", func() {
		_, err := deployIn("zone-a", "isolated-a", groupID(e.user, "k8s-nodes"))
		Expect(err).To(MatchError(ContainSubstring("431")))
		Expect(err).To(MatchError(ContainSubstring("security group feature is not enabled for zone zone-a")))
		Expect(e.sim.VirtualMachines()).To(BeEmpty())
	})

	It("puts the VM in the given groups in a security-group zone, and in the account's default group without any", func() {
		sg := groupID(e.user, "k8s-nodes")
		r, err := deployIn("zone-b", "isolated-b", sg)
		Expect(err).NotTo(HaveOccurred())
		waitJob(e.user, r.JobID)
		vm, _, err := e.user.VirtualMachine.GetVirtualMachineByID(r.Id)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(vm.Securitygroup, func(g csgo.VirtualMachineSecuritygroup, _ int) string { return g.Id })).To(Equal([]string{sg}))

		p := e.deployParams("sg-default", "small")
		p.SetZoneid(e.zoneID("zone-b"))
		p.SetTemplateid(e.templateID("ubuntu-24.04-kube-v1.36-amd64", "zone-b"))
		p.SetNetworkids([]string{e.networkID("isolated-b")})
		r2, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		waitJob(e.user, r2.JobID)
		vm2, _, err := e.user.VirtualMachine.GetVirtualMachineByID(r2.Id)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(vm2.Securitygroup, func(g csgo.VirtualMachineSecuritygroup, _ int) string { return g.Name })).To(Equal([]string{"default"}))
	})

	It("refuses another account's group", func() {
		_, err := deployIn("zone-b", "isolated-b", groupID(e.admin, "admins-only"))
		Expect(err).To(MatchError(ContainSubstring("531")))
	})
})
