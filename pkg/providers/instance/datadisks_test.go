package instance_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Data disks", func() {
	// withDisks is a NodeClass whose status names a customized 50 GiB disk and two fixed 20 GiB ones, as the NodeClass
	// controller resolves them.
	withDisks := func() *v1.CloudStackNodeClass {
		nc := nodeClass()
		nc.Status.DataDisks = []v1.ResolvedDataDisk{
			{Name: "containerd", DiskOfferingID: id("diskoffering", "custom-disk"), DiskOfferingName: "custom-disk", Customized: true, SizeGiB: 50, DeviceID: 1},
			{DiskOfferingID: id("diskoffering", "fixed-20"), DiskOfferingName: "fixed-20", SizeGiB: 20, DeviceID: 2},
			{Name: "logs", DiskOfferingID: id("diskoffering", "fixed-20"), DiskOfferingName: "fixed-20", SizeGiB: 20, DeviceID: 4},
		}
		return nc
	}
	// volumesOf are the simulator's data disks attached to a VM, or detached ones named after a NodeClaim's hostname.
	dataDisks := func(vmID, hostname string) []simulator.Volume {
		return lo.Filter(sim.Volumes(), func(v simulator.Volume, _ int) bool {
			return v.Type == simulator.VolumeTypeDataDisk && ((vmID != "" && v.VirtualMachineID == vmID) ||
				(hostname != "" && v.VirtualMachineID == "" && len(v.Name) > len(hostname) && v.Name[:len(hostname)+1] == hostname+"-"))
		})
	}

	It("launches a VM with every data disk at its device ID, tagged as this cluster's, and deletes them with it", func() {
		nc := withDisks()
		its := listInstanceTypes(nc)
		sim.ResetCounts()
		inst, err := provider.Create(ctx, nc, nodeClaim("disks-1"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		// Requests beyond a launch without data disks: one listVolumes and one createTags for all disks, and one
		// createVolume and attachVolume per disk after the first (plus their job polls).
		counts := sim.Counts()
		Expect(counts).To(HaveKeyWithValue("deployVirtualMachine", int64(1)))
		Expect(counts).To(HaveKeyWithValue("createVolume", int64(2)))
		Expect(counts).To(HaveKeyWithValue("attachVolume", int64(2)))
		Expect(counts).To(HaveKeyWithValue("listVolumes", int64(1)))
		Expect(counts).To(HaveKeyWithValue("createTags", int64(2)), "one for the VM, one for its disks")
		disks := dataDisks(inst.ID, "")
		Expect(lo.Map(disks, func(v simulator.Volume, _ int) int { return v.DeviceID })).To(Equal([]int{1, 2, 4}))
		Expect(lo.Map(disks, func(v simulator.Volume, _ int) int64 { return v.SizeGiB })).To(Equal([]int64{50, 20, 20}))
		Expect(disks[1].Name).To(Equal("disks-1-data1"))
		Expect(disks[2].Name).To(Equal("disks-1-logs"))
		Expect(simVM(inst.ID).Tags).To(HaveKeyWithValue(v1.TagKeyDataDisks, "3"))
		tagged, err := api.ListDataDisks(ctx, inst.ID, map[string]string{v1.TagKeyClusterID: owner.ClusterID})
		Expect(err).NotTo(HaveOccurred())
		Expect(tagged).To(HaveLen(3))

		sim.ResetCounts()
		Expect(provider.Delete(ctx, inst.ID)).To(Succeed())
		Expect(sim.Counts()).To(HaveKeyWithValue("listVolumes", int64(1)), "the delete lists the VM's disks once")
		Eventually(func() string { return vmState(inst.ID) }).Should(BeEmpty())
		Expect(lo.Filter(sim.Volumes(), func(v simulator.Volume, _ int) bool {
			return lo.ContainsBy(disks, func(d simulator.Volume) bool { return d.ID == v.ID })
		})).To(BeEmpty(), "the data disks went with the VM, none is left detached")
	})

	It("costs no volume request for a VM without data disks", func() {
		nc := nodeClass()
		inst, err := provider.Create(ctx, nc, nodeClaim("nodisk-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(provider.Delete(ctx, inst.ID)).To(Succeed())
		for _, cmd := range []string{"listVolumes", "createVolume", "attachVolume", "deleteVolume"} {
			Expect(sim.Counts()).NotTo(HaveKey(cmd))
		}
	})

	It("leaves no VM and no volume behind when an attach fails", func() {
		sim.FailNextCommands("attachVolume", 1)
		nc := withDisks()
		_, err := provider.Create(ctx, nc, nodeClaim("disks-fail"), listInstanceTypes(nc), userData)
		Expect(err).To(MatchError(ContainSubstring("attaching data disk 1 (spec.dataDisks[1])")))
		Expect(lo.Filter(sim.VirtualMachines(), func(vm simulator.VM, _ int) bool {
			return vm.Name == "disks-fail" && vm.State != simulator.StateExpunging
		})).To(BeEmpty())
		Expect(lo.Filter(sim.Volumes(), func(v simulator.Volume, _ int) bool {
			return v.Type == simulator.VolumeTypeDataDisk && (v.Name == "disks-fail-data1" || v.Name == "disks-fail-logs" || v.VirtualMachineID != "" && vmState(v.VirtualMachineID) == "")
		})).To(BeEmpty())
		Expect(dataDisks("", "disks-fail")).To(BeEmpty())
	})

	It("garbage-collects this cluster's detached data disks only, after the grace period", func() {
		nc := withDisks()
		inst, err := provider.Create(ctx, nc, nodeClaim("disks-gc"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		mine := dataDisks(inst.ID, "")
		// Destroyed without volumeids (as by hand): CloudStack detaches the data disks and they live on.
		Expect(rootAPI.DestroyVM(ctx, inst.ID, true)).To(Succeed())
		Expect(lo.Map(mine, func(v simulator.Volume, _ int) string { return v.ID })).To(HaveEach(BeElementOf(lo.Map(sim.Volumes(), func(v simulator.Volume, _ int) string { return v.ID }))))
		// Another cluster's detached disk in the same account must survive.
		foreignID, err := api.CreateVolume(ctx, "foreign", id("diskoffering", "fixed-20"), id("zone", "zone-a"), 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(api.CreateTags(ctx, []string{foreignID}, "Volume", otherCluster.Tags())).To(Succeed())

		n, err := provider.DeleteDetachedDataDisks(ctx, time.Now().Add(-time.Hour))
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeZero(), "younger than the grace period")
		n, err = provider.DeleteDetachedDataDisks(ctx, time.Now().Add(time.Second))
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeNumerically(">=", 3), "this test's three, and any an earlier failed test left")
		left := lo.Map(sim.Volumes(), func(v simulator.Volume, _ int) string { return v.ID })
		Expect(left).To(ContainElement(foreignID))
		for _, d := range mine {
			Expect(left).NotTo(ContainElement(d.ID))
		}
		Expect(api.DeleteVolume(ctx, foreignID)).To(Succeed())
	})
})
