// Package diskoffering resolves the disk offerings of spec.dataDisks.
package diskoffering

import (
	"context"
	"fmt"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// Provider resolves disk offerings.
type Provider interface {
	// Resolve returns the disk offerings matching any term, ordered by the first term they match, then by name. No
	// match is an empty result.
	Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]*csgo.DiskOffering, error)
}

// DefaultProvider implements Provider with one cached listDiskOfferings call for every NodeClass.
type DefaultProvider struct {
	listed *selector.Listed[*csgo.DiskOffering]
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches the listing in cache (see cache.DiskOfferingsTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{listed: selector.NewListed(cache, "diskofferings",
		func(ctx context.Context) ([]*csgo.DiskOffering, error) {
			offerings, err := api.ListDiskOfferings(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing disk offerings, %w", err)
			}
			return offerings, nil
		},
		// Disk offerings have no resource tags (their tags field is storage tags), so tag terms match nothing.
		func(o *csgo.DiskOffering) (string, string, map[string]string) { return o.Id, o.Name, nil })}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, terms []v1.SelectorTerm) ([]*csgo.DiskOffering, error) {
	return p.listed.Select(ctx, terms)
}

// InZone reports whether an offering may be used in a zone. DiskOfferingResponse's zoneid is a comma-separated list
// of the zones the offering is limited to (since 4.13), and empty for an offering of every zone.
func InZone(o *csgo.DiskOffering, zoneID string) bool {
	if strings.TrimSpace(o.Zoneid) == "" {
		return true
	}
	for _, id := range strings.Split(o.Zoneid, ",") {
		if strings.EqualFold(strings.TrimSpace(id), zoneID) {
			return true
		}
	}
	return false
}
