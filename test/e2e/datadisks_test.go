package e2e_test

import (
	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Data disks", func() {
	It("a VM with two data disks launches, the node sees the capacity the prediction says, and deleting the node removes VM and disks", func() {
		nc := nodeClass("data-disks", []string{"zone-a"}, "k8s.small")
		nc.Spec.RootDiskSize = lo.ToPtr(resource.MustParse("30Gi"))
		nc.Spec.DataDisks = []v1.DataDisk{
			{Name: "containerd", DiskOffering: v1.DiskOfferingSelector{Name: "data-custom"}, Size: lo.ToPtr(resource.MustParse("40Gi"))},
			{DiskOffering: v1.DiskOfferingSelector{Name: "data-20g"}},
		}
		createNodeClass(nc)
		np := nodePool("data-disks", nc.Name)
		dep := deployment("data-disks", np.Name, 1, "500m")
		create(np, dep)
		DeferCleanup(func() { cleanup(dep, np, nc) })

		claim := expectInitialized(np.Name, 1)[0]
		vm, ok := lo.Find(clusterVMs(), func(vm simulator.VM) bool { return vm.Name == claim.Name })
		Expect(ok).To(BeTrue())
		disksOf := func(g Gomega, vmID string) []*csgo.Volume {
			all, err := env.DataDisks(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			return lo.Filter(all, func(d *csgo.Volume, _ int) bool { return d.Virtualmachineid == vmID })
		}
		disks := disksOf(Default, vm.ID)
		Expect(lo.Map(disks, func(d *csgo.Volume, _ int) int64 { return d.Size >> 30 })).To(ConsistOf(int64(40), int64(20)))

		// The prediction: the NodeClaim's ephemeral-storage is the root disk's (data disks add none), and the
		// node reports the same.
		Expect(claim.Status.Capacity.StorageEphemeral().Equal(resource.MustParse("30Gi"))).To(BeTrue(), "%v", claim.Status.Capacity)
		node := &corev1.Node{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: claim.Status.NodeName}, node)).To(Succeed())
		Expect(node.Status.Capacity.StorageEphemeral().Equal(*claim.Status.Capacity.StorageEphemeral())).To(BeTrue(),
			"node %v, nodeclaim %v", node.Status.Capacity, claim.Status.Capacity)

		// Deleting the node removes the VM and, with it, both data disks: none is left detached. The deployment goes
		// first, so that no replacement node is launched for its pod.
		Expect(env.Client.Delete(ctx, dep)).To(Succeed())
		Expect(env.Client.Delete(ctx, node)).To(Succeed())
		ids := lo.Map(disks, func(d *csgo.Volume, _ int) string { return d.Id })
		// A disk seen detached was left by the expunge (which only detaches data disks): it must go with the VM, not
		// wait for the garbage collector.
		Eventually(func(g Gomega) {
			all, err := env.DataDisks(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			mine := lo.Filter(all, func(d *csgo.Volume, _ int) bool { return lo.Contains(ids, d.Id) })
			if left, detached := lo.Find(mine, func(d *csgo.Volume) bool { return d.Virtualmachineid == "" }); detached {
				StopTrying("data disk " + left.Name + " was left detached when its VM went").Now()
			}
			g.Expect(lo.ContainsBy(clusterVMs(), func(v simulator.VM) bool { return v.ID == vm.ID })).To(BeFalse(), "VM %s still live", vm.ID)
			g.Expect(mine).To(BeEmpty())
		}).Should(Succeed())
	})
})
