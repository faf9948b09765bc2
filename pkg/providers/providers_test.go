package providers_test

import (
	"context"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var ctx = context.Background()

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, i := range items {
		out = append(out, name(i))
	}
	return out
}

func zoneNames(z []v1.Zone) []string { return names(z, func(z v1.Zone) string { return z.Name }) }
func networkNames(n []v1.Network) []string {
	return names(n, func(n v1.Network) string { return n.Name })
}

func tags(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

var _ = Describe("zone provider", func() {
	var e *env
	BeforeEach(func() { e = newEnv("", "") })

	DescribeTable("resolves spec.zone and spec.zoneSelectorTerms",
		func(zoneRef string, terms []v1.SelectorTerm, want []string) {
			if zoneRef == "id:zone-b" {
				zoneRef = e.zoneID("zone-b")
			}
			got, err := e.zones.Resolve(ctx, &v1.CloudStackNodeClass{Spec: v1.CloudStackNodeClassSpec{Zone: zoneRef, ZoneSelectorTerms: terms}})
			Expect(err).NotTo(HaveOccurred())
			Expect(zoneNames(got)).To(Equal(want))
		},
		Entry("zone by name", "zone-a", nil, []string{"zone-a"}),
		Entry("zone by ID", "id:zone-b", nil, []string{"zone-b"}),
		Entry("zone that does not exist", "zone-x", nil, []string{}),
		Entry("zone name is not a prefix match", "zone", nil, []string{}),
		Entry("term by name", "", []v1.SelectorTerm{{Name: "zone-b"}}, []string{"zone-b"}),
		Entry("term by tag, ordered by name, disabled zones left out", "", []v1.SelectorTerm{{Tags: tags("region", "eu")}}, []string{"zone-a", "zone-b"}),
		Entry("tags are AND-ed", "", []v1.SelectorTerm{{Tags: tags("region", "eu", "name", "zone-b")}}, []string{"zone-b"}),
		Entry("terms are OR-ed, first matching term first", "", []v1.SelectorTerm{{Name: "zone-b"}, {Name: "zone-a"}}, []string{"zone-b", "zone-a"}),
		Entry("name and tag in one term must both match", "", []v1.SelectorTerm{{Name: "zone-a", Tags: tags("name", "zone-b")}}, []string{}),
		Entry("nothing matches", "", []v1.SelectorTerm{{Tags: tags("region", "us")}}, []string{}),
	)

	It("leaves out disabled zones that an admin can see", func() {
		c := testCatalog()
		e := newEnv(c.Accounts[0].APIKey, c.Accounts[0].SecretKey)
		all, err := e.zones.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(ContainElement(HaveField("Name", "zone-off")))
		got, err := e.zones.Resolve(ctx, &v1.CloudStackNodeClass{Spec: v1.CloudStackNodeClassSpec{Zone: "zone-off"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(BeEmpty())
		z, err := e.zones.Get(ctx, "zone-off")
		Expect(err).NotTo(HaveOccurred())
		Expect(z.Allocationstate).To(Equal("Disabled"))
	})

	It("serves warm calls from the cache", func() {
		nc := &v1.CloudStackNodeClass{Spec: v1.CloudStackNodeClassSpec{ZoneSelectorTerms: []v1.SelectorTerm{{Tags: tags("region", "eu")}}}}
		e.sim.ResetCounts()
		_, err := e.zones.Resolve(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Counts()["listZones"]).To(BeEquivalentTo(1))
		e.sim.ResetCounts()
		_, err = e.zones.Resolve(ctx, nc)
		Expect(err).NotTo(HaveOccurred())
		_, err = e.zones.Get(ctx, "zone-a")
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.TotalRequests()).To(BeZero())
	})

	It("returns API failures and caches nothing then", func() {
		e.sim.SetErrorRate("listZones", 1)
		_, err := e.zones.List(ctx)
		Expect(cserrors.IsServerError(err)).To(BeTrue(), "%v", err)
		e.sim.SetErrorRate("listZones", 0)
		zones, err := e.zones.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(zones).To(HaveLen(2))
	})
})

var _ = Describe("network provider", func() {
	var e *env
	BeforeEach(func() { e = newEnv("", "") })

	DescribeTable("resolves deployable networks of a zone in term order",
		func(zoneName string, terms func(e *env) []v1.SelectorTerm, want []string) {
			got, err := e.networks.Resolve(ctx, e.zoneID(zoneName), terms(e))
			Expect(err).NotTo(HaveOccurred())
			Expect(networkNames(got)).To(Equal(want))
			for _, n := range got {
				Expect(n.ZoneID).To(Equal(e.zoneID(zoneName)))
			}
		},
		Entry("by name", "zone-a", func(*env) []v1.SelectorTerm { return []v1.SelectorTerm{{Name: "shared-a"}} }, []string{"shared-a"}),
		Entry("by ID", "zone-a", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{ID: simulator.StableID("network", "isolated-a")}}
		}, []string{"isolated-a"}),
		Entry("by tag, leaving out a network in state Destroy", "zone-a", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{Tags: tags("karpenter.sh/discovery", "demo")}}
		}, []string{"isolated-a"}),
		Entry("only in the asked zone", "zone-b", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{Tags: tags("karpenter.sh/discovery", "demo")}, {Name: "shared-a"}}
		}, []string{"isolated-b"}),
		Entry("first matching term first: the default NIC", "zone-a", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{Name: "shared-a"}, {Tags: tags("karpenter.sh/discovery", "demo")}}
		}, []string{"shared-a", "isolated-a"}),
		Entry("a network matching two terms appears once, at its first term", "zone-a", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{Name: "isolated-a"}, {Tags: tags("karpenter.sh/discovery", "demo")}, {Name: "shared-a"}}
		}, []string{"isolated-a", "shared-a"}),
		Entry("tags are AND-ed", "zone-a", func(*env) []v1.SelectorTerm {
			return []v1.SelectorTerm{{Tags: tags("karpenter.sh/discovery", "demo", "team", "x")}}
		}, []string{}),
		Entry("a destroyed network by name", "zone-a", func(*env) []v1.SelectorTerm { return []v1.SelectorTerm{{Name: "dead-a"}} }, []string{}),
	)

	It("caches per zone", func() {
		terms := []v1.SelectorTerm{{Tags: tags("karpenter.sh/discovery", "demo")}}
		zoneA, zoneB := e.zoneID("zone-a"), e.zoneID("zone-b")
		e.sim.ResetCounts()
		_, err := e.networks.Resolve(ctx, zoneA, terms)
		Expect(err).NotTo(HaveOccurred())
		_, err = e.networks.Resolve(ctx, zoneA, []v1.SelectorTerm{{Name: "shared-a"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Counts()["listNetworks"]).To(BeEquivalentTo(1))
		_, err = e.networks.Resolve(ctx, zoneB, terms)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Counts()["listNetworks"]).To(BeEquivalentTo(2))
		e.sim.ResetCounts()
		_, err = e.networks.Resolve(ctx, zoneB, terms)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.TotalRequests()).To(BeZero())
	})
})

var _ = Describe("template provider", func() {
	var e *env
	BeforeEach(func() { e = newEnv("", "") })

	DescribeTable("resolves the ready template of a zone",
		func(zoneName string, terms []v1.SelectorTerm, wantName, wantArch string) {
			got, err := e.templates.Resolve(ctx, e.zoneID(zoneName), terms)
			Expect(err).NotTo(HaveOccurred())
			if wantName == "" {
				Expect(got).To(BeNil())
				return
			}
			// The catalog's templates are 10 GiB: the root disk a VM gets from them.
			Expect(got).To(Equal(&v1.Template{ID: simulator.StableID("template", wantName), Name: wantName, ZoneID: e.zoneID(zoneName), Architecture: wantArch,
				Size: resource.NewQuantity(10<<30, resource.BinarySI)}))
		},
		Entry("by name", "zone-a", []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-amd64"}}, "ubuntu-24.04-kube-v1.36-amd64", "amd64"),
		Entry("by ID", "zone-b", []v1.SelectorTerm{{ID: simulator.StableID("template", "ubuntu-24.04-kube-v1.36-arm64")}}, "ubuntu-24.04-kube-v1.36-arm64", "arm64"),
		Entry("not ready yet", "zone-a", []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.37-amd64"}}, "", ""),
		Entry("by tag, skipping the template that is not ready", "zone-a", []v1.SelectorTerm{{Tags: tags("os", "ubuntu")}}, "ubuntu-24.04-kube-v1.36-amd64", "amd64"),
		Entry("not registered in this zone", "zone-a", []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-arm64"}}, "", ""),
		Entry("tags are AND-ed", "zone-b", []v1.SelectorTerm{{Tags: tags("os", "ubuntu", "karpenter.sh/discovery", "other")}}, "", ""),
		Entry("terms are OR-ed", "zone-b", []v1.SelectorTerm{{Name: "nope"}, {Name: "ubuntu-24.04-kube-v1.36-arm64"}}, "ubuntu-24.04-kube-v1.36-arm64", "arm64"),
	)

	It("caches per zone", func() {
		terms := []v1.SelectorTerm{{Tags: tags("os", "ubuntu")}}
		zoneA := e.zoneID("zone-a")
		e.sim.ResetCounts()
		_, err := e.templates.Resolve(ctx, zoneA, terms)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Counts()["listTemplates"]).To(BeEquivalentTo(1))
		e.sim.ResetCounts()
		_, err = e.templates.Resolve(ctx, zoneA, []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-amd64"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.TotalRequests()).To(BeZero())
	})

	tmpl := func(id, name, created string, ready bool, tagList ...string) *csgo.Template {
		t := &csgo.Template{Id: id, Name: name, Created: created, Isready: ready, Zoneid: "z1"}
		for i := 0; i+1 < len(tagList); i += 2 {
			t.Tags = append(t.Tags, csgo.Tags{Key: tagList[i], Value: tagList[i+1]})
		}
		return t
	}
	DescribeTable("selects the newest match",
		func(templates []*csgo.Template, terms []v1.SelectorTerm, wantID string) {
			got := template.Select(templates, "z1", terms)
			if wantID == "" {
				Expect(got).To(BeNil())
				return
			}
			Expect(got).NotTo(BeNil())
			Expect(got.Id).To(Equal(wantID))
		},
		Entry("newest of one name", []*csgo.Template{
			tmpl("a", "k8s", "2025-01-01T00:00:00+0000", true),
			tmpl("b", "k8s", "2025-03-01T00:00:00+0000", true),
			tmpl("c", "k8s", "2025-02-01T00:00:00+0000", true),
		}, []v1.SelectorTerm{{Name: "k8s"}}, "b"),
		Entry("time zones are honoured", []*csgo.Template{
			tmpl("a", "k8s", "2025-01-01T10:00:00+0000", true),
			tmpl("b", "k8s", "2025-01-01T11:00:00+0200", true),
		}, []v1.SelectorTerm{{Name: "k8s"}}, "a"),
		Entry("newest even across terms", []*csgo.Template{
			tmpl("a", "k8s", "2025-01-01T00:00:00+0000", true),
			tmpl("b", "other", "2025-06-01T00:00:00+0000", true, "os", "ubuntu"),
		}, []v1.SelectorTerm{{Name: "k8s"}, {Tags: tags("os", "ubuntu")}}, "b"),
		Entry("the newest is not ready", []*csgo.Template{
			tmpl("a", "k8s", "2025-01-01T00:00:00+0000", true),
			tmpl("b", "k8s", "2025-06-01T00:00:00+0000", false),
		}, []v1.SelectorTerm{{Name: "k8s"}}, "a"),
		Entry("same date: earlier term, then name", []*csgo.Template{
			tmpl("b", "zz", "2025-01-01T00:00:00+0000", true, "os", "ubuntu"),
			tmpl("a", "yy", "2025-01-01T00:00:00+0000", true, "os", "ubuntu"),
			tmpl("c", "xx", "2025-01-01T00:00:00+0000", true),
		}, []v1.SelectorTerm{{Tags: tags("os", "ubuntu")}, {Name: "xx"}}, "a"),
		Entry("unparseable dates lose", []*csgo.Template{
			tmpl("a", "k8s", "yesterday", true),
			tmpl("b", "k8s", "2020-01-01T00:00:00+0000", true),
		}, []v1.SelectorTerm{{Name: "k8s"}}, "b"),
		Entry("other zone", []*csgo.Template{{Id: "a", Name: "k8s", Isready: true, Zoneid: "z2"}}, []v1.SelectorTerm{{Name: "k8s"}}, ""),
	)

	DescribeTable("maps architectures",
		func(in, want string) { Expect(template.Architecture(in)).To(Equal(want)) },
		Entry("x86_64", "x86_64", "amd64"),
		Entry("aarch64", "aarch64", "arm64"),
		Entry("unreported (before 4.20)", "", "amd64"),
		Entry("already Kubernetes", "arm64", "arm64"),
	)
})

var _ = Describe("affinity group provider", func() {
	var e *env
	BeforeEach(func() { e = newEnv("", "") })

	DescribeTable("resolves by ID or name",
		func(terms []v1.SelectorTerm, want []v1.AffinityGroup) {
			got, err := e.affinityGroup.Resolve(ctx, terms)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("by name", []v1.SelectorTerm{{Name: "spread"}}, []v1.AffinityGroup{{ID: simulator.StableID("affinitygroup", "spread"), Name: "spread"}}),
		Entry("by ID", []v1.SelectorTerm{{ID: simulator.StableID("affinitygroup", "spread")}}, []v1.AffinityGroup{{ID: simulator.StableID("affinitygroup", "spread"), Name: "spread"}}),
		Entry("unknown", []v1.SelectorTerm{{Name: "pack"}}, []v1.AffinityGroup{}),
	)

	It("makes no request without terms and one when cold", func() {
		e.sim.ResetCounts()
		got, err := e.affinityGroup.Resolve(ctx, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(BeEmpty())
		Expect(e.sim.TotalRequests()).To(BeZero())
		for range 3 {
			_, err = e.affinityGroup.Resolve(ctx, []v1.SelectorTerm{{Name: "spread"}})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(e.sim.Counts()["listAffinityGroups"]).To(BeEquivalentTo(1))
	})
})

var _ = Describe("SSH key pair provider", func() {
	It("finds key pairs by exact name from one cached listing", func() {
		e := newEnv("", "")
		e.sim.ResetCounts()
		name, found, err := e.sshKeyPairs.Get(ctx, "karpenter-nodes")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		Expect(name).To(Equal("karpenter-nodes"))
		_, found, err = e.sshKeyPairs.Get(ctx, "karpenter")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeFalse())
		Expect(e.sim.Counts()["listSSHKeyPairs"]).To(BeEquivalentTo(1))
	})
})

var _ = Describe("Security group provider", func() {
	It("resolves id, name and tag terms in term order from one cached listing, and never another account's group", func() {
		e := newEnv("", "")
		e.sim.ResetCounts()
		groups, err := e.securityGroups.Resolve(ctx, []v1.SelectorTerm{{Name: "ssh-from-bastion"}, {Tags: map[string]string{"k8s-role": "nodes"}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Map(groups, func(g v1.SecurityGroup, _ int) string { return g.Name })).To(Equal([]string{"ssh-from-bastion", "k8s-nodes"}))
		byID, err := e.securityGroups.Resolve(ctx, []v1.SelectorTerm{{ID: strings.ToUpper(groups[1].ID)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(byID).To(Equal(groups[1:]))
		none, err := e.securityGroups.Resolve(ctx, []v1.SelectorTerm{{Name: "default"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(none).To(BeEmpty())
		Expect(e.sim.Counts()["listSecurityGroups"]).To(BeEquivalentTo(1))
		Expect(e.sim.Counts()).NotTo(HaveKey("listTags"), "listSecurityGroups carries the tags")
	})
})
