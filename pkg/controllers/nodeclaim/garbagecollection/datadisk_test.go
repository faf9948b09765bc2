package garbagecollection_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/garbagecollection"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

var _ = Describe("Garbage collection of data disks", func() {
	// detachedDisk creates a data disk attached to nothing, with the given tags.
	detachedDisk := func(name string, tags map[string]string) string {
		GinkgoHelper()
		id := lo.Must(csEnv.API.CreateVolume(ctx, name, simulator.StableID("diskoffering", "data-20g"), simulator.StableID("zone", "zone-a"), 0))
		if len(tags) > 0 {
			Expect(csEnv.API.CreateTags(ctx, []string{id}, "Volume", tags)).To(Succeed())
		}
		return id
	}
	volumeIDs := func() []string {
		return lo.Map(csEnv.Simulator.Volumes(), func(v simulator.Volume, _ int) string { return v.ID })
	}

	It("deletes this cluster's detached data disks after the grace period, only when the cluster uses data disks", func() {
		mine := detachedDisk("mine", test.Owner().Tags())
		untagged := detachedDisk("someone-elses", nil)
		gc := garbagecollection.NewController(env.Clock, env.Client, csEnv.InstanceProvider, 30*time.Second)
		env.Clock.Step(10 * time.Minute)

		csEnv.Simulator.ResetCounts()
		ExpectSingletonReconciled(ctx, gc)
		Expect(volumeIDs()).To(ContainElements(mine, untagged), "no NodeClass has data disks: nothing is listed")
		Expect(csEnv.Simulator.Counts()).NotTo(HaveKey("listVolumes"))

		nc := newNodeClass()
		nc.Spec.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "data-custom"}, Size: lo.ToPtr(resource.MustParse("10Gi"))}}
		expectNodeClassReconciled(nc)
		ExpectSingletonReconciled(ctx, gc)
		Expect(volumeIDs()).NotTo(ContainElement(mine))
		Expect(volumeIDs()).To(ContainElement(untagged), "a volume without this cluster's ID is never deleted")
		Expect(csEnv.API.DeleteVolume(ctx, untagged)).To(Succeed())
	})
})
