package cache

import (
	"sync"

	gocache "github.com/patrickmn/go-cache"
)

// GetOrLoad returns the value cached under key, or calls load and caches its result for the cache's default TTL.
// mu serialises loads, so concurrent cold callers share one CloudStack listing instead of each making it; a cached
// value is returned without taking it. Errors are not cached: the next caller tries again.
func GetOrLoad[T any](c *gocache.Cache, mu *sync.Mutex, key string, load func() (T, error)) (T, error) {
	if v, ok := c.Get(key); ok {
		requests.WithLabelValues(nameOf(c), "hit").Inc()
		return v.(T), nil
	}
	mu.Lock()
	defer mu.Unlock()
	if v, ok := c.Get(key); ok {
		requests.WithLabelValues(nameOf(c), "hit").Inc()
		return v.(T), nil
	}
	requests.WithLabelValues(nameOf(c), "miss").Inc()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.SetDefault(key, v)
	return v, nil
}
