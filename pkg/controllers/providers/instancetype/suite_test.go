package instancetype_test

import (
	"context"
	"testing"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	refresh "github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

func TestRefresh(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Offering catalog refresh")
}

var (
	ctx     context.Context
	env     *test.Environment
	zoneIDs []string
)

var _ = BeforeSuite(func() {
	ctx = context.Background()
	var err error
	env, err = test.NewEnvironment(test.WithJobLatency(0))
	Expect(err).ToNot(HaveOccurred())
	DeferCleanup(env.Close)
})

var _ = BeforeEach(func() {
	Expect(env.Reset()).To(Succeed())
	zoneIDs = lo.Map(lo.Must(env.API.ListZones(ctx)), func(z *csgo.Zone, _ int) string { return z.Id })
})

// selected resolves the offering "small", through the provider's cached catalog.
func selected() []string {
	offerings, err := env.InstanceTypeProvider.ResolveServiceOfferings(ctx, []v1.SelectorTerm{{Name: "small"}}, zoneIDs)
	Expect(err).ToNot(HaveOccurred())
	return lo.Map(offerings, func(o v1.ServiceOffering, _ int) string { return o.Name })
}

// listings counts the catalog reads CloudStack has seen.
func listings() int64 { return env.Simulator.Counts()["listServiceOfferings"] }

var _ = Describe("Controller", func() {
	It("re-reads the catalog on every reconcile, before the cache TTL ends, and comes back after Interval", func() {
		Expect(selected()).To(ConsistOf("small"))
		Expect(listings()).To(BeEquivalentTo(1))
		Expect(selected()).To(ConsistOf("small"))
		Expect(listings()).To(BeEquivalentTo(1), "the cached catalog is served until its TTL ends")

		c := refresh.NewController(env.InstanceTypeProvider)
		for i := range 2 {
			result, err := c.Reconcile(ctx)
			Expect(err).ToNot(HaveOccurred())
			Expect(result.RequeueAfter).To(Equal(refresh.Interval))
			Expect(listings()).To(BeEquivalentTo(2+i), "each reconcile reads the catalog")
		}
		Expect(selected()).To(ConsistOf("small"))
		Expect(listings()).To(BeEquivalentTo(3), "the refreshed catalog is the cached one")
	})

	It("reports a failed refresh and keeps serving the last catalog", func() {
		Expect(selected()).To(ConsistOf("small")) // warms the catalog
		// More failures than the client's read retries.
		env.Simulator.FailNextCommands("listServiceOfferings", 100)
		_, err := refresh.NewController(env.InstanceTypeProvider).Reconcile(ctx)
		Expect(err).To(MatchError(ContainSubstring("refreshing service offerings")))

		before := listings()
		Expect(selected()).To(ConsistOf("small"))
		Expect(listings()).To(Equal(before), "served from the cache")
	})

	It("is a singleton named providers.instancetype", func() {
		Expect(refresh.NewController(env.InstanceTypeProvider).Name()).To(Equal("providers.instancetype"))
	})
})

var _ = AfterEach(func() { env.Simulator.FailNextCommands("listServiceOfferings", 0) })
