package instancetype

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
)

// resourceTypeServiceOffering is the listTags resource type of compute offerings.
const resourceTypeServiceOffering = "ServiceOffering"

// catalog is one snapshot of the account's usable service offerings and their resource tags. It is immutable once
// built; a refresh replaces it.
type catalog struct {
	offerings  []*csgo.ServiceOffering // active, non-system, sorted by name then UUID
	byID       map[string]*csgo.ServiceOffering
	tags       map[string]map[string]string // offering UUID -> tags
	generation uint64                       // bumps whenever the content changes
	digest     uint64
}

// catalogFor returns the cached catalog, fetching it when missing or older than the TTL; concurrent cold callers
// share one fetch.
func (p *DefaultProvider) catalogFor(ctx context.Context) (*catalog, error) {
	return cache.GetOrLoad(p.catalogs, &p.mu, catalogKey, func() (*catalog, error) { return p.refreshLocked(ctx) })
}

// refreshLocked reads the offerings and all their tags (one paged listTags call, never one per offering) and keeps
// the generation when nothing changed, so computed instance types stay cached across periodic refreshes.
func (p *DefaultProvider) refreshLocked(ctx context.Context) (*catalog, error) {
	offerings, err := p.api.ListServiceOfferings(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing service offerings, %w", err)
	}
	tagList, err := p.api.ListTags(ctx, resourceTypeServiceOffering)
	if err != nil {
		return nil, fmt.Errorf("listing service offering tags, %w", err)
	}
	c := &catalog{byID: make(map[string]*csgo.ServiceOffering, len(offerings)), tags: map[string]map[string]string{}}
	for _, o := range offerings {
		if o == nil || o.Issystem || !isActive(o) {
			continue
		}
		c.offerings = append(c.offerings, o)
		c.byID[o.Id] = o
	}
	sort.Slice(c.offerings, func(i, j int) bool {
		if c.offerings[i].Name != c.offerings[j].Name {
			return c.offerings[i].Name < c.offerings[j].Name
		}
		return c.offerings[i].Id < c.offerings[j].Id
	})
	for _, t := range tagList {
		if t == nil || !strings.EqualFold(t.Resourcetype, resourceTypeServiceOffering) {
			continue
		}
		if c.tags[t.Resourceid] == nil {
			c.tags[t.Resourceid] = map[string]string{}
		}
		c.tags[t.Resourceid][t.Key] = t.Value
	}
	c.digest = digest(c)
	c.generation = 1
	if p.last != nil {
		c.generation = p.last.generation
		if p.last.digest != c.digest {
			c.generation++
			log.FromContext(ctx).V(1).Info("discovered service offerings", "count", len(c.offerings), "generation", c.generation)
		}
	}
	p.last = c
	return c, nil
}

// isActive treats a missing state as active: servers before 4.19 do not report one and list only active offerings.
func isActive(o *csgo.ServiceOffering) bool {
	return o.State == "" || strings.EqualFold(o.State, "Active")
}

func digest(c *catalog) uint64 {
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	for _, o := range c.offerings {
		// Encoding a struct of strings, numbers and string maps cannot fail; map keys are sorted by encoding/json.
		_ = enc.Encode(o)
		_ = enc.Encode(c.tags[o.Id])
	}
	return h.Sum64()
}

// offeredIn reports whether the offering may be used in the zone: an empty zone list means every zone.
func offeredIn(o *csgo.ServiceOffering, zoneID string) bool {
	if strings.TrimSpace(o.Zoneid) == "" {
		return true
	}
	for _, z := range strings.Split(o.Zoneid, ",") {
		if strings.EqualFold(strings.TrimSpace(z), zoneID) {
			return true
		}
	}
	return false
}
