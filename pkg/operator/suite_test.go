package operator

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

func TestOperator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Operator")
}

var _ = Describe("CloudStack reachability", func() {
	var (
		sim *simulator.Server
		reg *prometheus.Registry
	)

	BeforeEach(func() {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).ToNot(HaveOccurred())
		sim, err = simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(sim.Close)
		reg = prometheus.NewRegistry()
	})

	newProber := func(secret string) (*reachability, *cloudstack.Client) {
		api, err := cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: sim.APIKey(), SecretKey: secret, RetryMaxAttempts: 1, Registerer: reg})
		Expect(err).ToNot(HaveOccurred())
		return newReachability(api.Probe), api
	}
	gauge := func() float64 {
		GinkgoHelper()
		families, err := reg.Gather()
		Expect(err).ToNot(HaveOccurred())
		for _, f := range families {
			if f.GetName() == "karpenter_cloudstack_api_reachable" {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		Fail("karpenter_cloudstack_api_reachable is not registered")
		return -1
	}

	It("reports an outage and the recovery in the gauge and the log, once per change", func(ctx context.Context) {
		var logs strings.Builder
		logger := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{})
		r, _ := newProber(sim.SecretKey())
		// The client keeps its connection alive once it has one: the outage is there from the first probe.
		sim.DropNextConnections(2)
		r.once(ctx, logger)
		Expect(gauge()).To(Equal(0.0))
		r.once(ctx, logger)
		Expect(gauge()).To(Equal(0.0))
		r.once(ctx, logger)
		Expect(gauge()).To(Equal(1.0))
		r.once(ctx, logger)
		Expect(gauge()).To(Equal(1.0))
		Expect(strings.Count(logs.String(), "CloudStack API is unreachable")).To(Equal(1), logs.String())
		Expect(strings.Count(logs.String(), "CloudStack API answers again")).To(Equal(1), logs.String())
	})

	It("reports refused credentials without the secret", func(ctx context.Context) {
		var logs strings.Builder
		logger := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{})
		r, _ := newProber("not-the-secret")
		r.once(ctx, logger)
		Expect(gauge()).To(Equal(0.0))
		Expect(logs.String()).To(ContainSubstring("401"))
		Expect(logs.String()).ToNot(ContainSubstring("not-the-secret"))
	})

	It("runs on every replica, not only the leader", func() {
		r, _ := newProber(sim.SecretKey())
		Expect(r.NeedLeaderElection()).To(BeFalse())
	})
})
