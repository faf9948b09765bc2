package instance_test

import (
	"fmt"
	"strings"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// deployRaw deploys a VM in zone-a outside the provider, in a group and with tags of the test's choosing.
func deployRaw(client *cloudstack.Client, name, group string, tags map[string]string, networkID string) string {
	GinkgoHelper()
	p := &csgo.DeployVirtualMachineParams{}
	p.SetZoneid(id("zone", "zone-a"))
	p.SetServiceofferingid(id("serviceoffering", "small"))
	p.SetTemplateid(id("template", "ubuntu"))
	p.SetNetworkids([]string{networkID})
	p.SetName(name)
	if group != "" {
		p.SetGroup(group)
	}
	vmID, jobID, err := client.DeployVM(ctx, p)
	Expect(err).NotTo(HaveOccurred())
	if len(tags) > 0 {
		Expect(client.CreateTags(ctx, []string{vmID}, instance.ResourceTypeVM, tags)).To(Succeed())
	}
	_, err = client.WaitForJob(ctx, jobID)
	Expect(err).NotTo(HaveOccurred())
	return vmID
}

func ids(insts []*instance.Instance) []string {
	return lo.Map(insts, func(i *instance.Instance, _ int) string { return i.ID })
}

var _ = Describe("Ownership", func() {
	It("tells apart two clusters that share a name in one account", func() {
		nc := nodeClass()
		other := instance.NewDefaultProvider(api, unavailable, otherCluster, instance.WithServiceOfferings(instanceTypes))
		mine, err := provider.Create(ctx, nc, nodeClaim("mine-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		theirs, err := other.Create(ctx, nc, nodeClaim("theirs-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		// Launched by this cluster, but tagging failed: only the instance group proves it.
		untagged := deployRaw(api, "mine-untagged", owner.Group(), nil, id("network", "net-a"))
		// Carrying this cluster's name tag, but not its ID: the other cluster's, or anybody's.
		nameOnly := deployRaw(api, "name-only", instance.GroupPrefix(clusterName), map[string]string{v1.TagKeyCluster: clusterName}, id("network", "net-a"))

		list, err := provider.ListAll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(ids(list)).To(ConsistOf(mine.ID, untagged))
		list, err = other.ListAll(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(ids(list)).To(ConsistOf(theirs.ID))
		Expect(ids(list)).NotTo(ContainElement(nameOnly))
	})

	It("never adopts the VM of another cluster of the same name, even under the same NodeClaim name", func() {
		nc := nodeClass()
		other := instance.NewDefaultProvider(api, unavailable, otherCluster, instance.WithServiceOfferings(instanceTypes))
		theirs, err := other.Create(ctx, nc, nodeClaim("same-name"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		inst, err := provider.Create(ctx, nc, nodeClaim("same-name"), listInstanceTypes(nc), userData)
		if err == nil {
			Expect(inst.ID).NotTo(Equal(theirs.ID))
		}
		Expect(simVM(theirs.ID).Tags).To(HaveKeyWithValue(v1.TagKeyClusterID, otherCluster.ClusterID))
	})

	DescribeTable("with an admin key, lists only the key's own account, whatever another account's VMs carry",
		func(key, secret string) {
			adminAPI, err := csEnv.ClientWithKeys(key, secret)
			Expect(err).NotTo(HaveOccurred())
			// The worst case: another account's cluster with the same name and even the same ID.
			admin := instance.NewDefaultProvider(adminAPI, unavailable, owner, instance.WithServiceOfferings(instanceTypes))
			nc := nodeClass()
			victim, err := provider.Create(ctx, nc, nodeClaim("victim-1"), listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			own := deployRaw(adminAPI, "admins-own", owner.Group(), owner.Tags(), id("network", "shared-a"))

			list, err := admin.ListAll(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(ids(list)).To(ConsistOf(own))
			list, err = admin.List(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(ids(list)).NotTo(ContainElement(victim.ID))
		},
		Entry("root admin", "test-root-key", "test-root-secret"),
		Entry("domain admin", "test-domadmin-key", "test-domadmin-secret"),
	)
})

var _ = Describe("Hostnames", func() {
	long := "p" + strings.Repeat("o", 61) + "l" // a 63-character NodePool name
	DescribeTable("map NodeClaim names to hostnames CloudStack accepts, deterministically",
		func(nodeClaimName, want string) {
			got := instance.Hostname(nodeClaimName)
			Expect(got).To(MatchRegexp(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`))
			Expect(instance.Hostname(nodeClaimName)).To(Equal(got))
			if want != "" {
				Expect(got).To(Equal(want))
			}
		},
		Entry("a valid name, unchanged", "default-x7k2p", "default-x7k2p"),
		Entry("dots", "gpu.v1-x7k2p", ""),
		Entry("a leading digit", "1st-pool-x7k2p", ""),
		Entry("a 63-character NodePool", long+"-x7k2p", ""),
		Entry("a 253-character name", strings.Repeat("a.", 126)+"b", ""),
	)

	It("keeps distinct NodeClaims apart even when they map to the same characters", func() {
		Expect(instance.Hostname("gpu.v1-x7k2p")).NotTo(Equal(instance.Hostname("gpu-v1-x7k2p")))
		Expect(instance.Hostname(long + "-aaaaa")).NotTo(Equal(instance.Hostname(long + "-aaaab")))
	})

	DescribeTable("launch VMs with valid hostnames for awkward NodePool names, and adopt them after a restart",
		func(nodePool string) {
			nc := nodeClass()
			claim := nodeClaim(nodePool + "-x7k2p")
			inst, err := provider.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			vm := simVM(inst.ID)
			Expect(vm.Name).To(Equal(instance.Hostname(claim.Name)))
			Expect(vm.DisplayName).To(Equal(claim.Name))
			Expect(vm.Tags).NotTo(HaveKey(v1.TagKeyNodeClaim), "the display name identifies the NodeClaim, so launches share createTags calls")

			restarted := instance.NewDefaultProvider(api, cache.NewUnavailableOfferings(), owner, instance.WithServiceOfferings(instanceTypes))
			claim.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
			sim.ResetCounts()
			again, err := restarted.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			Expect(again.ID).To(Equal(inst.ID))
			Expect(sim.Counts()["deployVirtualMachine"]).To(BeZero())
			Expect(sim.Counts()["listVirtualMachines"]).To(BeEquivalentTo(1), "one lookup by name, not a scan")
		},
		Entry("gpu.v1", "gpu.v1"),
		Entry("1st-pool", "1st-pool"),
		Entry("a 63-character name", long),
	)

	It("looks up by name once after a duplicate-hostname 431, however many VMs the account has", func() {
		nc := nodeClass()
		for i := range 30 {
			deployRaw(api, fmt.Sprintf("unrelated-%d", i), "", nil, id("network", "net-a"))
		}
		// Pages of 10: a scan of the account's 31 VMs would take four requests.
		paged, err := csEnv.Client(test.UserAccount, func(o *cloudstack.Options) { o.PageSize = 10 })
		Expect(err).NotTo(HaveOccurred())
		p := instance.NewDefaultProvider(paged, unavailable, owner, instance.WithServiceOfferings(instanceTypes))
		first, err := p.Create(ctx, nc, nodeClaim("dup-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		sim.ResetCounts()
		// A Create that does not know the VM exists (same process, so no lookup before deploy) hits the duplicate.
		again, err := p.Create(ctx, nc, nodeClaim("dup-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.ID).To(Equal(first.ID))
		Expect(sim.Counts()["listVirtualMachines"]).To(BeEquivalentTo(1))
	})
})
