package cache_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
)

var _ = Describe("UnavailableOfferings", func() {
	ctx := context.Background()

	It("marks one (instance type, zone) pair and bumps the sequence number", func() {
		u := cache.NewUnavailableOfferings()
		before := u.SeqNum()
		u.MarkUnavailable(ctx, "InsufficientCapacity", "medium", "zone-a")
		Expect(u.SeqNum()).To(BeNumerically(">", before))
		Expect(u.IsUnavailable("medium", "zone-a")).To(BeTrue())
		Expect(u.IsUnavailable("medium", "zone-b")).To(BeFalse())
		Expect(u.IsUnavailable("large", "zone-a")).To(BeFalse())
	})

	It("forgets everything on Flush and bumps the sequence number", func() {
		u := cache.NewUnavailableOfferings()
		u.MarkUnavailable(ctx, "InsufficientCapacity", "medium", "zone-a")
		before := u.SeqNum()
		u.Flush()
		Expect(u.IsUnavailable("medium", "zone-a")).To(BeFalse())
		Expect(u.SeqNum()).To(BeNumerically(">", before))
	})

	It("expires entries after the TTL and bumps the sequence number when the janitor removes them", func() {
		// The TTL leaves the check right after marking seconds of slack on a loaded machine (at 50 ms it could expire
		// before the check ran); the expiry itself is awaited, never timed.
		u := cache.NewUnavailableOfferingsWithTTL(2*time.Second, 20*time.Millisecond)
		u.MarkUnavailable(ctx, "InsufficientCapacity", "small", "zone-b")
		marked := u.SeqNum()
		Expect(u.IsUnavailable("small", "zone-b")).To(BeTrue())
		Eventually(func() bool { return u.IsUnavailable("small", "zone-b") }).WithTimeout(30 * time.Second).Should(BeFalse())
		Eventually(u.SeqNum).WithTimeout(30 * time.Second).Should(BeNumerically(">", marked))
	})
})
