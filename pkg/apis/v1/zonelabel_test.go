package v1_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

var _ = DescribeTable("ZoneLabelValue writes the zone label the CloudStack CCM writes",
	func(zone, want string) {
		got := v1.ZoneLabelValue(zone)
		Expect(got).To(Equal(want))
		Expect(validation.IsValidLabelValue(got)).To(BeEmpty())
	},
	Entry("a plain name", "zone-a", "zone-a"),
	Entry("spaces and parentheses", "Zone 1 (Paris)", "Zone_1__Paris"),
	Entry("non-ASCII letters", "Zürich-1", "Z_rich-1"),
	Entry("leading and trailing punctuation", "-.zone._", "zone"),
	Entry("a name over 63 characters", strings.Repeat("a", 62)+" b", strings.Repeat("a", 62)),
)
