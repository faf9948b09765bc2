package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// failedSuffix marks the entry that remembers a key's last failed load.
const failedSuffix = "\x00failed"

// failedLoad is a load that returned an error, and when it did.
type failedLoad struct {
	at  time.Time
	err error
}

// GetOrLoad returns the value cached under key, or calls load and caches its result for the cache's default TTL.
// mu serialises loads, so concurrent cold callers share one CloudStack listing instead of each making it; a cached
// value is returned without taking it.
//
// Errors are not cached, but callers that were already waiting when a load failed get that load's error instead of
// each trying again in turn: while CloudStack is unreachable, every NodeClaim Karpenter retries asks for the same
// catalog at once, and without this each queued caller would send its own doomed request. A caller that arrives after
// the failure tries again. A load that failed because its own context ended is not shared: it says nothing about
// CloudStack.
func GetOrLoad[T any](c *gocache.Cache, mu sync.Locker, key string, load func() (T, error)) (T, error) {
	if v, ok := c.Get(key); ok {
		requests.WithLabelValues(nameOf(c), "hit").Inc()
		return v.(T), nil
	}
	arrived := time.Now()
	mu.Lock()
	defer mu.Unlock()
	if v, ok := c.Get(key); ok {
		requests.WithLabelValues(nameOf(c), "hit").Inc()
		return v.(T), nil
	}
	if f, ok := c.Get(key + failedSuffix); ok && f.(failedLoad).at.After(arrived) {
		requests.WithLabelValues(nameOf(c), "shared-error").Inc()
		var zero T
		return zero, f.(failedLoad).err
	}
	requests.WithLabelValues(nameOf(c), "miss").Inc()
	v, err := load()
	if err != nil {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			c.Set(key+failedSuffix, failedLoad{at: time.Now(), err: err}, FailedLoadTTL)
		}
		return v, err
	}
	c.Delete(key + failedSuffix)
	c.SetDefault(key, v)
	return v, nil
}
