package instancetype_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

func spec(offering string, zone v1.Zone, template string, networks ...string) types.GomegaMatcher {
	return And(HaveField("OfferingID", offering), HaveField("Zone", zone), HaveField("Template.ID", template), HaveField("NetworkIDs", networks),
		HaveField("Details", BeEmpty()))
}

var _ = Describe("LaunchSpecs", func() {
	It("hands out one spec per offering, zone and architecture, with the zone's template, networks and deploy details", func() {
		nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "small"}, v1.SelectorTerm{Name: "zonal"}, v1.SelectorTerm{Name: "custom"})
		// zone-b also serves arm64; its first network is the default NIC.
		nc.Status.Templates = append(nc.Status.Templates, v1.Template{ID: "tmpl-arm-b", Name: "ubuntu-arm", ZoneID: zones["zone-b"].ID, Architecture: "arm64"})
		nc.Status.Networks = append(nc.Status.Networks, v1.Network{ID: "second-net-b", Name: "net2", ZoneID: zones["zone-b"].ID})
		its, err := provider.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		specs, err := provider.LaunchSpecs(ctx, nc)
		Expect(err).NotTo(HaveOccurred())

		a, b := zones["zone-a"], zones["zone-b"]
		small := specs.For("small", v1.ZoneLabelValue(a.Name))
		Expect(small).To(ConsistOf(HaveField("Arch", "amd64")))
		Expect(small[0]).To(spec(offeringID("small"), a, "tmpl-"+a.ID, "net-"+a.ID))
		Expect(specs.For("small", v1.ZoneLabelValue(b.Name))).To(ConsistOf(
			spec(offeringID("small"), b, "tmpl-"+b.ID, "net-"+b.ID, "second-net-b"),
			spec(offeringID("small"), b, "tmpl-arm-b", "net-"+b.ID, "second-net-b"),
		))
		// Same-named zone-scoped offerings: one instance type, each zone deploying its own offering.
		zonal, ok := lo.Find(its, func(it *cloudprovider.InstanceType) bool {
			return strings.HasPrefix(it.Name, "zonal") && it.Capacity.Cpu().Value() == 2
		})
		Expect(ok).To(BeTrue())
		zonalA, zonalB := specs.For(zonal.Name, v1.ZoneLabelValue(a.Name)), specs.For(zonal.Name, v1.ZoneLabelValue(b.Name))
		Expect(zonalA).ToNot(BeEmpty())
		Expect(zonalB).ToNot(BeEmpty())
		Expect(zonalA[0].OfferingID).ToNot(Equal(zonalB[0].OfferingID))
		// Every instance type has specs, and a VM maps back to its instance type by offering and size.
		for _, it := range its {
			for _, o := range it.Offerings {
				Expect(specs.For(it.Name, o.Zone())).ToNot(BeEmpty(), "%s in %s", it.Name, o.Zone())
			}
		}
		custom, ok := lo.Find(its, func(it *cloudprovider.InstanceType) bool { return strings.HasPrefix(it.Name, "custom") })
		Expect(ok).To(BeTrue())
		cs := specs.For(custom.Name, v1.ZoneLabelValue(a.Name))[0]
		Expect(cs.Details).To(HaveKey("cpuNumber"), "a customized offering is sized by its deploy details")
		name, found := specs.InstanceTypeOf(cs.OfferingID, cs.CPU, cs.MemoryMiB)
		Expect(found).To(BeTrue())
		Expect(name).To(Equal(custom.Name))
		Expect(specs.For("small", "no-such-zone")).To(BeEmpty())
	})

	// Found by the e2e drift spec: the NodeClass's spec hash changes before its status names the new template, and a
	// cache key blind to template and network IDs kept handing out the old ones, so every replacement drifted again.
	It("hands out the template and networks the status names now, not those of a cached build", func() {
		nc := nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "small"})
		a := zones["zone-a"]
		specs, err := provider.LaunchSpecs(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(specs.For("small", v1.ZoneLabelValue(a.Name))[0].Template.ID).To(Equal("tmpl-" + a.ID))

		nc.Status.Templates[0].ID, nc.Status.Templates[0].Name = "tmpl-patched-a", "patched"
		nc.Status.Networks[0].ID = "net-patched-a"
		specs, err = provider.LaunchSpecs(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(specs.For("small", v1.ZoneLabelValue(a.Name))[0].Template.ID).To(Equal("tmpl-patched-a"))
		Expect(specs.For("small", v1.ZoneLabelValue(a.Name))[0].NetworkIDs).To(Equal([]string{"net-patched-a"}))
	})
})
