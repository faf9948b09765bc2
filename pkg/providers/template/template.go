package template

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// Provider resolves templates.
type Provider interface {
	// Resolve returns the one template VMs of the zone boot from: among the ready executable templates of the zone
	// that match any term, the newest; nil when none matches.
	Resolve(ctx context.Context, zoneID string, terms []v1.SelectorTerm) (*v1.Template, error)
	// ResolvePerArchitecture returns, for each architecture among the matching ready executable templates of the
	// zone, the newest one, ordered by architecture: a NodeClass with an x86_64 and an aarch64 template serves both
	// architectures. Empty when none matches.
	ResolvePerArchitecture(ctx context.Context, zoneID string, terms []v1.SelectorTerm) ([]v1.Template, error)
}

// DefaultProvider implements Provider with one cached listTemplates call per zone.
type DefaultProvider struct {
	api   cloudstack.API
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu sync.Mutex
}

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a provider that caches template listings per zone in cache (see cache.TemplatesTTL).
func NewDefaultProvider(api cloudstack.API, cache *gocache.Cache) *DefaultProvider {
	return &DefaultProvider{api: api, cache: cache}
}

// Resolve implements Provider.
func (p *DefaultProvider) Resolve(ctx context.Context, zoneID string, terms []v1.SelectorTerm) (*v1.Template, error) {
	templates, err := p.list(ctx, zoneID)
	if err != nil {
		return nil, err
	}
	best := Select(templates, zoneID, terms)
	if best == nil {
		return nil, nil
	}
	t := toStatus(best)
	return &t, nil
}

// ResolvePerArchitecture implements Provider.
func (p *DefaultProvider) ResolvePerArchitecture(ctx context.Context, zoneID string, terms []v1.SelectorTerm) ([]v1.Template, error) {
	templates, err := p.list(ctx, zoneID)
	if err != nil {
		return nil, err
	}
	byArch := map[string][]*csgo.Template{}
	for _, t := range templates {
		a := Architecture(t.Arch)
		byArch[a] = append(byArch[a], t)
	}
	archs := lo.Keys(byArch)
	sort.Strings(archs)
	var out []v1.Template
	for _, a := range archs {
		if best := Select(byArch[a], zoneID, terms); best != nil {
			out = append(out, toStatus(best))
		}
	}
	return out, nil
}

// toStatus is the NodeClass status entry of a template. CloudStack reports the template's virtual size in bytes;
// it is the root disk a VM gets unless spec.rootDiskSize or the offering overrides it.
func toStatus(t *csgo.Template) v1.Template {
	out := v1.Template{ID: t.Id, Name: t.Name, ZoneID: t.Zoneid, Architecture: Architecture(t.Arch)}
	if t.Size > 0 {
		out.Size = resource.NewQuantity(t.Size, resource.BinarySI)
	}
	return out
}

// Select picks the template of the zone among the ready ones that match a term: the newest by created date, then
// the one matching the earlier term, then by name and ID so the choice is stable. It returns nil when none matches.
func Select(templates []*csgo.Template, zoneID string, terms []v1.SelectorTerm) *csgo.Template {
	var best *csgo.Template
	var bestCreated time.Time
	bestTerm := -1
	for _, t := range templates {
		if !t.Isready || t.Zoneid != zoneID {
			continue
		}
		term := selector.FirstMatch(terms, t.Id, t.Name, cloudstack.TagMap(t.Tags))
		if term < 0 {
			continue
		}
		// An unparseable date sorts as the oldest rather than failing the whole resolution.
		created, _ := time.Parse(cloudstack.TimeLayout, t.Created)
		if best == nil || newer(created, term, t, bestCreated, bestTerm, best) {
			best, bestCreated, bestTerm = t, created, term
		}
	}
	return best
}

func newer(created time.Time, term int, t *csgo.Template, bestCreated time.Time, bestTerm int, best *csgo.Template) bool {
	switch {
	case !created.Equal(bestCreated):
		return created.After(bestCreated)
	case term != bestTerm:
		return term < bestTerm
	case t.Name != best.Name:
		return t.Name < best.Name
	default:
		return t.Id < best.Id
	}
}

// Architecture maps a CloudStack template architecture to the Kubernetes one. Servers before 4.20 report none; they
// only run x86_64.
func Architecture(arch string) string {
	switch strings.ToLower(arch) {
	case "", "x86_64", "amd64":
		return karpv1.ArchitectureAmd64
	case "aarch64", "arm64":
		return karpv1.ArchitectureArm64
	default:
		return strings.ToLower(arch)
	}
}

func (p *DefaultProvider) list(ctx context.Context, zoneID string) ([]*csgo.Template, error) {
	return cache.GetOrLoad(p.cache, &p.mu, zoneID, func() ([]*csgo.Template, error) {
		templates, err := p.api.ListTemplates(ctx, zoneID)
		if err != nil {
			return nil, fmt.Errorf("listing templates in zone %q, %w", zoneID, err)
		}
		return templates, nil
	})
}
