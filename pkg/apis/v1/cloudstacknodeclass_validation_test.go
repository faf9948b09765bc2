package v1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

const (
	zoneID     = "6d5f2a1e-0b7c-4c43-9a55-2f3e8b1c0d01"
	networkID  = "0b9e3c4d-6a51-4f0e-8a3b-5c1d2e3f4a02"
	templateID = "a1b2c3d4-e5f6-4789-8abc-def012345603"
	offeringID = "fedcba98-7654-4321-8fed-cba987654304"
)

// validSpec is the smallest spec the apiserver accepts; each table entry changes one thing about it.
func validSpec() v1.CloudStackNodeClassSpec {
	return v1.CloudStackNodeClassSpec{
		Zone:                         "zone-1",
		NetworkSelectorTerms:         []v1.SelectorTerm{{Name: "k8s-net"}},
		ServiceOfferingSelectorTerms: []v1.SelectorTerm{{Tags: map[string]string{"karpenter": "true"}}},
		TemplateSelectorTerms:        []v1.SelectorTerm{{ID: templateID}},
	}
}

func nodeClass(mutate func(*v1.CloudStackNodeClassSpec)) *v1.CloudStackNodeClass {
	spec := validSpec()
	if mutate != nil {
		mutate(&spec)
	}
	return &v1.CloudStackNodeClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "csnc-"}, Spec: spec}
}

func kubelet(mutate func(*v1.KubeletConfiguration)) func(*v1.CloudStackNodeClassSpec) {
	return func(s *v1.CloudStackNodeClassSpec) {
		s.Kubelet = &v1.KubeletConfiguration{}
		mutate(s.Kubelet)
	}
}

func quantity(q string) *resource.Quantity { return lo.ToPtr(resource.MustParse(q)) }

var _ = Describe("CloudStackNodeClass validation", func() {
	DescribeTable("accepts valid NodeClasses unchanged",
		func(mutate func(*v1.CloudStackNodeClassSpec)) {
			nc := nodeClass(mutate)
			Expect(env.Client.Create(ctx, nc.DeepCopy())).To(Succeed())
			list := &v1.CloudStackNodeClassList{}
			Expect(env.Client.List(ctx, list)).To(Succeed())
			Expect(list.Items).To(HaveLen(1))
			// Semantic equality compares quantities by value; any defaulting or pruning by the schema shows up here.
			Expect(equality.Semantic.DeepEqual(list.Items[0].Spec, nc.Spec)).To(BeTrue(),
				"stored spec differs:\nstored: %+v\nsent:   %+v", list.Items[0].Spec, nc.Spec)
		},
		Entry("a single zone by name", nil),
		Entry("a single zone by ID", func(s *v1.CloudStackNodeClassSpec) { s.Zone = zoneID }),
		Entry("zoneSelectorTerms instead of zone", func(s *v1.CloudStackNodeClassSpec) {
			s.Zone = ""
			s.ZoneSelectorTerms = []v1.SelectorTerm{{ID: zoneID}, {Name: "zone-2"}, {Tags: map[string]string{"k8s": "yes"}}}
		}),
		Entry("terms that AND name and tags, and several OR-ed terms", func(s *v1.CloudStackNodeClassSpec) {
			s.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "a", Tags: map[string]string{"role": "k8s"}}, {ID: networkID}}
			s.ServiceOfferingSelectorTerms = []v1.SelectorTerm{{ID: offeringID}, {Name: "Medium Instance"}}
			s.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "ubuntu-24.04-kube", Tags: map[string]string{"os": "ubuntu"}}}
		}),
		Entry("every optional field", func(s *v1.CloudStackNodeClassSpec) {
			s.UserData = lo.ToPtr("#cloud-config\nruncmd: [echo hi]\n")
			s.Tags = map[string]string{"team": "platform", "example.com/karpenter.sh": "ok"}
			s.SSHKeyPair = lo.ToPtr("ops")
			s.AffinityGroupSelectorTerms = []v1.SelectorTerm{{Name: "k8s-anti-affinity"}, {ID: zoneID}}
			s.RootDiskSize = quantity("40Gi")
			s.Kubelet = &v1.KubeletConfiguration{
				MaxPods:        lo.ToPtr[int32](110),
				KubeReserved:   map[string]string{"cpu": "100m", "memory": "512Mi", "ephemeral-storage": "1Gi", "pid": "1000"},
				SystemReserved: map[string]string{"cpu": "0", "memory": "256Mi"},
				EvictionHard:   map[string]string{"memory.available": "100Mi", "nodefs.available": "10%", "nodefs.inodesFree": "5.5%", "imagefs.available": "15%", "imagefs.inodesFree": "0%", "pid.available": "100%"},
			}
		}),
		Entry("userData of exactly 1 MiB", func(s *v1.CloudStackNodeClassSpec) {
			s.UserData = lo.ToPtr(strings.Repeat("x", 1<<20))
		}),
		Entry("rootDiskSize at the lower bound", func(s *v1.CloudStackNodeClassSpec) { s.RootDiskSize = quantity("1Gi") }),
		Entry("rootDiskSize at the upper bound", func(s *v1.CloudStackNodeClassSpec) { s.RootDiskSize = quantity("64Ti") }),
		Entry("rootDiskSize in decimal units", func(s *v1.CloudStackNodeClassSpec) { s.RootDiskSize = quantity("100G") }),
		Entry("maxPods at the lower bound", kubelet(func(k *v1.KubeletConfiguration) { k.MaxPods = lo.ToPtr[int32](1) })),
		Entry("maxPods at the upper bound", kubelet(func(k *v1.KubeletConfiguration) { k.MaxPods = lo.ToPtr[int32](1000) })),
		Entry("an empty kubelet block", kubelet(func(*v1.KubeletConfiguration) {})),
		Entry("selector tag keys and values of 255 characters, and a tag merely containing a reserved domain", func(s *v1.CloudStackNodeClassSpec) {
			s.ZoneSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{strings.Repeat("k", 255): strings.Repeat("v", 255)}}}
			s.Zone = ""
			s.Tags = map[string]string{"team/karpenter.sh/x": "y"}
		}),
		Entry("plain userData", func(s *v1.CloudStackNodeClassSpec) { s.UserDataEncoding = v1.UserDataEncodingPlain }),
		Entry("gzip'ed userData spelled out", func(s *v1.CloudStackNodeClassSpec) { s.UserDataEncoding = v1.UserDataEncodingGzip }),
		Entry("tag keys and values of 255 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{strings.Repeat("k", 255): strings.Repeat("v", 255)}
		}),
		Entry("data disks by name and by id, with and without size and name", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{
				{Name: "containerd", DiskOffering: v1.DiskOfferingSelector{Name: "custom"}, Size: quantity("100Gi")},
				{DiskOffering: v1.DiskOfferingSelector{ID: zoneID}},
				{Name: "logs", DiskOffering: v1.DiskOfferingSelector{Name: "fixed"}},
			}
		}),
	)

	DescribeTable("rejects invalid NodeClasses with a message that names the field",
		func(mutate func(*v1.CloudStackNodeClassSpec), message string) {
			err := env.Client.Create(ctx, nodeClass(mutate))
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		// spec: exactly one of zone and zoneSelectorTerms.
		Entry("an unknown userDataEncoding", func(s *v1.CloudStackNodeClassSpec) { s.UserDataEncoding = "base64" },
			`spec.userDataEncoding: Unsupported value: "base64": supported values: "gzip", "plain"`),
		Entry("neither zone nor zoneSelectorTerms", func(s *v1.CloudStackNodeClassSpec) { s.Zone = "" },
			"set exactly one of spec.zone or spec.zoneSelectorTerms"),
		Entry("both zone and zoneSelectorTerms", func(s *v1.CloudStackNodeClassSpec) {
			s.ZoneSelectorTerms = []v1.SelectorTerm{{Name: "zone-2"}}
		}, "set exactly one of spec.zone or spec.zoneSelectorTerms"),
		Entry("a zone name longer than 255 characters", func(s *v1.CloudStackNodeClassSpec) { s.Zone = strings.Repeat("z", 256) },
			"spec.zone: Too long"),

		// Selector terms: no empty term, id alone, at least one term, UUID ids, non-empty tags.
		Entry("an empty zone term", func(s *v1.CloudStackNodeClassSpec) {
			s.Zone = ""
			s.ZoneSelectorTerms = []v1.SelectorTerm{{Name: "zone-1"}, {}}
		}, "spec.zoneSelectorTerms: each term must set id, name or tags"),
		Entry("a zone term with id and name", func(s *v1.CloudStackNodeClassSpec) {
			s.Zone = ""
			s.ZoneSelectorTerms = []v1.SelectorTerm{{ID: zoneID, Name: "zone-1"}}
		}, "spec.zoneSelectorTerms: a term with id must not also set name or tags"),
		Entry("an empty network term", func(s *v1.CloudStackNodeClassSpec) { s.NetworkSelectorTerms = []v1.SelectorTerm{{}} },
			"spec.networkSelectorTerms: each term must set id, name or tags"),
		Entry("a network term with id and tags", func(s *v1.CloudStackNodeClassSpec) {
			s.NetworkSelectorTerms = []v1.SelectorTerm{{ID: networkID, Tags: map[string]string{"a": "b"}}}
		}, "spec.networkSelectorTerms: a term with id must not also set name or tags"),
		Entry("no network term", func(s *v1.CloudStackNodeClassSpec) { s.NetworkSelectorTerms = []v1.SelectorTerm{} },
			"spec.networkSelectorTerms: Invalid value: 0: spec.networkSelectorTerms in body should have at least 1 items"),
		Entry("no networkSelectorTerms at all", func(s *v1.CloudStackNodeClassSpec) { s.NetworkSelectorTerms = nil },
			"spec.networkSelectorTerms: Required value"),
		Entry("an empty service offering term", func(s *v1.CloudStackNodeClassSpec) {
			s.ServiceOfferingSelectorTerms = []v1.SelectorTerm{{Name: "small"}, {}}
		}, "spec.serviceOfferingSelectorTerms: each term must set id, name or tags"),
		Entry("a service offering term with id and name", func(s *v1.CloudStackNodeClassSpec) {
			s.ServiceOfferingSelectorTerms = []v1.SelectorTerm{{ID: offeringID, Name: "small"}}
		}, "spec.serviceOfferingSelectorTerms: a term with id must not also set name or tags"),
		Entry("no service offering term", func(s *v1.CloudStackNodeClassSpec) { s.ServiceOfferingSelectorTerms = []v1.SelectorTerm{} },
			"spec.serviceOfferingSelectorTerms in body should have at least 1 items"),
		Entry("an empty template term", func(s *v1.CloudStackNodeClassSpec) { s.TemplateSelectorTerms = []v1.SelectorTerm{{}} },
			"spec.templateSelectorTerms: each term must set id, name or tags"),
		Entry("a template term with id and tags", func(s *v1.CloudStackNodeClassSpec) {
			s.TemplateSelectorTerms = []v1.SelectorTerm{{ID: templateID, Tags: map[string]string{"os": "ubuntu"}}}
		}, "spec.templateSelectorTerms: a term with id must not also set name or tags"),
		Entry("no template term", func(s *v1.CloudStackNodeClassSpec) { s.TemplateSelectorTerms = []v1.SelectorTerm{} },
			"spec.templateSelectorTerms in body should have at least 1 items"),
		Entry("an empty affinity group term", func(s *v1.CloudStackNodeClassSpec) {
			s.AffinityGroupSelectorTerms = []v1.SelectorTerm{{}}
		}, "spec.affinityGroupSelectorTerms: each term must set id, name or tags"),
		Entry("an affinity group term with id and name", func(s *v1.CloudStackNodeClassSpec) {
			s.AffinityGroupSelectorTerms = []v1.SelectorTerm{{ID: zoneID, Name: "anti"}}
		}, "spec.affinityGroupSelectorTerms: a term with id must not also set name or tags"),
		Entry("an affinity group term with tags", func(s *v1.CloudStackNodeClassSpec) {
			s.AffinityGroupSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"a": "b"}}}
		}, "spec.affinityGroupSelectorTerms: affinity groups have no tags in CloudStack"),
		Entry("a data disk offering by id and name", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{ID: zoneID, Name: "fixed"}}}
		}, "spec.dataDisks[].diskOffering: set exactly one of id or name"),
		Entry("a data disk without offering", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{{Name: "containerd"}}
		}, "spec.dataDisks[].diskOffering: set exactly one of id or name"),
		Entry("a data disk smaller than 1Gi", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{{DiskOffering: v1.DiskOfferingSelector{Name: "custom"}, Size: quantity("512Mi")}}
		}, "spec.dataDisks[].size must be at least 1Gi"),
		Entry("two data disks of the same name", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{{Name: "x", DiskOffering: v1.DiskOfferingSelector{Name: "a"}}, {Name: "x", DiskOffering: v1.DiskOfferingSelector{Name: "b"}}}
		}, "spec.dataDisks: names must be unique"),
		Entry("a data disk name that is not a DNS label", func(s *v1.CloudStackNodeClassSpec) {
			s.DataDisks = []v1.DataDisk{{Name: "Var_Lib", DiskOffering: v1.DiskOfferingSelector{Name: "a"}}}
		}, "spec.dataDisks[0].name in body should match"),
		Entry("an empty security group term", func(s *v1.CloudStackNodeClassSpec) {
			s.SecurityGroupSelectorTerms = []v1.SelectorTerm{{}}
		}, "spec.securityGroupSelectorTerms: each term must set id, name or tags"),
		Entry("a security group term with id and tags", func(s *v1.CloudStackNodeClassSpec) {
			s.SecurityGroupSelectorTerms = []v1.SelectorTerm{{ID: zoneID, Tags: map[string]string{"a": "b"}}}
		}, "spec.securityGroupSelectorTerms: a term with id must not also set name or tags"),
		Entry("an id that is not a UUID", func(s *v1.CloudStackNodeClassSpec) {
			s.TemplateSelectorTerms = []v1.SelectorTerm{{ID: "ubuntu"}}
		}, "spec.templateSelectorTerms[0].id in body should match '^[0-9a-fA-F]{8}-"),
		Entry("a selector tag with an empty value", func(s *v1.CloudStackNodeClassSpec) {
			s.NetworkSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"role": ""}}}
		}, "tags in a selector term must have non-empty keys and values"),
		Entry("a selector tag with an empty key", func(s *v1.CloudStackNodeClassSpec) {
			s.ServiceOfferingSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"": "x"}}}
		}, "tags in a selector term must have non-empty keys and values"),
		Entry("a selector tag key of 256 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.NetworkSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{strings.Repeat("k", 256): "x"}}}
		}, "tags in a selector term: keys and values must be at most 255 characters"),
		Entry("a selector tag value of 256 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.TemplateSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"k": strings.Repeat("v", 256)}}}
		}, "tags in a selector term: keys and values must be at most 255 characters"),
		Entry("a term name longer than 255 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.NetworkSelectorTerms = []v1.SelectorTerm{{Name: strings.Repeat("n", 256)}}
		}, "spec.networkSelectorTerms[0].name: Too long"),

		// VM tags: reserved domains and CloudStack's size limits.
		Entry("a tag in Karpenter's domain", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"karpenter.sh/nodepool": "x"}
		}, "spec.tags: keys in the karpenter.sh/ domain are reserved for Karpenter"),
		Entry("a tag in the provider's domain", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{v1.TagKeyCluster: "x"}
		}, "spec.tags: keys in the karpenter.k8s.cloudstack/ domain are reserved for this provider"),
		Entry("a kubernetes.io/cluster/ tag", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"kubernetes.io/cluster/prod": "owned"}
		}, "spec.tags: keys starting with kubernetes.io/cluster/ are reserved"),
		// CloudStack compares tag keys case-insensitively and trims them: "Karpenter.SH/nodepool" is the same key.
		Entry("a tag in Karpenter's domain in upper case", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"KARPENTER.SH/nodepool": "x"}
		}, "spec.tags: keys in the karpenter.sh/ domain are reserved for Karpenter"),
		Entry("a tag in Karpenter's domain with a leading blank", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{" karpenter.sh/nodepool": "x"}
		}, "spec.tags: keys in the karpenter.sh/ domain are reserved for Karpenter"),
		Entry("a tag in the provider's domain in mixed case with blanks", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"\tKarpenter.K8s.CloudStack/cluster ": "x"}
		}, "spec.tags: keys in the karpenter.k8s.cloudstack/ domain are reserved for this provider"),
		Entry("a Kubernetes.IO/Cluster/ tag", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"Kubernetes.IO/Cluster/prod": "owned"}
		}, "spec.tags: keys starting with kubernetes.io/cluster/ are reserved"),
		Entry("an empty tag key", func(s *v1.CloudStackNodeClassSpec) { s.Tags = map[string]string{"": "x"} },
			"spec.tags: keys must not be empty and must be at most 255 characters"),
		Entry("a tag key of 256 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{strings.Repeat("k", 256): "x"}
		}, "spec.tags: keys must not be empty and must be at most 255 characters"),
		Entry("an empty tag value", func(s *v1.CloudStackNodeClassSpec) { s.Tags = map[string]string{"team": ""} },
			"spec.tags: values must not be empty: CloudStack refuses a tag without a value"),
		Entry("a tag value of 256 characters", func(s *v1.CloudStackNodeClassSpec) {
			s.Tags = map[string]string{"k": strings.Repeat("v", 256)}
		}, "spec.tags: values must be at most 255 characters"),

		// Plain fields.
		// The wording after "Too long" differs by version: 1.30 says "may not be longer than 1048576", 1.36 "may not be
		// more than 1048576 bytes"; make test-oldest runs this suite on 1.30.
		Entry("userData over 1 MiB", func(s *v1.CloudStackNodeClassSpec) { s.UserData = lo.ToPtr(strings.Repeat("x", 1<<20+1)) },
			"spec.userData: Too long: may not be"),
		Entry("an empty sshKeyPair", func(s *v1.CloudStackNodeClassSpec) { s.SSHKeyPair = lo.ToPtr("") },
			"spec.sshKeyPair in body should be at least 1 chars long"),
		Entry("rootDiskSize under 1Gi", func(s *v1.CloudStackNodeClassSpec) { s.RootDiskSize = quantity("1023Mi") },
			"spec.rootDiskSize must be at least 1Gi"),
		Entry("rootDiskSize over 64Ti", func(s *v1.CloudStackNodeClassSpec) { s.RootDiskSize = quantity("65Ti") },
			"spec.rootDiskSize must be at most 64Ti"),

		// kubelet.
		Entry("maxPods of 0", kubelet(func(k *v1.KubeletConfiguration) { k.MaxPods = lo.ToPtr[int32](0) }),
			"spec.kubelet.maxPods in body should be greater than or equal to 1"),
		Entry("maxPods over 1000", kubelet(func(k *v1.KubeletConfiguration) { k.MaxPods = lo.ToPtr[int32](1001) }),
			"spec.kubelet.maxPods in body should be less than or equal to 1000"),
		Entry("an unknown kubeReserved resource", kubelet(func(k *v1.KubeletConfiguration) { k.KubeReserved = map[string]string{"gpu": "1"} }),
			"spec.kubelet.kubeReserved: valid keys are cpu, memory, ephemeral-storage and pid"),
		Entry("a negative kubeReserved value", kubelet(func(k *v1.KubeletConfiguration) { k.KubeReserved = map[string]string{"cpu": "-100m"} }),
			"spec.kubelet.kubeReserved: values must be non-negative quantities"),
		Entry("a kubeReserved value that is no quantity", kubelet(func(k *v1.KubeletConfiguration) { k.KubeReserved = map[string]string{"memory": "lots"} }),
			"spec.kubelet.kubeReserved: values must be non-negative quantities"),
		Entry("an unknown systemReserved resource", kubelet(func(k *v1.KubeletConfiguration) { k.SystemReserved = map[string]string{"nvidia.com/gpu": "1"} }),
			"spec.kubelet.systemReserved: valid keys are cpu, memory, ephemeral-storage and pid"),
		Entry("a systemReserved value that is no quantity", kubelet(func(k *v1.KubeletConfiguration) { k.SystemReserved = map[string]string{"cpu": "1 core"} }),
			"spec.kubelet.systemReserved: values must be non-negative quantities"),
		Entry("too many kubeReserved entries", kubelet(func(k *v1.KubeletConfiguration) {
			k.KubeReserved = map[string]string{"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi", "pid": "100", "gpu": "1"}
		}), "spec.kubelet.kubeReserved: Too many: 5: must have at most 4 items"),
		Entry("an unknown evictionHard signal", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"memory.free": "1Gi"} }),
			"spec.kubelet.evictionHard: valid keys are memory.available"),
		Entry("an evictionHard percentage over 100", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"nodefs.available": "101%"} }),
			"spec.kubelet.evictionHard: percentages must be between 0% and 100%"),
		Entry("an evictionHard percentage just over 100", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"nodefs.available": "100.5%"} }),
			"spec.kubelet.evictionHard: percentages must be between 0% and 100%"),
		Entry("a negative evictionHard percentage", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"nodefs.available": "-5%"} }),
			"spec.kubelet.evictionHard: values must be a non-negative percentage or quantity"),
		Entry("an evictionHard percentage that is no number", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"nodefs.available": "ten%"} }),
			"spec.kubelet.evictionHard"),
		Entry("a negative evictionHard quantity", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"memory.available": "-1Mi"} }),
			"spec.kubelet.evictionHard: values must be a non-negative percentage or quantity"),
		Entry("an evictionHard value that is neither", kubelet(func(k *v1.KubeletConfiguration) { k.EvictionHard = map[string]string{"memory.available": "half"} }),
			"spec.kubelet.evictionHard: values must be a non-negative percentage or quantity"),
	)

	It("rejects a rootDiskSize that is no quantity, through the schema rather than a CEL runtime error", func() {
		nc := &unstructuredNodeClass{}
		err := nc.create(map[string]any{"rootDiskSize": "big"})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.rootDiskSize"))
		Expect(err.Error()).NotTo(ContainSubstring("evaluation error"))
	})

	It("accepts a rootDiskSize given as a plain number of bytes", func() {
		nc := &unstructuredNodeClass{}
		Expect(nc.create(map[string]any{"rootDiskSize": int64(20 << 30)})).To(Succeed())
		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: nc.name}, stored)).To(Succeed())
		Expect(stored.Spec.RootDiskSize.Value()).To(Equal(int64(20 << 30)))
	})

	It("leaves unset optional fields unset", func() {
		nc := nodeClass(nil)
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), stored)).To(Succeed())
		Expect(stored.Spec.ZoneSelectorTerms).To(BeNil())
		Expect(stored.Spec.AffinityGroupSelectorTerms).To(BeNil())
		Expect(stored.Spec.UserData).To(BeNil())
		Expect(stored.Spec.Tags).To(BeNil())
		Expect(stored.Spec.SSHKeyPair).To(BeNil())
		Expect(stored.Spec.RootDiskSize).To(BeNil())
		Expect(stored.Spec.Kubelet).To(BeNil())
		Expect(stored.Status).To(Equal(v1.CloudStackNodeClassStatus{}))
	})

	It("rejects an update that breaks a rule, so a valid object cannot be edited into an invalid one", func() {
		nc := nodeClass(nil)
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		nc.Spec.Tags = map[string]string{"karpenter.sh/nodepool": "x"}
		err := env.Client.Update(ctx, nc)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.tags: keys in the karpenter.sh/ domain are reserved"))
	})
})
