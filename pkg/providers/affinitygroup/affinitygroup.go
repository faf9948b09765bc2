package affinitygroup

import (
	"context"
	"fmt"
	"sort"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
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
	type match struct {
		group *csgo.AffinityGroup
		term  int
	}
	var matches []match
	for _, g := range groups {
		if i := selector.FirstMatch(terms, g.Id, g.Name, nil); i >= 0 {
			matches = append(matches, match{g, i})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool {
		if matches[i].term != matches[j].term {
			return matches[i].term < matches[j].term
		}
		return matches[i].group.Name < matches[j].group.Name
	})
	out := make([]v1.AffinityGroup, 0, len(matches))
	for _, m := range matches {
		out = append(out, v1.AffinityGroup{ID: m.group.Id, Name: m.group.Name})
	}
	return out, nil
}

func (p *DefaultProvider) list(ctx context.Context) ([]*csgo.AffinityGroup, error) {
	if groups, ok := p.cache.Get(cacheKey); ok {
		return groups.([]*csgo.AffinityGroup), nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if groups, ok := p.cache.Get(cacheKey); ok {
		return groups.([]*csgo.AffinityGroup), nil
	}
	groups, err := p.api.ListAffinityGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing affinity groups: %w", err)
	}
	p.cache.SetDefault(cacheKey, groups)
	return groups, nil
}
