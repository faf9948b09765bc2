// Package securitygroup resolves spec.securityGroupSelectorTerms against the account's security groups.
package securitygroup

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

const cacheKey = "securitygroups"

// Provider resolves security groups.
type Provider interface {
	// Resolve returns the security groups matching any term, ordered by the first term they match, then by name. No
	// match is an empty result.
	Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.SecurityGroup, error)
}

// DefaultProvider implements Provider with one cached listSecurityGroups call, whose answer carries each group's
// tags: no listTags call is needed for tag terms.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.SecurityGroupsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.SecurityGroup, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	groups, err := cache.GetOrLoad(p.cache, &p.mu, cacheKey, func() ([]*csgo.SecurityGroup, error) {
		groups, err := p.api.ListSecurityGroups(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing security groups: %w", err)
		}
		return groups, nil
	})
	if err != nil {
		return nil, err
	}
	matches := selector.Select(groups, terms, func(g *csgo.SecurityGroup) (string, string, map[string]string) {
		return g.Id, g.Name, cloudstack.TagMap(g.Tags)
	})
	return lo.Map(matches, func(g *csgo.SecurityGroup, _ int) v1.SecurityGroup { return v1.SecurityGroup{ID: g.Id, Name: g.Name} }), nil
}
