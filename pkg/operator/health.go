package operator

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

// cloudStackCheck is a readiness check that fails while CloudStack is unreachable or rejects the credentials.
type cloudStackCheck struct {
	api     cloudstack.API
	timeout time.Duration
	// results holds the last result, failures included, for cache.ReadinessTTL.
	results *gocache.Cache
	mu      sync.Mutex
}

// checkResult is a cached probe result; a failure is cached like a success, so a failing cloud is not probed more.
type checkResult struct{ err error }

func newCloudStackCheck(api cloudstack.API, results *gocache.Cache) *cloudStackCheck {
	return &cloudStackCheck{api: api, timeout: 5 * time.Second, results: results}
}

// Check calls listCapabilities, the cheapest authenticated call, at most once per cache.ReadinessTTL.
func (c *cloudStackCheck) Check(req *http.Request) error {
	r, _ := cache.GetOrLoad(c.results, &c.mu, "cloudstack", func() (checkResult, error) {
		ctx, cancel := context.WithTimeout(req.Context(), c.timeout)
		defer cancel()
		if _, err := c.api.Capabilities(ctx); err != nil {
			return checkResult{fmt.Errorf("CloudStack API is not usable: %w", err)}, nil
		}
		return checkResult{}, nil
	})
	return r.err
}
