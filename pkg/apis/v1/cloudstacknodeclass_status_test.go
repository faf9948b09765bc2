package v1_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// unstructuredNodeClass creates NodeClasses from raw JSON values, for inputs the typed client cannot express
// (a quantity sent as a number, a quantity that does not parse).
type unstructuredNodeClass struct{ name string }

func (u *unstructuredNodeClass) create(specOverrides map[string]any) error {
	spec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(lo.ToPtr(validSpec()))
	Expect(err).NotTo(HaveOccurred())
	for k, v := range specOverrides {
		spec[k] = v
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1.SchemeGroupVersion.String(),
		"kind":       "CloudStackNodeClass",
		"metadata":   map[string]any{"generateName": "csnc-"},
		"spec":       spec,
	}}
	err = env.Client.Create(ctx, obj)
	u.name = obj.GetName()
	return err
}

var _ = Describe("CloudStackNodeClass status", func() {
	var nc *v1.CloudStackNodeClass

	BeforeEach(func() {
		nc = nodeClass(func(s *v1.CloudStackNodeClassSpec) {
			s.Zone = ""
			s.ZoneSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"k8s": "yes"}}}
		})
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
	})

	It("round-trips through the status subresource", func() {
		nc.Status = v1.CloudStackNodeClassStatus{
			Zones: []v1.Zone{{ID: zoneID, Name: "zone-1"}, {ID: networkID, Name: "zone-2"}},
			Networks: []v1.Network{
				{ID: networkID, Name: "k8s-net", ZoneID: zoneID},
				{ID: offeringID, Name: "k8s-net", ZoneID: networkID},
			},
			Templates: []v1.Template{
				{ID: templateID, Name: "ubuntu", ZoneID: zoneID, Architecture: "amd64"},
				{ID: templateID, Name: "ubuntu", ZoneID: networkID, Architecture: "amd64"},
			},
			ServiceOfferings: []v1.ServiceOffering{{ID: offeringID, Name: "Medium Instance"}},
			AffinityGroups:   []v1.AffinityGroup{{ID: zoneID, Name: "anti"}},
			SecurityGroups:   []v1.SecurityGroup{{ID: networkID, Name: "k8s-nodes"}},
			DataDisks: []v1.ResolvedDataDisk{{Name: "containerd", DiskOfferingID: offeringID, DiskOfferingName: "custom", Customized: true,
				SizeGiB: 100, DeviceID: 1, Zones: []string{"zone-1", "zone-2"}}},
			SSHKeyPair: "ops",
		}
		conditions := nc.StatusConditions()
		for _, t := range []string{
			v1.ConditionTypeZonesReady, v1.ConditionTypeNetworksReady, v1.ConditionTypeTemplatesReady,
			v1.ConditionTypeServiceOfferingsReady, v1.ConditionTypeUserDataReady, v1.ConditionTypeSSHKeyPairReady,
			v1.ConditionTypeSecurityGroupsReady, v1.ConditionTypeDataDisksReady, v1.ConditionTypeProjectReady,
		} {
			conditions.SetTrue(t)
		}
		// Ready must wait for every dependency, including the last one.
		Expect(conditions.Root().IsTrue()).To(BeFalse())
		conditions.SetTrue(v1.ConditionTypeAffinityGroupsReady)
		Expect(conditions.Root().IsTrue()).To(BeTrue())

		sent := nc.Status.DeepCopy()
		nc.Spec.ZoneSelectorTerms = []v1.SelectorTerm{{Name: "ignored"}} // the status subresource must not write the spec
		Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())

		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), stored)).To(Succeed())
		Expect(stored.Spec.ZoneSelectorTerms).To(Equal([]v1.SelectorTerm{{Tags: map[string]string{"k8s": "yes"}}}))
		Expect(stored.Status.Zones).To(Equal(sent.Zones))
		Expect(stored.Status.Networks).To(Equal(sent.Networks))
		Expect(stored.Status.Templates).To(Equal(sent.Templates))
		Expect(stored.Status.ServiceOfferings).To(Equal(sent.ServiceOfferings))
		Expect(stored.Status.AffinityGroups).To(Equal(sent.AffinityGroups))
		Expect(stored.Status.SSHKeyPair).To(Equal("ops"))
		Expect(stored.Status.SecurityGroups).To(Equal(sent.SecurityGroups))
		Expect(stored.Status.DataDisks).To(Equal(sent.DataDisks))
		Expect(stored.Status.Conditions).To(HaveLen(11))
		Expect(stored.StatusConditions().Root().IsTrue()).To(BeTrue())
	})

	It("keeps a failed dependency's reason and marks the NodeClass not ready", func() {
		nc.StatusConditions().SetTrue(v1.ConditionTypeZonesReady)
		nc.StatusConditions().SetFalse(v1.ConditionTypeNetworksReady, "NetworksNotFound", "no network matches the selector terms in zone zone-1")
		Expect(env.Client.Status().Update(ctx, nc)).To(Succeed())

		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), stored)).To(Succeed())
		networks := stored.StatusConditions().Get(v1.ConditionTypeNetworksReady)
		Expect(networks.IsFalse()).To(BeTrue())
		Expect(networks.Reason).To(Equal("NetworksNotFound"))
		Expect(networks.Message).To(Equal("no network matches the selector terms in zone zone-1"))
		Expect(stored.StatusConditions().IsTrue(v1.ConditionTypeZonesReady)).To(BeTrue())
		Expect(stored.StatusConditions().Root().IsFalse()).To(BeTrue())
	})

	It("ignores status written through the main resource", func() {
		nc.Status.SSHKeyPair = "sneaky"
		Expect(env.Client.Update(ctx, nc)).To(Succeed())
		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), stored)).To(Succeed())
		Expect(stored.Status.SSHKeyPair).To(BeEmpty())
	})
})
