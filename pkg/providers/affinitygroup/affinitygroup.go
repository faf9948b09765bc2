package affinitygroup

import (
	"context"
	"fmt"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

const cacheKey = "affinitygroups"

// Provider resolves affinity groups.
type Provider interface {
	// Resolve returns the affinity groups matching any term, ordered by the first term they match, then by name.
	// Affinity groups carry no tags in CloudStack, so only id and name terms can match. No match is an empty result.
	Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.AffinityGroup, error)
}

// DefaultProvider implements Provider with one cached listAffinityGroups call.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.AffinityGroupsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.AffinityGroup, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	groups, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	matches := selector.Select(groups, terms, func(g *csgo.AffinityGroup) (string, string, map[string]string) { return g.Id, g.Name, nil })
	return lo.Map(matches, func(g *csgo.AffinityGroup, _ int) v1.AffinityGroup { return v1.AffinityGroup{ID: g.Id, Name: g.Name} }), nil
}

func (p *DefaultProvider) list(ctx context.Context) ([]*csgo.AffinityGroup, error) {
	return cache.GetOrLoad(p.cache, &p.mu, cacheKey, func() ([]*csgo.AffinityGroup, error) {
		groups, err := p.api.ListAffinityGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing affinity groups, %w", err)
		}
		return groups, nil
	})
}
