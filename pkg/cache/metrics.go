package cache

import (
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const metricsNamespace = "karpenter_cloudstack"

var (
	// requests counts GetOrLoad calls per named cache: a low hit ratio means listings are repeated, i.e. more CloudStack
	// calls than the TTLs in cache.go intend.
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "cache", Name: "requests_total",
		Help: "Look-ups of the provider's CloudStack listing caches by cache and result (hit; miss, which loads from CloudStack; shared-error, a caller that waited for a load that failed and got its error).",
	}, []string{"cache", "result"})
	// unavailableOfferings is the number of (instance type, zone) pairs currently held back after a capacity error.
	unavailableOfferings = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: metricsNamespace, Name: "unavailable_offerings",
		Help: "(instance type, zone) pairs currently marked unavailable after an insufficient-capacity error; they expire after the unavailable-offerings TTL.",
	})
	// unavailableMarked counts capacity errors that marked an offering unavailable (a rate shows how often the cloud
	// runs out of capacity).
	unavailableMarked = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "unavailable_offerings", Name: "marked_total",
		Help: "Times an (instance type, zone) pair was marked unavailable after an insufficient-capacity error.",
	})
)

func init() {
	// The registry the controller serves on /metrics, next to Karpenter core's metrics.
	crmetrics.Registry.MustRegister(Collectors()...)
}

// Collectors are the package's metrics (hack/docgen lists them in docs/reference.md).
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{requests, unavailableOfferings, unavailableMarked}
}

// names maps each cache made by New to its name, the metrics label GetOrLoad records under.
var names sync.Map

// New returns a go-cache with the given default TTL whose GetOrLoad look-ups are counted under name in
// karpenter_cloudstack_cache_requests_total.
func New(name string, ttl, cleanup time.Duration) *gocache.Cache {
	c := gocache.New(ttl, cleanup)
	names.Store(c, name)
	return c
}

func nameOf(c *gocache.Cache) string {
	if n, ok := names.Load(c); ok {
		return n.(string)
	}
	return "unnamed"
}
