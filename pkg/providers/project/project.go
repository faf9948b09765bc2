package project

import (
	"context"
	"sync"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

const cacheKey = "project"

// Provider resolves the controller's project.
type Provider interface {
	// Get returns the configured project, or nil when none is configured. A project that cannot be used fails with
	// a *cserrors.ProjectError whose message names the setting and the fix.
	Get(ctx context.Context) (*cloudstack.Project, error)
}

// DefaultProvider implements Provider with one cached listProjects call shared by every NodeClass.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the answer in cache (see cache.ProjectTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Get implements Provider. Failures are not cached, so a fixed membership shows within one NodeClass reconcile.
func (p *DefaultProvider) Get(ctx context.Context) (*cloudstack.Project, error) {
	return cache.GetOrLoad(p.cache, &p.mu, cacheKey, func() (*cloudstack.Project, error) {
		return p.api.ResolveProject(ctx)
	})
}
