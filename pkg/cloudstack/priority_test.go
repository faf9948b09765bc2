package cloudstack_test

import (
	"context"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

var _ = Describe("Client-side rate limit", func() {
	// A burst of deploys queued for the limit must not hold back the polls that tell launches in flight their VMs run:
	// with 250 deploys at 20 per second, the first poll came only after the last deploy, 10 s later.
	It("lets an urgent request pass the requests queued before it, at the same rate", func() {
		ctx := context.Background()
		e := newEnv(nil, func(o *cloudstack.Options) { o.QPS, o.Burst = 10, 1 })
		const queued = 10
		var mu sync.Mutex
		var done []string
		finish := func(who string) {
			mu.Lock()
			defer mu.Unlock()
			done = append(done, who)
		}
		var wg sync.WaitGroup
		for range queued {
			wg.Go(func() {
				defer GinkgoRecover()
				_, err := e.client.ListZones(ctx)
				Expect(err).NotTo(HaveOccurred())
				finish("queued")
			})
		}
		// The burst's one token went at once; the rest wait for theirs.
		Eventually(func() int64 { return e.sim.Counts()["listZones"] }).Should(BeNumerically(">=", 1))
		time.Sleep(100 * time.Millisecond)
		_, err := e.client.ListZones(cloudstack.Urgent(ctx))
		Expect(err).NotTo(HaveOccurred())
		finish("urgent")
		wg.Wait()
		// At most the one reservation made before it is served first, plus the one in flight when it asked.
		Expect(slices.Index(done, "urgent")).To(BeNumerically("<=", 3), "completion order: %v", done)
		Expect(done).To(HaveLen(queued + 1))
	})
})
