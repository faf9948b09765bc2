package simulator_test

import (
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Disk offerings and volumes", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	diskOffering := func(name string) *csgo.DiskOffering {
		GinkgoHelper()
		p := e.user.DiskOffering.NewListDiskOfferingsParams()
		p.SetName(name)
		l, err := e.user.DiskOffering.ListDiskOfferings(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.DiskOfferings).To(HaveLen(1))
		return l.DiskOfferings[0]
	}
	dataDisks := func(vmID string) []simulator.Volume {
		return lo.Filter(e.sim.Volumes(), func(v simulator.Volume, _ int) bool {
			return v.Type == simulator.VolumeTypeDataDisk && (vmID == "" || v.VirtualMachineID == vmID)
		})
	}
	deployWithDisk := func(offering string, size int64) string {
		GinkgoHelper()
		p := e.deployParams(fmt.Sprintf("disk-vm-%d", len(e.sim.VirtualMachines())), "small")
		p.SetDiskofferingid(diskOffering(offering).Id)
		if size > 0 {
			p.SetSize(size)
		}
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, resp.JobID).Jobstatus).To(Equal(1))
		return resp.Id
	}
	createAttach := func(vmID, offering string, size int64) string {
		GinkgoHelper()
		p := e.user.Volume.NewCreateVolumeParams()
		p.SetDiskofferingid(diskOffering(offering).Id)
		p.SetZoneid(e.zoneID("zone-a"))
		if size > 0 {
			p.SetSize(size)
		}
		c, err := e.user.Volume.CreateVolume(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, c.JobID).Jobstatus).To(Equal(1))
		a, err := e.user.Volume.AttachVolume(e.user.Volume.NewAttachVolumeParams(c.Id, vmID))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, a.JobID).Jobstatus).To(Equal(1))
		return c.Id
	}

	It("lists offerings with their zones (none = every zone) and filters by zone", func() {
		Expect(diskOffering("data-20g").Zoneid).To(BeEmpty())
		Expect(diskOffering("data-20g").Disksize).To(BeEquivalentTo(20))
		Expect(diskOffering("data-custom").Iscustomized).To(BeTrue())
		Expect(diskOffering("data-zone-b-only").Zoneid).To(Equal(e.zoneID("zone-b")))
		p := e.user.DiskOffering.NewListDiskOfferingsParams()
		p.SetZoneid(e.zoneID("zone-a"))
		l, err := e.user.DiskOffering.ListDiskOfferings(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(l.DiskOfferings, func(o *csgo.DiskOffering, _ int) string { return o.Name })).To(ConsistOf("data-20g", "data-custom"))
	})

	DescribeTable("refuses deploys with a wrong data disk before any job", func(offering string, size int64, text string) {
		p := e.deployParams("bad-disk", "small")
		p.SetDiskofferingid(diskOffering(offering).Id)
		if size > 0 {
			p.SetSize(size)
		}
		_, err := e.user.VirtualMachine.DeployVirtualMachine(p)
		Expect(err).To(MatchError(And(ContainSubstring("431"), ContainSubstring(text))))
		Expect(e.sim.VirtualMachines()).To(BeEmpty())
		Expect(e.sim.Volumes()).To(BeEmpty())
	},
		Entry("customized without size", "data-custom", int64(0), "This disk offering requires a custom size specified"),
		Entry("fixed with size", "data-20g", int64(30), "This disk offering does not allow custom size"),
		Entry("customized too large", "data-custom", int64(4096), "Volume size: 4096GB is out of allowed range. Max: 1024 Min:1"),
		Entry("offering of another zone", "data-zone-b-only", int64(0), "is not available in zone"),
	)

	It("gives a deployed VM a ROOT volume and the data disk of diskofferingid at device 1; attach takes 2, then 4", func() {
		vmID := deployWithDisk("data-custom", 30)
		second := createAttach(vmID, "data-20g", 0)
		third := createAttach(vmID, "data-20g", 0)
		disks := dataDisks(vmID)
		Expect(disks).To(HaveLen(3))
		Expect(lo.Map(disks, func(v simulator.Volume, _ int) int { return v.DeviceID })).To(Equal([]int{1, 2, 4}))
		Expect(disks[0].SizeGiB).To(BeEquivalentTo(30))
		Expect(disks[1].ID).To(Equal(second))
		Expect(disks[2].ID).To(Equal(third))

		p := e.user.Volume.NewListVolumesParams()
		p.SetVirtualmachineid(vmID)
		l, err := e.user.Volume.ListVolumes(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(l.Volumes, func(v *csgo.Volume, _ int) string { return v.Type })).To(ConsistOf("ROOT", "DATADISK", "DATADISK", "DATADISK"))
		Expect(lo.Filter(l.Volumes, func(v *csgo.Volume, _ int) bool { return v.Deviceid == 1 })[0].Size).To(BeEquivalentTo(30 << 30))
	})

	It("expunging a VM destroys its ROOT volume and only detaches its data disks, which deleteVolume then removes", func() {
		vmID := deployWithDisk("data-20g", 0)
		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(vmID)
		p.SetExpunge(true)
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		Expect(lo.Filter(e.sim.Volumes(), func(v simulator.Volume, _ int) bool { return v.Type == simulator.VolumeTypeRoot })).To(BeEmpty())
		left := dataDisks("")
		Expect(left).To(HaveLen(1))
		Expect(left[0].VirtualMachineID).To(BeEmpty())
		_, err = e.user.Volume.DeleteVolume(e.user.Volume.NewDeleteVolumeParams(left[0].ID))
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Volumes()).To(BeEmpty())
	})

	It("destroys the data disks of volumeids with the VM, and fails the job for a volume that is not its DATADISK", func() {
		vmID := deployWithDisk("data-20g", 0)
		other := deployWithDisk("data-20g", 0)
		p := e.user.VirtualMachine.NewDestroyVirtualMachineParams(vmID)
		p.SetExpunge(true)
		p.SetVolumeids([]string{dataDisks(other)[0].ID})
		d, err := e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		res := waitJob(e.user, d.JobID)
		Expect(res.Jobstatus).To(Equal(2))
		Expect(string(res.Jobresult)).To(ContainSubstring("The following supplied volumes are not DATADISK attached to the VM"))

		p.SetVolumeids([]string{dataDisks(vmID)[0].ID})
		d, err = e.user.VirtualMachine.DestroyVirtualMachine(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		Expect(dataDisks("")).To(HaveLen(1))
		Expect(dataDisks("")[0].VirtualMachineID).To(Equal(other))
	})

	It("refuses to delete an attached volume and to attach an attached one", func() {
		vmID := deployWithDisk("data-20g", 0)
		_, err := e.user.Volume.DeleteVolume(e.user.Volume.NewDeleteVolumeParams(dataDisks(vmID)[0].ID))
		Expect(err).To(MatchError(ContainSubstring("Please specify a volume that is not attached to any VM.")))
		a, err := e.user.Volume.AttachVolume(e.user.Volume.NewAttachVolumeParams(dataDisks(vmID)[0].ID, vmID))
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, a.JobID).Jobstatus).To(Equal(2))
	})
})
