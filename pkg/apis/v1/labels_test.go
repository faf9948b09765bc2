package v1_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

var _ = Describe("ProviderID", func() {
	const vmID = "3f1c2b7a-9d4e-4a6b-8c1d-2e3f4a5b6c7d"

	It("round-trips through ProviderID and ParseProviderID", func() {
		Expect(v1.ProviderID(vmID)).To(Equal("cloudstack:///" + vmID))
		Expect(v1.ParseProviderID(v1.ProviderID(vmID))).To(Equal(vmID))
	})

	DescribeTable("parses both the provider's and the CloudStack CCM's format",
		func(providerID string) {
			Expect(v1.ParseProviderID(providerID)).To(Equal(vmID))
		},
		Entry("cloudstack:///", "cloudstack:///"+vmID),
		Entry("external-cloudstack://", "external-cloudstack://"+vmID),
		Entry("external-cloudstack:/// with an empty host", "external-cloudstack:///"+vmID),
	)

	DescribeTable("rejects other providerIDs",
		func(providerID string) {
			_, err := v1.ParseProviderID(providerID)
			Expect(err).To(MatchError(ContainSubstring("is not of the form cloudstack:///<vm-uuid>")))
		},
		Entry("empty", ""),
		Entry("no VM id", "cloudstack:///"),
		Entry("only slashes", "cloudstack:////"),
		Entry("another cloud", "aws:///us-east-1a/i-0123456789"),
		Entry("a prefix without the slashes", "cloudstack:"+vmID),
	)
})

var _ = Describe("Labels", func() {
	It("registers the provider's labels as well-known and its domain as restricted", func() {
		Expect(karpv1.WellKnownLabels.Has(v1.LabelServiceOfferingID)).To(BeTrue())
		Expect(karpv1.WellKnownLabels.Has(v1.LabelZoneID)).To(BeTrue())
		Expect(karpv1.RestrictedLabelDomains.Has("karpenter.k8s.cloudstack")).To(BeTrue())
	})
})
