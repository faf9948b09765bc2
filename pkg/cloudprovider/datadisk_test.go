package cloudprovider_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Data disks", func() {
	It("launches with two data disks, predicts ephemeral-storage from the root disk, drifts on a disk change and deletes the disks with the VM", func() {
		nc := newNodeClass()
		nc.Spec.RootDiskSize = lo.ToPtr(resource.MustParse("30Gi"))
		nc.Spec.DataDisks = []v1.DataDisk{
			{Name: "containerd", DiskOffering: v1.DiskOfferingSelector{Name: "data-custom"}, Size: lo.ToPtr(resource.MustParse("40Gi"))},
			{DiskOffering: v1.DiskOfferingSelector{Name: "data-20g"}},
		}
		nodeClass := expectNodeClassReconciled(nc)
		Expect(nodeClass.StatusConditions().Root().IsTrue()).To(BeTrue(), "%v", nodeClass.Status.Conditions)
		Expect(nodeClass.Status.DataDisks).To(HaveLen(2))
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pendingPod("1"))
		nodeClaim := ExpectNodeClaims(ctx, env.Client)[0]
		vmID := lo.Must(v1.ParseProviderID(nodeClaim.Status.ProviderID))

		disks := lo.Filter(csEnv.Simulator.Volumes(), func(v simulator.Volume, _ int) bool {
			return v.VirtualMachineID == vmID && v.Type == simulator.VolumeTypeDataDisk
		})
		Expect(lo.Map(disks, func(v simulator.Volume, _ int) int64 { return v.SizeGiB })).To(Equal([]int64{40, 20}))
		Expect(lo.Map(disks, func(v simulator.Volume, _ int) int { return v.DeviceID })).To(Equal([]int{1, 2}))
		// The kubelet's ephemeral-storage is the root filesystem: data disks mounted elsewhere (containerd's
		// image store) add nothing to it, so the prediction is the root disk's, as without data disks.
		Expect(nodeClaim.Status.Capacity.StorageEphemeral().Equal(resource.MustParse("30Gi"))).To(BeTrue(), "%v", nodeClaim.Status.Capacity)
		reason, err := cloudProvider.IsDrifted(ctx, nodeClaim)
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(BeEmpty())

		nodeClass = ExpectExists(ctx, env.Client, nodeClass)
		nodeClass.Spec.DataDisks[0].Size = lo.ToPtr(resource.MustParse("50Gi"))
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.DataDisks[0].SizeGiB).To(BeEquivalentTo(50))
		reason, err = cloudProvider.IsDrifted(ctx, ExpectExists(ctx, env.Client, nodeClaim))
		Expect(err).NotTo(HaveOccurred())
		Expect(reason).To(Equal(cloudprovider.DataDiskDrift))

		Eventually(func() error { return cloudProvider.Delete(ctx, nodeClaim) }).WithTimeout(30 * time.Second).
			Should(Satisfy(corecloudprovider.IsNodeClaimNotFoundError))
		Expect(liveVMs()).To(BeEmpty())
		left := lo.Map(csEnv.Simulator.Volumes(), func(v simulator.Volume, _ int) string { return v.ID })
		for _, d := range disks {
			Expect(left).NotTo(ContainElement(d.ID), "data disk %s outlived its VM", d.Name)
		}
	})

	It("is not Ready, naming the field, when a disk offering matches nothing, and launches nothing", func() {
		nc := newNodeClass()
		nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "data-nope"}}}
		nodeClass := expectNodeClassReconciled(nc)
		ready := nodeClass.StatusConditions().Root()
		Expect(ready.IsFalse()).To(BeTrue())
		Expect(ready.Message).To(ContainSubstring(`spec.dataDisks[0] (name="data-nope").diskOffering`))
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		pod := pendingPod("1")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		ExpectNotScheduled(ctx, env.Client, pod)
		Expect(liveVMs()).To(BeEmpty())
	})
})
