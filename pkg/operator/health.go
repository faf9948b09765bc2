package operator

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

// readinessCacheTTL bounds how often readiness probes reach CloudStack: probes of every replica every few
// seconds must not become a noticeable share of the API traffic.
const readinessCacheTTL = 10 * time.Second

// cloudStackCheck is a readiness check that fails while CloudStack is unreachable or rejects the credentials.
type cloudStackCheck struct {
	api     cloudstack.API
	timeout time.Duration

	mu        sync.Mutex
	checkedAt time.Time
	lastErr   error
}

func newCloudStackCheck(api cloudstack.API) *cloudStackCheck {
	return &cloudStackCheck{api: api, timeout: 5 * time.Second}
}

// Check calls listCapabilities, the cheapest authenticated call, at most once per readinessCacheTTL.
func (c *cloudStackCheck) Check(req *http.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.checkedAt.IsZero() && time.Since(c.checkedAt) < readinessCacheTTL {
		return c.lastErr
	}
	ctx, cancel := context.WithTimeout(req.Context(), c.timeout)
	defer cancel()
	_, err := c.api.Capabilities(ctx)
	if err != nil {
		err = fmt.Errorf("CloudStack API is not usable: %w", err)
	}
	c.checkedAt, c.lastErr = time.Now(), err
	return err
}
