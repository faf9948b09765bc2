package selector_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

const id = "0b8a4f3e-6c1d-4d7a-9a51-2f1f0c7e9b10"

var tags = map[string]string{"env": "prod", "team": "k8s"}

var _ = Describe("Matches", func() {
	DescribeTable("one term against id, name and tags",
		func(term v1.SelectorTerm, want bool) {
			Expect(selector.Matches(term, id, "cluster-net", tags)).To(Equal(want))
		},
		Entry("id", v1.SelectorTerm{ID: id}, true),
		Entry("id in upper case", v1.SelectorTerm{ID: "0B8A4F3E-6C1D-4D7A-9A51-2F1F0C7E9B10"}, true),
		Entry("other id", v1.SelectorTerm{ID: "11111111-2222-3333-4444-555555555555"}, false),
		Entry("exact name", v1.SelectorTerm{Name: "cluster-net"}, true),
		Entry("name prefix is not a match", v1.SelectorTerm{Name: "cluster"}, false),
		Entry("name differs in case", v1.SelectorTerm{Name: "Cluster-Net"}, false),
		Entry("one tag", v1.SelectorTerm{Tags: map[string]string{"env": "prod"}}, true),
		Entry("all tags", v1.SelectorTerm{Tags: map[string]string{"env": "prod", "team": "k8s"}}, true),
		Entry("tags are AND-ed", v1.SelectorTerm{Tags: map[string]string{"env": "prod", "team": "db"}}, false),
		Entry("missing tag key", v1.SelectorTerm{Tags: map[string]string{"zone": "a"}}, false),
		Entry("name and tags both match", v1.SelectorTerm{Name: "cluster-net", Tags: map[string]string{"env": "prod"}}, true),
		Entry("name matches, tag does not", v1.SelectorTerm{Name: "cluster-net", Tags: map[string]string{"env": "dev"}}, false),
		Entry("empty term matches nothing", v1.SelectorTerm{}, false),
	)
	It("treats a resource without tags as not matching a tag term", func() {
		Expect(selector.Matches(v1.SelectorTerm{Tags: map[string]string{"env": "prod"}}, id, "n", nil)).To(BeFalse())
	})
})

var _ = Describe("FirstMatch", func() {
	terms := []v1.SelectorTerm{
		{Name: "other"},
		{Tags: map[string]string{"team": "k8s"}},
		{ID: id},
	}
	DescribeTable("terms are OR-ed and the first matching term wins",
		func(name string, tags map[string]string, want int) {
			Expect(selector.FirstMatch(terms, id, name, tags)).To(Equal(want))
			Expect(selector.MatchesAny(terms, id, name, tags)).To(Equal(want >= 0))
		},
		Entry("name term", "other", nil, 0),
		Entry("tag term before id term", "x", map[string]string{"team": "k8s"}, 1),
		Entry("id term only", "x", nil, 2),
	)
	It("returns -1 without terms", func() {
		Expect(selector.FirstMatch(nil, id, "x", nil)).To(Equal(-1))
	})
	It("reports whether tags are needed", func() {
		Expect(selector.NeedsTags(terms)).To(BeTrue())
		Expect(selector.NeedsTags(terms[:1])).To(BeFalse())
	})
})
