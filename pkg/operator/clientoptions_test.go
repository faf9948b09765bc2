package operator

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

var _ = Describe("The CloudStack client's options", func() {
	It("list with --cloudstack-list-page-size", func(ctx context.Context) {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).ToNot(HaveOccurred())
		sim, err := simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(sim.Close)
		zonesWith := func(pageSize int) int64 {
			opts := &options.Options{APIURL: sim.URL(), APIKey: sim.APIKey(), SecretKey: sim.SecretKey(), VerifySSL: true, ListPageSize: pageSize}
			co := opts.ClientOptions()
			co.Registerer = nil
			api, err := cloudstack.New(co)
			Expect(err).ToNot(HaveOccurred())
			before := sim.Counts()["listZones"]
			zones, err := api.ListZones(ctx)
			Expect(err).ToNot(HaveOccurred())
			Expect(len(zones)).To(BeNumerically(">", 1), "the catalog needs several zones for pages to show")
			return sim.Counts()["listZones"] - before
		}
		Expect(zonesWith(500)).To(BeEquivalentTo(1))
		Expect(zonesWith(1)).To(BeNumerically(">", 1), "one zone per page")
	})

	It("work in the project of --cloudstack-project", func(ctx context.Context) {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).ToNot(HaveOccurred())
		sim, err := simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(sim.Close)
		opts := &options.Options{APIURL: sim.URL(), APIKey: "sim-user-api-key", SecretKey: "sim-user-secret-key", VerifySSL: true,
			ListPageSize: 500, Project: "platform"}
		co := opts.ClientOptions()
		co.Registerer = nil
		api, err := cloudstack.New(co)
		Expect(err).ToNot(HaveOccurred())
		p, err := api.ResolveProject(ctx)
		Expect(err).ToNot(HaveOccurred())
		Expect(p.ID).To(Equal(simulator.StableID("project", "platform")))
	})
})
