package network

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

// unusableStates are network states in which CloudStack refuses new NICs. Allocated and Setup networks are fine:
// CloudStack implements them on the first deploy.
var unusableStates = map[string]bool{"Shutdown": true, "Destroy": true, "Destroyed": true}

// Provider resolves networks.
type Provider interface {
	// Resolve returns the deployable networks of the zone that match the terms, ordered by the first term they
	// match (then by name), so the first network is the VM's default NIC. No match is an empty result.
	Resolve(ctx context.Context, zoneID string, terms []v1.SelectorTerm) ([]v1.Network, error)
}

// DefaultProvider implements Provider with one cached listNetworks call per zone.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches network listings per zone in cache (see cache.NetworksTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, zoneID string, terms []v1.SelectorTerm) ([]v1.Network, error) {
	networks, err := p.list(ctx, zoneID)
	if err != nil {
		return nil, err
	}
	// canusefordeploy is a plain bool in the SDK: when no network of the zone says true, the server did not report it
	// and it must not exclude everything.
	reported := false
	for _, n := range networks {
		reported = reported || n.Canusefordeploy
	}
	usable := lo.Filter(networks, func(n *csgo.Network, _ int) bool {
		return n.Zoneid == zoneID && !unusableStates[n.State] && (!reported || n.Canusefordeploy)
	})
	matches := selector.Select(usable, terms, func(n *csgo.Network) (string, string, map[string]string) {
		return n.Id, n.Name, cloudstack.TagMap(n.Tags)
	})
	return lo.Map(matches, func(n *csgo.Network, _ int) v1.Network { return v1.Network{ID: n.Id, Name: n.Name, ZoneID: n.Zoneid} }), nil
}

func (p *DefaultProvider) list(ctx context.Context, zoneID string) ([]*csgo.Network, error) {
	return cache.GetOrLoad(p.cache, &p.mu, zoneID, func() ([]*csgo.Network, error) {
		networks, err := p.api.ListNetworks(ctx, zoneID)
		if err != nil {
			return nil, fmt.Errorf("listing networks in zone %q, %w", zoneID, err)
		}
		return networks, nil
	})
}
