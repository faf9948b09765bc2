package selector

import (
	"context"
	"sync"

	gocache "github.com/patrickmn/go-cache"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
)

// Listed resolves selector terms against one cached listing of the account's resources of one kind (security
// groups, affinity groups, disk offerings): the listing is made once per cache TTL and every NodeClass filters it in
// memory, so the number of CloudStack requests does not grow with the number of NodeClasses or terms.
type Listed[T any] struct {
	cache *gocache.Cache
	// mu makes concurrent cold callers share one listing instead of each making it.
	mu    sync.Mutex
	key   string
	list  func(ctx context.Context) ([]T, error)
	attrs func(T) (id, name string, tags map[string]string)
}

// NewListed returns a Listed that caches list's answer in c under key; attrs gives an item's id, name and tags (nil
// tags for kinds CloudStack does not tag).
func NewListed[T any](c *gocache.Cache, key string, list func(ctx context.Context) ([]T, error), attrs func(T) (id, name string, tags map[string]string)) *Listed[T] {
	return &Listed[T]{cache: c, key: key, list: list, attrs: attrs}
}

// Select returns the listed items matching any term, in the order of Select. No terms make no request.
func (l *Listed[T]) Select(ctx context.Context, terms []v1.SelectorTerm) ([]T, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	items, err := cache.GetOrLoad(l.cache, &l.mu, l.key, func() ([]T, error) { return l.list(ctx) })
	if err != nil {
		return nil, err
	}
	return Select(items, terms, l.attrs), nil
}

// Unmatched resolves each term on its own with resolve and returns the indexes of the terms that match nothing. For
// dependencies the user names one by one (affinity groups, security groups, disk offerings) a term that matches
// nothing is a typo or a deleted resource, and launching without it would silently drop what the user asked for.
func Unmatched[T any](ctx context.Context, terms []v1.SelectorTerm, resolve func(context.Context, []v1.SelectorTerm) ([]T, error)) ([]int, error) {
	var unmatched []int
	for i := range terms {
		found, err := resolve(ctx, terms[i:i+1])
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			unmatched = append(unmatched, i)
		}
	}
	return unmatched, nil
}
