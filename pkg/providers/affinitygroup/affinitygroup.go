package affinitygroup

import (
	"context"
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// Provider resolves affinity groups.
type Provider interface {
	// Resolve returns the affinity groups matching any term, ordered by the first term they match, then by name.
	// Affinity groups carry no tags in CloudStack, so only id and name terms can match. No match is an empty result.
	Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.AffinityGroup, error)
}

// DefaultProvider implements Provider with one cached listAffinityGroups call.
type DefaultProvider struct {
	listed *selector.Listed[*csgo.AffinityGroup]
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.AffinityGroupsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{listed: selector.NewListed(cache, "affinitygroups",
		func(ctx context.Context) ([]*csgo.AffinityGroup, error) {
			groups, err := api.ListAffinityGroups(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing affinity groups, %w", err)
			}
			return groups, nil
		},
		func(g *csgo.AffinityGroup) (string, string, map[string]string) { return g.Id, g.Name, nil })}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.AffinityGroup, error) {
	groups, err := p.listed.Select(ctx, terms)
	if err != nil {
		return nil, err
	}
	return lo.Map(groups, func(g *csgo.AffinityGroup, _ int) v1.AffinityGroup { return v1.AffinityGroup{ID: g.Id, Name: g.Name} }), nil
}
