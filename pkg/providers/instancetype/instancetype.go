package instancetype

import (
	"context"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// Provider resolves service offerings and turns them into instance types.
type Provider interface {
	// ResolveServiceOfferings returns the active, non-system offerings that match the terms and are offered in at
	// least one of the zones, ordered by the first term they match and then by name. Nothing matched is an empty
	// result with a nil error.
	ResolveServiceOfferings(ctx context.Context, terms []v1.SelectorTerm, zoneIDs []string) ([]v1.ServiceOffering, error)
	// List returns the instance types of the NodeClass: its resolved offerings (status.serviceOfferings) in its
	// resolved zones (status.zones), sized by spec.kubelet and spec.rootDiskSize. It includes types none of whose
	// offerings is available. The slice is the caller's; the instance types are shared with later calls and must not be
	// modified.
	List(ctx context.Context, nodeClass *v1.CloudStackNodeClass) ([]*cloudprovider.InstanceType, error)
	// UpdateServiceOfferings re-reads the offering catalog, for a periodic controller.
	UpdateServiceOfferings(ctx context.Context) error
}

// DefaultProvider is the Provider backed by the CloudStack API.
type DefaultProvider struct {
	api         cloudstack.API
	unavailable *cache.UnavailableOfferings
	prices      map[string]float64
	// memoryOverheadPercent is the share of an offering's memory the guest does not see.
	memoryOverheadPercent float64

	// catalogs holds the current catalog under catalogKey for the service-offerings TTL.
	catalogs *gocache.Cache
	mu       sync.Mutex // serialises catalog loads and guards last
	// last is the latest catalog read, even expired: a refresh compares against it to keep the generation.
	last *catalog

	instanceTypes *gocache.Cache
	seed          maphash.Seed
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a Provider. prices maps an instance-type name, offering UUID or offering name to an
// hourly price (the operator's price option; nil for none), see price.
func NewDefaultProvider(api cloudstack.API, unavailable *cache.UnavailableOfferings, prices map[string]float64, opts ...Option) *DefaultProvider {
	p := &DefaultProvider{
		api:                   api,
		unavailable:           unavailable,
		prices:                prices,
		memoryOverheadPercent: DefaultVMMemoryOverheadPercent,
		seed:                  maphash.MakeSeed(),
	}
	for _, o := range opts {
		o(p)
	}
	// Providers built without the operator (tools, tests) get the caches the operator builds with default TTLs.
	if p.catalogs == nil {
		p.catalogs = cache.New(CatalogCacheName, cache.ServiceOfferingsTTL, cache.CleanupInterval)
	}
	if p.instanceTypes == nil {
		p.instanceTypes = cache.New(InstanceTypesCacheName, cache.InstanceTypesTTL, cache.CleanupInterval)
	}
	return p
}

// Names of the provider's caches in karpenter_cloudstack_cache_requests_total.
const (
	CatalogCacheName       = "serviceofferings"
	InstanceTypesCacheName = "instancetypes"
)

// catalogKey is the one key of the catalogs cache: the account sees one catalog.
const catalogKey = "catalog"

// Option configures a DefaultProvider.
type Option func(p *DefaultProvider)

// WithCaches injects the caches the operator built (cache.New, with the TTLs of its options): catalogs holds the
// service-offering catalog, instanceTypes the computed instance types.
func WithCaches(catalogs, instanceTypes *gocache.Cache) Option {
	return func(p *DefaultProvider) { p.catalogs, p.instanceTypes = catalogs, instanceTypes }
}

// WithVMMemoryOverheadPercent sets the share of an offering's memory the guest does not see (0 <= percent < 100;
// other values keep DefaultVMMemoryOverheadPercent).
func WithVMMemoryOverheadPercent(percent float64) Option {
	return func(p *DefaultProvider) {
		if percent >= 0 && percent < 100 {
			p.memoryOverheadPercent = percent
		}
	}
}

// UpdateServiceOfferings re-reads the catalog now, whatever its age.
func (p *DefaultProvider) UpdateServiceOfferings(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.refreshLocked(ctx)
	if err != nil {
		return err
	}
	p.catalogs.SetDefault(catalogKey, c)
	return nil
}

// ServiceOffering returns one offering of the cached catalog, for deploy-time details of customized offerings.
func (p *DefaultProvider) ServiceOffering(ctx context.Context, id string) (*csgo.ServiceOffering, bool, error) {
	c, err := p.catalogFor(ctx)
	if err != nil {
		return nil, false, err
	}
	o, ok := c.byID[id]
	return o, ok, nil
}

// ResolveServiceOfferings implements Provider.
func (p *DefaultProvider) ResolveServiceOfferings(ctx context.Context, terms []v1.SelectorTerm, zoneIDs []string) ([]v1.ServiceOffering, error) {
	c, err := p.catalogFor(ctx)
	if err != nil {
		return nil, err
	}
	offered := lo.Filter(c.offerings, func(o *csgo.ServiceOffering, _ int) bool { return offeredInAny(o, zoneIDs) })
	matches := selector.Select(offered, terms, func(o *csgo.ServiceOffering) (string, string, map[string]string) {
		return o.Id, o.Name, c.tags[o.Id]
	})
	return lo.Map(matches, func(o *csgo.ServiceOffering, _ int) v1.ServiceOffering {
		return v1.ServiceOffering{ID: o.Id, Name: o.Name}
	}), nil
}

func offeredInAny(o *csgo.ServiceOffering, zoneIDs []string) bool {
	for _, z := range zoneIDs {
		if offeredIn(o, z) {
			return true
		}
	}
	return false
}

// List implements Provider. Results are cached under a key made of everything they depend on, so a warm call makes
// no API request and allocates only the key.
func (p *DefaultProvider) List(ctx context.Context, nodeClass *v1.CloudStackNodeClass) ([]*cloudprovider.InstanceType, error) {
	c, err := p.catalogFor(ctx)
	if err != nil {
		return nil, err
	}
	key := cacheKey(p.seed, nodeClass, c.generation, p.unavailable.SeqNum())
	// Callers get their own slice (Karpenter sorts instance-type slices in place) sharing the immutable items.
	if v, ok := p.instanceTypes.Get(key); ok {
		return slices.Clone(v.([]*cloudprovider.InstanceType)), nil
	}
	its := p.build(ctx, nodeClass, c)
	p.instanceTypes.SetDefault(key, its)
	return slices.Clone(its), nil
}

// cacheKey hashes the NodeClass spec hash, the resolved zones, offerings, networks and templates (their arch shapes
// the requirements), the catalog generation and the unavailable-offerings sequence number. It runs on every warm
// call, so it uses maphash, which hashes strings in place; keys live only in this process, so a per-process seed is
// fine. Every field ends with a zero byte so that adjacent fields cannot run together.
func cacheKey(seed maphash.Seed, nc *v1.CloudStackNodeClass, generation, seqNum uint64) string {
	var h maphash.Hash
	h.SetSeed(seed)
	add := func(s string) {
		_, _ = h.WriteString(s)
		_ = h.WriteByte(0)
	}
	add(nc.Hash())
	add(strconv.FormatUint(generation, 10))
	add(strconv.FormatUint(seqNum, 10))
	for _, z := range nc.Status.Zones {
		add(z.ID)
		add(z.Name)
	}
	_ = h.WriteByte(1)
	for _, o := range nc.Status.ServiceOfferings {
		add(o.ID)
	}
	_ = h.WriteByte(1)
	for _, t := range nc.Status.Templates {
		add(t.ZoneID)
		add(t.Architecture)
		if t.Size != nil {
			add(t.Size.String())
		}
	}
	_ = h.WriteByte(1)
	for _, n := range nc.Status.Networks {
		add(n.ZoneID)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// zoneInfo is a resolved zone a VM can actually be launched in: it has at least one template and one network.
type zoneInfo struct {
	v1.Zone
	// archs are the architectures of the zone's templates, in status order.
	archs []string
}

// launchableZones are the NodeClass's zones with a template and a network, in status order.
func launchableZones(nc *v1.CloudStackNodeClass) []zoneInfo {
	archs := map[string][]string{}
	for _, t := range nc.Status.Templates {
		a := lo.Ternary(t.Architecture == "", defaultArch, t.Architecture)
		if !slices.Contains(archs[t.ZoneID], a) {
			archs[t.ZoneID] = append(archs[t.ZoneID], a)
		}
	}
	hasNetwork := map[string]bool{}
	for _, n := range nc.Status.Networks {
		hasNetwork[n.ZoneID] = true
	}
	var out []zoneInfo
	for _, z := range nc.Status.Zones {
		if len(archs[z.ID]) == 0 || !hasNetwork[z.ID] {
			continue
		}
		out = append(out, zoneInfo{Zone: z, archs: archs[z.ID]})
	}
	return out
}

// member is one service offering behind an instance type, in the zones it may launch in.
type member struct {
	offering *csgo.ServiceOffering
	zones    []zoneInfo
}

// group is one instance type before it is built: a shape and the offerings that provide it. CloudStack offerings
// limited to zones (zoneid) are often defined once per zone under the same name; those with the same shape become
// one instance type whose offerings each carry their own service offering, as an AWS instance type is one type in
// every availability zone.
type group struct {
	size    size
	gpus    int
	members []member
}

func (p *DefaultProvider) build(ctx context.Context, nc *v1.CloudStackNodeClass, c *catalog) []*cloudprovider.InstanceType {
	zones := launchableZones(nc)
	ephemeral := templateEphemeralStorage(nc)
	var groups []*group
	byName := map[string][]*group{} // plain name -> its groups, the first of which keeps the plain name
	for _, ref := range nc.Status.ServiceOfferings {
		o, ok := c.byID[ref.ID]
		if !ok {
			continue
		}
		offered := lo.Filter(zones, func(z zoneInfo, _ int) bool { return offeredIn(o, z.ID) })
		if len(offered) == 0 {
			continue
		}
		for _, s := range sizes(o) {
			m := member{offering: o, zones: offered}
			same, found := lo.Find(byName[s.name], func(g *group) bool {
				return g.size.cpu == s.cpu && g.size.memoryMiB == s.memoryMiB && g.gpus == o.Gpucount &&
					g.members[0].offering.Rootdisksize == o.Rootdisksize && !overlaps(g, offered)
			})
			if found {
				same.members = append(same.members, m)
				continue
			}
			g := &group{size: s, gpus: o.Gpucount, members: []member{m}}
			if len(byName[s.name]) > 0 {
				// Same name, another shape or the same zones: another instance type, named after its offering too.
				g.size.name = distinctName(s.name, o.Id)
				log.FromContext(ctx).V(1).Info("service offerings share a name but not a shape; naming apart",
					"instance-type", g.size.name, "service-offering-id", o.Id)
			}
			byName[s.name] = append(byName[s.name], g)
			groups = append(groups, g)
		}
	}
	out := make([]*cloudprovider.InstanceType, 0, len(groups))
	for _, g := range groups {
		out = append(out, p.newInstanceType(nc, g, c.tags, ephemeralStorage(nc, g.members[0].offering, ephemeral)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func overlaps(g *group, zones []zoneInfo) bool {
	for _, m := range g.members {
		for _, z := range m.zones {
			if lo.ContainsBy(zones, func(o zoneInfo) bool { return o.ID == z.ID }) {
				return true
			}
		}
	}
	return false
}

// distinctName suffixes an instance type name with the start of the offering's UUID, within the label value limit.
func distinctName(name, offeringID string) string {
	suffix := "-" + strings.ReplaceAll(offeringID, "-", "")
	if len(suffix) > 9 {
		suffix = suffix[:9]
	}
	if limit := maxLabelValueLength - len(suffix); len(name) > limit {
		name = strings.TrimRight(name[:limit], "-_.")
	}
	return name + suffix
}

// templateEphemeralStorage is the smallest size among the NodeClass's templates (a VM may boot from any of them),
// or DefaultEphemeralStorage when none reports a size.
func templateEphemeralStorage(nc *v1.CloudStackNodeClass) resource.Quantity {
	var smallest *resource.Quantity
	for _, t := range nc.Status.Templates {
		if t.Size != nil && t.Size.Sign() > 0 && (smallest == nil || t.Size.Cmp(*smallest) < 0) {
			smallest = t.Size
		}
	}
	if smallest == nil {
		return DefaultEphemeralStorage.DeepCopy()
	}
	return smallest.DeepCopy()
}

// ephemeralStorage is the root disk of a VM of the offering: spec.rootDiskSize, else the offering's root disk size,
// else the template's size (fromTemplate).
func ephemeralStorage(nc *v1.CloudStackNodeClass, o *csgo.ServiceOffering, fromTemplate resource.Quantity) resource.Quantity {
	if nc.Spec.RootDiskSize != nil {
		return nc.Spec.RootDiskSize.DeepCopy()
	}
	if o.Rootdisksize > 0 {
		return *resource.NewQuantity(o.Rootdisksize*1024*1024*1024, resource.BinarySI)
	}
	return fromTemplate
}
