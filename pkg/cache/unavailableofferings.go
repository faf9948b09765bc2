package cache

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// UnavailableOfferings remembers (instance type, zone) pairs that recently failed with insufficient capacity, so that
// the instance-type provider reports them unavailable and Karpenter launches something else. It is safe for
// concurrent use.
type UnavailableOfferings struct {
	cache  *gocache.Cache
	seqNum atomic.Uint64
}

// NewUnavailableOfferings returns an empty cache with UnavailableOfferingsTTL.
func NewUnavailableOfferings() *UnavailableOfferings {
	return NewUnavailableOfferingsWithTTL(UnavailableOfferingsTTL, UnavailableOfferingsCleanupInterval)
}

// NewUnavailableOfferingsWithTTL returns an empty cache whose entries live for ttl and are removed (bumping the
// sequence number) by a janitor running every cleanup; tests use it with short durations.
func NewUnavailableOfferingsWithTTL(ttl, cleanup time.Duration) *UnavailableOfferings {
	u := &UnavailableOfferings{cache: gocache.New(ttl, cleanup)}
	// Expiry changes availability just as marking does, so cached instance types keyed by SeqNum must be recomputed.
	u.cache.OnEvicted(func(string, any) {
		u.seqNum.Add(1)
		unavailableOfferings.Dec()
	})
	return u
}

// MarkUnavailable records that instanceTypeName cannot be launched in zone for the TTL; reason is logged.
func (u *UnavailableOfferings) MarkUnavailable(ctx context.Context, reason, instanceTypeName, zone string) {
	log.FromContext(ctx).V(1).Info("marking offering unavailable", "reason", reason, "instance-type", instanceTypeName, "zone", zone,
		"ttl", UnavailableOfferingsTTL)
	// Add fails when the pair is already marked: then only its TTL is renewed and the gauge does not grow.
	if u.cache.Add(key(instanceTypeName, zone), struct{}{}, gocache.DefaultExpiration) == nil {
		unavailableOfferings.Inc()
	} else {
		u.cache.SetDefault(key(instanceTypeName, zone), struct{}{})
	}
	unavailableMarked.Inc()
	u.seqNum.Add(1)
}

// IsUnavailable reports whether instanceTypeName was marked unavailable in zone and has not expired.
func (u *UnavailableOfferings) IsUnavailable(instanceTypeName, zone string) bool {
	_, found := u.cache.Get(key(instanceTypeName, zone))
	return found
}

// SeqNum changes whenever availability changes (a mark, an expiry, a flush); caches of computed instance types
// include it in their key.
func (u *UnavailableOfferings) SeqNum() uint64 { return u.seqNum.Load() }

// Flush forgets every unavailable offering.
func (u *UnavailableOfferings) Flush() {
	// go-cache's Flush calls no eviction callback.
	unavailableOfferings.Sub(float64(u.cache.ItemCount()))
	u.cache.Flush()
	u.seqNum.Add(1)
}

func key(instanceTypeName, zone string) string { return fmt.Sprintf("%s:%s", instanceTypeName, zone) }
