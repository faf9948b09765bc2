package zone

import (
	"context"
	"fmt"
	"strings"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// allocationStateEnabled is the allocationstate of zones that accept new VMs; Disabled zones refuse deploys from
// non-admins.
const allocationStateEnabled = "Enabled"

const cacheKey = "zones"

// Provider resolves zones.
type Provider interface {
	// List returns every zone the account can see. The zones are shared with the cache: do not modify them.
	List(ctx context.Context) ([]*csgo.Zone, error)
	// Resolve returns the Enabled zones the NodeClass selects through spec.zone (name or ID) or
	// spec.zoneSelectorTerms, ordered by the first term they match, then by name. No match is an empty result.
	Resolve(ctx context.Context, nodeClass *v1.CloudStackNodeClass) ([]v1.Zone, error)
}

// DefaultProvider implements Provider with one cached listZones call.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the zone listing in cache (see cache.ZonesTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// List implements Provider.
func (p *DefaultProvider) List(ctx context.Context) ([]*csgo.Zone, error) {
	return cache.GetOrLoad(p.cache, &p.mu, cacheKey, func() ([]*csgo.Zone, error) {
		zones, err := p.api.ListZones(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing zones, %w", err)
		}
		return zones, nil
	})
}

// Get returns the zone with the given ID (any case) or exact name, enabled or not; nil when there is none.
func (p *DefaultProvider) Get(ctx context.Context, nameOrID string) (*csgo.Zone, error) {
	zones, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, z := range zones {
		if strings.EqualFold(z.Id, nameOrID) {
			return z, nil
		}
	}
	for _, z := range zones {
		if z.Name == nameOrID {
			return z, nil
		}
	}
	return nil, nil
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, nodeClass *v1.CloudStackNodeClass) ([]v1.Zone, error) {
	if nodeClass.Spec.Zone != "" {
		z, err := p.Get(ctx, nodeClass.Spec.Zone)
		if err != nil || z == nil || z.Allocationstate != allocationStateEnabled {
			return nil, err
		}
		return []v1.Zone{{ID: z.Id, Name: z.Name}}, nil
	}
	zones, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	enabled := lo.Filter(zones, func(z *csgo.Zone, _ int) bool { return z.Allocationstate == allocationStateEnabled })
	matches := selector.Select(enabled, nodeClass.Spec.ZoneSelectorTerms, func(z *csgo.Zone) (string, string, map[string]string) {
		return z.Id, z.Name, cloudstack.TagMap(z.Tags)
	})
	return lo.Map(matches, func(z *csgo.Zone, _ int) v1.Zone { return v1.Zone{ID: z.Id, Name: z.Name} }), nil
}
