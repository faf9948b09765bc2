package instancetype

import (
	"context"
	"hash/maphash"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

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
	catalogTTL  time.Duration
	// instanceTypesTTL is only read at construction, to size the instanceTypes cache.
	instanceTypesTTL time.Duration
	clock            func() time.Time

	mu  sync.RWMutex // guards cat
	cat *catalog

	instanceTypes *gocache.Cache
	seed          maphash.Seed
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a Provider. prices maps an instance-type name, offering UUID or offering name to an
// hourly price (the operator's price option; nil for none), see price.
func NewDefaultProvider(api cloudstack.API, unavailable *cache.UnavailableOfferings, prices map[string]float64, opts ...Option) *DefaultProvider {
	p := &DefaultProvider{
		api:         api,
		unavailable: unavailable,
		prices:      prices,
		catalogTTL:  cache.ServiceOfferingsTTL,
		clock:       time.Now,
		seed:        maphash.MakeSeed(),
	}
	instanceTypesTTL := cache.InstanceTypesTTL
	for _, o := range opts {
		o(p)
		if p.instanceTypesTTL > 0 {
			instanceTypesTTL = p.instanceTypesTTL
		}
	}
	p.instanceTypes = gocache.New(instanceTypesTTL, cache.CleanupInterval)
	return p
}

// Option overrides a cache TTL of the provider (the operator's TTL options).
type Option func(p *DefaultProvider)

// WithServiceOfferingsTTL sets how long the offering catalog is served before it is read again.
func WithServiceOfferingsTTL(ttl time.Duration) Option {
	return func(p *DefaultProvider) {
		if ttl > 0 {
			p.catalogTTL = ttl
		}
	}
}

// WithInstanceTypesTTL sets how long computed instance types are reused.
func WithInstanceTypesTTL(ttl time.Duration) Option {
	return func(p *DefaultProvider) { p.instanceTypesTTL = ttl }
}

// UpdateServiceOfferings re-reads the catalog now, whatever its age.
func (p *DefaultProvider) UpdateServiceOfferings(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.refreshLocked(ctx)
	return err
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
	}
	_ = h.WriteByte(1)
	for _, n := range nc.Status.Networks {
		add(n.ZoneID)
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// zoneInfo is a resolved zone a VM can actually be launched in: it has a template and at least one network.
type zoneInfo struct {
	v1.Zone
	arch string
}

// launchableZones are the NodeClass's zones with a template and a network, in status order.
func launchableZones(nc *v1.CloudStackNodeClass) []zoneInfo {
	arch := map[string]string{}
	for _, t := range nc.Status.Templates {
		if _, ok := arch[t.ZoneID]; !ok {
			arch[t.ZoneID] = t.Architecture
		}
	}
	hasNetwork := map[string]bool{}
	for _, n := range nc.Status.Networks {
		hasNetwork[n.ZoneID] = true
	}
	var out []zoneInfo
	for _, z := range nc.Status.Zones {
		a, ok := arch[z.ID]
		if !ok || !hasNetwork[z.ID] {
			continue
		}
		if a == "" {
			a = defaultArch
		}
		out = append(out, zoneInfo{Zone: z, arch: a})
	}
	return out
}

func (p *DefaultProvider) build(ctx context.Context, nc *v1.CloudStackNodeClass, c *catalog) []*cloudprovider.InstanceType {
	zones := launchableZones(nc)
	maxPods := int64(DefaultMaxPods)
	var kubelet *v1.KubeletConfiguration
	if nc.Spec.Kubelet != nil {
		kubelet = nc.Spec.Kubelet
		if kubelet.MaxPods != nil {
			maxPods = int64(*kubelet.MaxPods)
		}
	}
	var out []*cloudprovider.InstanceType
	seen := map[string]string{}
	for _, ref := range nc.Status.ServiceOfferings {
		o, ok := c.byID[ref.ID]
		if !ok {
			continue
		}
		var offered []zoneInfo
		for _, z := range zones {
			if offeredIn(o, z.ID) {
				offered = append(offered, z)
			}
		}
		if len(offered) == 0 {
			continue
		}
		ephemeral := ephemeralStorage(nc, o)
		for _, s := range sizes(o) {
			if prev, dup := seen[s.name]; dup {
				// Two offerings whose names sanitize alike: the first in status order wins, deterministically.
				log.FromContext(ctx).V(1).Info("skipping service offering with a duplicate instance type name",
					"instance-type", s.name, "service-offering-id", o.Id, "kept-service-offering-id", prev)
				continue
			}
			seen[s.name] = o.Id
			out = append(out, p.newInstanceType(o, s, offered, c.tags[o.Id], maxPods, ephemeral, kubelet))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ephemeralStorage is spec.rootDiskSize, else the offering's root disk size, else DefaultEphemeralStorage.
func ephemeralStorage(nc *v1.CloudStackNodeClass, o *csgo.ServiceOffering) resource.Quantity {
	if nc.Spec.RootDiskSize != nil {
		return nc.Spec.RootDiskSize.DeepCopy()
	}
	if o.Rootdisksize > 0 {
		return *resource.NewQuantity(o.Rootdisksize*1024*1024*1024, resource.BinarySI)
	}
	return DefaultEphemeralStorage.DeepCopy()
}
