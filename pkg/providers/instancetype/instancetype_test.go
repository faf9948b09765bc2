package instancetype_test

import (
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var allOfferings = []v1.SelectorTerm{{Name: "small"}, {Name: "Medium Instance"}, {Name: "large"}, {Name: "gpu"}, {Name: "zoned"}, {Name: "custom"}, {Name: "system"}}

func byName(its []*cloudprovider.InstanceType) map[string]*cloudprovider.InstanceType {
	out := map[string]*cloudprovider.InstanceType{}
	for _, it := range its {
		out[it.Name] = it
	}
	return out
}

func label(it *cloudprovider.InstanceType, key string) string {
	r := it.Requirements.Get(key)
	if r.Len() != 1 {
		return ""
	}
	return r.Any()
}

func zonesOf(it *cloudprovider.InstanceType) []string {
	var out []string
	for _, o := range it.Offerings {
		out = append(out, o.Zone())
	}
	return out
}

var _ = Describe("ResolveServiceOfferings", func() {
	DescribeTable("selects offerings by term",
		func(terms []v1.SelectorTerm, zoneNames []string, want []string) {
			var ids []string
			for _, z := range zoneNames {
				ids = append(ids, zones[z].ID)
			}
			got, err := provider.ResolveServiceOfferings(ctx, terms, ids)
			Expect(err).NotTo(HaveOccurred())
			names := []string{}
			for _, o := range got {
				Expect(o.ID).To(Equal(offeringID(o.Name)))
				names = append(names, o.Name)
			}
			Expect(names).To(Equal(want))
		},
		Entry("by exact name", []v1.SelectorTerm{{Name: "small"}}, []string{"zone-a"}, []string{"small"}),
		Entry("names are not substrings", []v1.SelectorTerm{{Name: "Medium"}}, []string{"zone-a"}, []string{}),
		Entry("by id", []v1.SelectorTerm{{ID: offeringID("large")}}, []string{"zone-a"}, []string{"large"}),
		Entry("by tags, ordered by name", []v1.SelectorTerm{{Tags: map[string]string{"tier": "general"}}}, []string{"zone-a"}, []string{"Medium Instance", "large"}),
		Entry("terms are OR-ed and keep term order", []v1.SelectorTerm{{Name: "large"}, {Name: "small"}}, []string{"zone-a"}, []string{"large", "small"}),
		Entry("fields of a term are AND-ed", []v1.SelectorTerm{{Name: "small", Tags: map[string]string{"tier": "general"}}}, []string{"zone-a"}, []string{}),
		Entry("zone-restricted offerings need one of the zones", []v1.SelectorTerm{{Name: "gpu"}, {Name: "zoned"}}, []string{"zone-a"}, []string{"zoned"}),
		Entry("any one zone is enough", []v1.SelectorTerm{{Name: "gpu"}, {Name: "zoned"}}, []string{"zone-a", "zone-b"}, []string{"gpu", "zoned"}),
		Entry("system offerings are never selected", []v1.SelectorTerm{{Name: "system"}}, []string{"zone-a"}, []string{}),
	)

	It("reads every offering's tags with one listTags call and caches the catalog", func() {
		_, err := provider.ResolveServiceOfferings(ctx, []v1.SelectorTerm{{Tags: map[string]string{"tier": "general"}}}, []string{zones["zone-a"].ID})
		Expect(err).NotTo(HaveOccurred())
		Expect(sim.Counts()).To(HaveKeyWithValue("listTags", int64(1)))
		Expect(sim.Counts()).To(HaveKeyWithValue("listServiceOfferings", int64(1)))
		before := sim.TotalRequests()
		_, err = provider.ResolveServiceOfferings(ctx, []v1.SelectorTerm{{Tags: map[string]string{"tier": "general"}}}, []string{zones["zone-b"].ID})
		Expect(err).NotTo(HaveOccurred())
		Expect(sim.TotalRequests()).To(Equal(before))
	})
})

var _ = Describe("List", func() {
	DescribeTable("fixed offerings",
		func(offering, name string, cpu, memMiB int, storage, hostTag string) {
			its, err := provider.List(ctx, nodeClass([]string{"zone-a", "zone-b"}, allOfferings...))
			Expect(err).NotTo(HaveOccurred())
			it := byName(its)[name]
			Expect(it).NotTo(BeNil())
			Expect(it.Capacity.Cpu().Value()).To(BeEquivalentTo(cpu))
			Expect(it.Capacity.Memory().Value()).To(BeEquivalentTo(int64(memMiB) * 1024 * 1024))
			Expect(it.Capacity.Pods().Value()).To(BeEquivalentTo(instancetype.DefaultMaxPods))
			Expect(label(it, corev1.LabelInstanceTypeStable)).To(Equal(name))
			Expect(label(it, corev1.LabelArchStable)).To(Equal("amd64"))
			Expect(label(it, corev1.LabelOSStable)).To(Equal("linux"))
			Expect(label(it, karpv1.CapacityTypeLabelKey)).To(Equal(karpv1.CapacityTypeOnDemand))
			Expect(label(it, v1.LabelInstanceCPU)).To(Equal(strconv.Itoa(cpu)))
			Expect(label(it, v1.LabelInstanceMemory)).To(Equal(strconv.Itoa(memMiB)))
			Expect(label(it, v1.LabelServiceOfferingID)).To(Equal(offeringID(offering)))
			Expect(label(it, v1.LabelInstanceStorageType)).To(Equal(storage))
			Expect(label(it, v1.LabelInstanceHostTag)).To(Equal(hostTag))
			Expect(it.Requirements.Get(v1.LabelInstanceGPUCount).Operator()).To(Equal(corev1.NodeSelectorOpDoesNotExist))
			Expect(it.Requirements.Get(corev1.LabelTopologyZone).Values()).To(ConsistOf("zone-a", "zone-b"))
			Expect(zonesOf(it)).To(ConsistOf("zone-a", "zone-b"))
			for _, o := range it.Offerings {
				Expect(o.Available).To(BeTrue())
				Expect(o.CapacityType()).To(Equal(karpv1.CapacityTypeOnDemand))
			}
		},
		Entry("small", "small", "small", 1, 1024, "shared", ""),
		Entry("a name with a space is made a valid label value", "Medium Instance", "Medium_Instance", 2, 4096, "shared", ""),
		Entry("host tags become a label", "large", "large", 4, 8192, "shared", "ssd"),
	)

	It("maps the offering UUID into the requirements", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "large"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(its).To(HaveLen(1))
		Expect(label(its[0], v1.LabelServiceOfferingID)).To(Equal(offeringID("large")))
		Expect(label(its[0], v1.LabelZoneID)).To(Equal(zones["zone-a"].ID))
	})

	It("offers an instance type only in the zones of its offering", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a", "zone-b"}, allOfferings...))
		Expect(err).NotTo(HaveOccurred())
		Expect(zonesOf(byName(its)["zoned"])).To(ConsistOf("zone-a"))
		Expect(zonesOf(byName(its)["gpu"])).To(ConsistOf("zone-b"))
		Expect(byName(its)["gpu"].Requirements.Get(corev1.LabelTopologyZone).Values()).To(ConsistOf("zone-b"))
		Expect(byName(its)).NotTo(HaveKey("system"))
	})

	It("drops zones without a template or network", func() {
		nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "small"})
		nc.Status.Templates = nc.Status.Templates[:1]
		its, err := provider.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(zonesOf(its[0])).To(ConsistOf("zone-a"))
	})

	It("gives GPU offerings nvidia.com/gpu capacity and GPU labels", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-b"}, v1.SelectorTerm{Name: "gpu"}))
		Expect(err).NotTo(HaveOccurred())
		it := byName(its)["gpu"]
		gpus := it.Capacity[instancetype.ResourceNvidiaGPU]
		Expect(gpus.Value()).To(BeEquivalentTo(1))
		Expect(label(it, v1.LabelInstanceGPUCount)).To(Equal("1"))
		Expect(label(it, v1.LabelInstanceGPUName)).To(Equal("Tesla_T4"))
	})

	It("synthesizes a ladder of customized sizes within the offering's bounds", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "custom"}))
		Expect(err).NotTo(HaveOccurred())
		names := []string{}
		for _, it := range its {
			names = append(names, it.Name)
			cpu, mem := it.Capacity.Cpu().Value(), it.Capacity.Memory().Value()/(1024*1024)
			Expect(cpu).To(BeNumerically(">=", 2))
			Expect(cpu).To(BeNumerically("<=", 12))
			Expect(mem).To(BeNumerically(">=", 2048))
			Expect(mem).To(BeNumerically("<=", 32768))
			Expect(label(it, v1.LabelInstanceCPU)).To(Equal(strconv.FormatInt(cpu, 10)))
			Expect(label(it, v1.LabelInstanceMemory)).To(Equal(strconv.FormatInt(mem, 10)))
			Expect(label(it, v1.LabelServiceOfferingID)).To(Equal(offeringID("custom")))
		}
		// cpu 1 and 2 clip to the minimum 2; 16 clips to the maximum 12; memory 1-8 GiB per vCPU clipped to 2-32 GiB.
		Expect(names).To(ConsistOf(
			"custom-2c2g", "custom-2c4g", "custom-2c8g", "custom-2c16g",
			"custom-4c4g", "custom-4c8g", "custom-4c16g", "custom-4c32g",
			"custom-8c8g", "custom-8c16g", "custom-8c32g",
			"custom-12c12g", "custom-12c24g", "custom-12c32g",
		))
	})

	It("prices strictly monotonically in size unless configured", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a", "zone-b"}, allOfferings...))
		Expect(err).NotTo(HaveOccurred())
		m := byName(its)
		Expect(m["small"].Offerings[0].Price).To(Equal(0.011), "from the price map by offering name")
		Expect(m["custom-4c16g"].Offerings[0].Price).To(Equal(1.5), "from the price map by instance-type name")
		Expect(m["large"].Offerings[0].Price).To(Equal(0.33), "from the offering's price tag")
		formula := []*cloudprovider.InstanceType{}
		for _, it := range its {
			if it.Name != "small" && it.Name != "custom-4c16g" && it.Name != "large" {
				formula = append(formula, it)
				// The formula of price.go's doc comment, restated with literal weights rather than computed by
				// the provider's FormulaPrice: 0.02 per vCPU, 0.005 per GiB, 0.5 per GPU.
				want := 0.02*float64(it.Capacity.Cpu().Value()) + 0.005*float64(it.Capacity.Memory().Value())/(1<<30) +
					0.5*float64(it.Capacity.Name(instancetype.ResourceNvidiaGPU, resource.DecimalSI).Value())
				Expect(it.Offerings[0].Price).To(BeNumerically("~", want, 1e-9), it.Name)
			}
		}
		for _, a := range formula {
			for _, b := range formula {
				if a == b {
					continue
				}
				ac, am, ag := a.Capacity.Cpu().Value(), a.Capacity.Memory().Value(), a.Capacity.Name(instancetype.ResourceNvidiaGPU, resource.DecimalSI).Value()
				bc, bm, bg := b.Capacity.Cpu().Value(), b.Capacity.Memory().Value(), b.Capacity.Name(instancetype.ResourceNvidiaGPU, resource.DecimalSI).Value()
				if ac >= bc && am >= bm && ag >= bg && (ac > bc || am > bm || ag > bg) {
					Expect(a.Offerings[0].Price).To(BeNumerically(">", b.Offerings[0].Price), "%s vs %s", a.Name, b.Name)
				}
			}
		}
	})

	DescribeTable("capacity and overhead",
		func(kubelet *v1.KubeletConfiguration, rootDisk string, pods int64, ephemeral, kubeCPU, kubeMem, sysMem, evictMem, evictDisk string) {
			nc := nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "large"})
			nc.Spec.Kubelet = kubelet
			if rootDisk != "" {
				nc.Spec.RootDiskSize = ptr.To(resource.MustParse(rootDisk))
			}
			its, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			it := its[0]
			Expect(it.Capacity.Pods().Value()).To(Equal(pods))
			Expect(it.Capacity.StorageEphemeral().Equal(resource.MustParse(ephemeral))).To(BeTrue(), it.Capacity.StorageEphemeral().String())
			q := func(rl corev1.ResourceList, name corev1.ResourceName) string { v := rl[name]; return v.String() }
			Expect(q(it.Overhead.KubeReserved, corev1.ResourceCPU)).To(Equal(kubeCPU))
			Expect(q(it.Overhead.KubeReserved, corev1.ResourceMemory)).To(Equal(kubeMem))
			Expect(q(it.Overhead.SystemReserved, corev1.ResourceMemory)).To(Equal(sysMem))
			Expect(q(it.Overhead.EvictionThreshold, corev1.ResourceMemory)).To(Equal(evictMem))
			Expect(q(it.Overhead.EvictionThreshold, corev1.ResourceEphemeralStorage)).To(Equal(evictDisk))
		},
		// 4 cores: 60m + 10m + 2*5m = 80m; 8 GiB: 25% of 4 GiB + 20% of 4 GiB = 1843.2 -> 1844Mi, whatever maxPods;
		// the offering's 50 GiB root disk, 10% of it for nodefs eviction.
		Entry("defaults", nil, "", int64(110), "50Gi", "80m", "1844Mi", "0", "100Mi", "5Gi"),
		Entry("maxPods drives pods only", &v1.KubeletConfiguration{MaxPods: ptr.To[int32](20)}, "", int64(20), "50Gi", "80m", "1844Mi", "0", "100Mi", "5Gi"),
		Entry("spec.rootDiskSize wins over the offering", nil, "100Gi", int64(110), "100Gi", "80m", "1844Mi", "0", "100Mi", "10Gi"),
		Entry("kubelet reservations and eviction override key by key", &v1.KubeletConfiguration{
			KubeReserved:   map[string]string{"cpu": "250m"},
			SystemReserved: map[string]string{"memory": "300Mi", "pid": "100"},
			EvictionHard:   map[string]string{"memory.available": "5%", "nodefs.available": "1Gi"},
		}, "", int64(110), "50Gi", "250m", "1844Mi", "300Mi", "429496730", "1Gi"),
	)

	// Allocatable memory with the default VM memory overhead (5%) and reservations: guest memory, less kube-reserved
	// (GKE's tiers), less the 100Mi eviction threshold. docs/capacity.md carries the same numbers.
	DescribeTable("keeps small offerings usable and large ones efficient",
		func(offering string, wantCapacityMiB, wantAllocatableMiB int64) {
			p := instancetype.NewDefaultProvider(api, unavailable, nil)
			its, err := p.List(ctx, nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: offering}))
			Expect(err).NotTo(HaveOccurred())
			Expect(its).NotTo(BeEmpty())
			it := its[0]
			Expect(it.Capacity.Memory().Value()).To(Equal(wantCapacityMiB << 20))
			allocatable := it.Allocatable()
			Expect(allocatable.Memory().Value()).To(Equal(wantAllocatableMiB << 20))
		},
		// 1024Mi * 95% = 972.8 -> 972Mi; kube-reserved 25% of 1024Mi = 256Mi; 972 - 256 - 100 = 616Mi.
		Entry("1 GiB", "small", int64(972), int64(616)),
		// 2048Mi * 95% = 1945.6 -> 1945Mi; 512Mi reserved; 1945 - 512 - 100 = 1333Mi.
		Entry("2 GiB", "zoned", int64(1945), int64(1333)),
		// 32 GiB: 31129Mi; 1024 + 819.2 + 819.2 + 6% of 16 GiB (983.04) = 3645.44 -> 3646Mi; 31129 - 3646 - 100.
		Entry("32 GiB", "gpu", int64(31129), int64(27383)),
	)

	It("subtracts the configured VM memory overhead from memory capacity", func() {
		for _, percent := range []float64{0, 2.5, 10} {
			p := instancetype.NewDefaultProvider(api, unavailable, nil, instancetype.WithVMMemoryOverheadPercent(percent))
			its, err := p.List(ctx, nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "large"}))
			Expect(err).NotTo(HaveOccurred())
			Expect(its[0].Capacity.Memory().Value()).To(Equal(int64(8192*(100-percent)/100) << 20))
		}
	})

	It("sizes ephemeral storage from the smallest template when neither the NodeClass nor the offering does", func() {
		nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "small"}, v1.SelectorTerm{Name: "large"})
		nc.Status.Templates[0].Size = resource.NewQuantity(30<<30, resource.BinarySI)
		nc.Status.Templates[1].Size = resource.NewQuantity(25<<30, resource.BinarySI)
		m := byName(lo.Must(provider.List(ctx, nc)))
		Expect(m["small"].Capacity.StorageEphemeral().Value()).To(BeEquivalentTo(int64(25) << 30))
		Expect(m["large"].Capacity.StorageEphemeral().Value()).To(BeEquivalentTo(int64(50)<<30), "the offering's root disk size wins")
		nc.Spec.RootDiskSize = ptr.To(resource.MustParse("40Gi"))
		m = byName(lo.Must(provider.List(ctx, nc)))
		Expect(m["small"].Capacity.StorageEphemeral().Value()).To(BeEquivalentTo(int64(40) << 30))
		Expect(m["large"].Capacity.StorageEphemeral().Value()).To(BeEquivalentTo(int64(40)<<30), "spec.rootDiskSize wins")
	})

	It("keeps same-named offerings of different zones as one instance type, each zone on its own offering", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "zonal"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(its).To(HaveLen(2), "the 2c/2GiB pair merges; the 4c/4GiB offering of the same name is another type")
		zonal, bigger := its[0], its[1]
		if zonal.Capacity.Cpu().Value() != 2 {
			zonal, bigger = bigger, zonal
		}
		Expect([]string{zonal.Name, bigger.Name}).To(ContainElement("zonal"), "one of them keeps the plain name")
		idA, idB := offeringID("zonal"), simulator.StableID("serviceoffering", "zonal@zone-b")
		Expect(zonal.Requirements.Get(v1.LabelServiceOfferingID).Values()).To(ConsistOf(idA, idB))
		Expect(zonesOf(zonal)).To(ConsistOf("zone-a", "zone-b"))
		for _, o := range zonal.Offerings {
			want := map[string]string{"zone-a": idA, "zone-b": idB}[o.Zone()]
			Expect(o.Requirements.Get(v1.LabelServiceOfferingID).Values()).To(ConsistOf(want))
			Expect(o.Price).To(Equal(lo.Ternary(o.Zone() == "zone-b", 0.07, instancetype.FormulaPrice(2, 2048, 0))), "each offering keeps its own price")
		}
		Expect(bigger.Name).To(HavePrefix("zonal"))
		Expect(bigger.Capacity.Cpu().Value()).To(BeEquivalentTo(4))
		Expect(zonesOf(bigger)).To(ConsistOf("zone-b"))
	})

	It("offers both architectures in a zone with an amd64 and an arm64 template", func() {
		nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "small"})
		nc.Status.Templates = append(nc.Status.Templates, v1.Template{ID: "tmpl-arm", Name: "ubuntu-arm", ZoneID: zones["zone-b"].ID, Architecture: "arm64"})
		its, err := provider.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(its[0].Requirements.Get(corev1.LabelArchStable).Values()).To(ConsistOf("amd64", "arm64"))
		got := lo.Map(its[0].Offerings, func(o *cloudprovider.Offering, _ int) string {
			return o.Zone() + "/" + o.Requirements.Get(corev1.LabelArchStable).Any()
		})
		Expect(got).To(ConsistOf("zone-a/amd64", "zone-b/amd64", "zone-b/arm64"))
	})

	It("defaults ephemeral storage when neither the NodeClass nor the offering sizes the root disk", func() {
		its, err := provider.List(ctx, nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "small"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(its[0].Capacity.StorageEphemeral().Equal(instancetype.DefaultEphemeralStorage)).To(BeTrue())
	})

	It("pins each offering's arch when the zones' templates differ", func() {
		nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "small"})
		nc.Status.Templates[1].Architecture = "arm64"
		its, err := provider.List(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(its[0].Requirements.Get(corev1.LabelArchStable).Values()).To(ConsistOf("amd64", "arm64"))
		for _, o := range its[0].Offerings {
			want := map[string]string{"zone-a": "amd64", "zone-b": "arm64"}[o.Zone()]
			Expect(o.Requirements.Get(corev1.LabelArchStable).Values()).To(ConsistOf(want))
		}
	})

	Context("caching", func() {
		It("makes no API request on a warm call and returns the same instance types", func() {
			nc := nodeClass([]string{"zone-a", "zone-b"}, allOfferings...)
			first, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			before := sim.TotalRequests()
			second, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(sim.TotalRequests()).To(Equal(before))
			Expect(second).To(HaveLen(len(first)))
			Expect(second[0]).To(BeIdenticalTo(first[0]))
		})

		It("recomputes availability when an offering becomes unavailable, still without an API request", func() {
			nc := nodeClass([]string{"zone-a", "zone-b"}, v1.SelectorTerm{Name: "large"})
			_, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			seq := unavailable.SeqNum()
			unavailable.MarkUnavailable(ctx, "InsufficientCapacity", "large", "zone-b")
			Expect(unavailable.SeqNum()).To(BeNumerically(">", seq))
			before := sim.TotalRequests()
			its, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(sim.TotalRequests()).To(Equal(before))
			for _, o := range its[0].Offerings {
				Expect(o.Available).To(Equal(o.Zone() == "zone-a"), o.Zone())
			}
		})

		It("keeps computed results across a refresh that changes nothing", func() {
			nc := nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "large"})
			first, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(provider.UpdateServiceOfferings(ctx)).To(Succeed())
			second, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(second[0]).To(BeIdenticalTo(first[0]))
		})

		It("recomputes when the kubelet settings change", func() {
			nc := nodeClass([]string{"zone-a"}, v1.SelectorTerm{Name: "large"})
			first, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			nc.Spec.Kubelet = &v1.KubeletConfiguration{MaxPods: ptr.To[int32](42)}
			second, err := provider.List(ctx, nc)
			Expect(err).NotTo(HaveOccurred())
			Expect(first[0].Capacity.Pods().Value()).To(BeEquivalentTo(110))
			Expect(second[0].Capacity.Pods().Value()).To(BeEquivalentTo(42))
		})
	})
})

var _ = DescribeTable("SanitizeName matches the CloudStack CCM",
	func(in, want string) { Expect(instancetype.SanitizeName(in)).To(Equal(want)) },
	Entry("plain", "Small", "Small"),
	Entry("spaces and symbols", "Medium Instance (2c/4G)", "Medium_Instance__2c_4G"),
	Entry("leading and trailing separators trimmed", "-_.x.y_-", "x.y"),
	Entry("one underscore per multi-byte rune", "größe", "gr__e"),
	Entry("cut to 63 bytes and trimmed again", "a"+strings.Repeat("b", 61)+"-xyz", "a"+strings.Repeat("b", 61)),
)
