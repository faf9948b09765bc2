// Package securitygroup resolves spec.securityGroupSelectorTerms against the account's security groups.
package securitygroup

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

// Provider resolves security groups.
type Provider interface {
	// Resolve returns the security groups matching any term, ordered by the first term they match, then by name. No
	// match is an empty result.
	Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.SecurityGroup, error)
}

// DefaultProvider implements Provider with one cached listSecurityGroups call, whose answer carries each group's
// tags: no listTags call is needed for tag terms.
type DefaultProvider struct {
	listed *selector.Listed[*csgo.SecurityGroup]
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.SecurityGroupsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{listed: selector.NewListed(cache, "securitygroups",
		func(ctx context.Context) ([]*csgo.SecurityGroup, error) {
			groups, err := api.ListSecurityGroups(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing security groups, %w", err)
			}
			return groups, nil
		},
		func(g *csgo.SecurityGroup) (string, string, map[string]string) {
			return g.Id, g.Name, cloudstack.TagMap(g.Tags)
		})}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]v1.SecurityGroup, error) {
	groups, err := p.listed.Select(ctx, terms)
	if err != nil {
		return nil, err
	}
	return lo.Map(groups, func(g *csgo.SecurityGroup, _ int) v1.SecurityGroup { return v1.SecurityGroup{ID: g.Id, Name: g.Name} }), nil
}
