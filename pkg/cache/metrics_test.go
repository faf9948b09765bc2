package cache_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
)

// metricValue reads one series from the registry the controller serves; labels select it (nil: the unlabelled one).
func metricValue(name string, labels map[string]string) float64 {
	families, err := crmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				if f.GetType() == dto.MetricType_COUNTER {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range labels {
		if got[k] != v {
			return false
		}
	}
	return true
}

var _ = Describe("Metrics", func() {
	It("counts GetOrLoad hits and misses under the cache's name", func() {
		c := cache.New("metrics-test", time.Minute, time.Minute)
		var mu sync.Mutex
		hits := func() float64 {
			return metricValue("karpenter_cloudstack_cache_requests_total", map[string]string{"cache": "metrics-test", "result": "hit"})
		}
		misses := func() float64 {
			return metricValue("karpenter_cloudstack_cache_requests_total", map[string]string{"cache": "metrics-test", "result": "miss"})
		}
		loads := 0
		load := func() (int, error) { loads++; return 42, nil }
		for range 3 {
			v, err := cache.GetOrLoad(c, &mu, "k", load)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal(42))
		}
		Expect(loads).To(Equal(1))
		Expect(misses()).To(Equal(1.0))
		Expect(hits()).To(Equal(2.0))
	})

	It("gauges the offerings currently unavailable and counts every mark", func() {
		ctx := context.Background()
		gauge := func() float64 { return metricValue("karpenter_cloudstack_unavailable_offerings", nil) }
		marked := func() float64 { return metricValue("karpenter_cloudstack_unavailable_offerings_marked_total", nil) }
		g0, m0 := gauge(), marked()
		// Seconds of TTL: the janitor must not expire the marks before the gauge is read right after them.
		u := cache.NewUnavailableOfferingsWithTTL(2*time.Second, 20*time.Millisecond)
		u.MarkUnavailable(ctx, "InsufficientCapacity", "small", "zone-a")
		u.MarkUnavailable(ctx, "InsufficientCapacity", "small", "zone-a") // the same pair again: renewed, not counted twice
		u.MarkUnavailable(ctx, "InsufficientCapacity", "large", "zone-a")
		Expect(gauge() - g0).To(Equal(2.0))
		Expect(marked() - m0).To(Equal(3.0))
		// The janitor expires both; the gauge follows.
		Eventually(func() float64 { return gauge() - g0 }).WithTimeout(30 * time.Second).Should(Equal(0.0))

		u.MarkUnavailable(ctx, "InsufficientCapacity", "small", "zone-b")
		Expect(gauge() - g0).To(Equal(1.0))
		u.Flush()
		Expect(gauge() - g0).To(Equal(0.0))
	})
})
