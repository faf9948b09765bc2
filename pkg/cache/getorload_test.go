package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gocache "github.com/patrickmn/go-cache"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
)

// countingLocker counts callers that reached Lock, so a spec knows every caller is queued behind a running load.
type countingLocker struct {
	sync.Mutex
	reached atomic.Int32
}

func (l *countingLocker) Lock() {
	l.reached.Add(1)
	l.Mutex.Lock()
}

var _ = Describe("GetOrLoad", func() {
	var (
		c  *gocache.Cache
		mu *countingLocker
	)
	BeforeEach(func() {
		c = cache.New(fmt.Sprintf("getorload-%d", GinkgoParallelProcess()), time.Minute, time.Minute)
		mu = &countingLocker{}
	})

	// queue starts one caller whose load blocks until release is closed, then waiters more callers, and returns once
	// all of them wait behind that load; results collects every caller's value and error.
	type result struct {
		v   string
		err error
	}
	queue := func(first func() (string, error), waiters int, later func() (string, error)) (release chan struct{}, results chan result) {
		release = make(chan struct{})
		results = make(chan result, waiters+1)
		started := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			v, err := cache.GetOrLoad(c, mu, "k", func() (string, error) {
				close(started)
				<-release
				return first()
			})
			results <- result{v, err}
		}()
		Eventually(started).Should(BeClosed())
		for range waiters {
			go func() {
				defer GinkgoRecover()
				v, err := cache.GetOrLoad(c, mu, "k", later)
				results <- result{v, err}
			}()
		}
		Eventually(mu.reached.Load).Should(BeEquivalentTo(waiters + 1))
		return release, results
	}

	It("hands a failed load's error to the callers that waited for it, without loading again", func() {
		var loads atomic.Int32
		unreachable := errors.New("calling listServiceOfferings: EOF")
		release, results := queue(func() (string, error) { loads.Add(1); return "", unreachable }, 9,
			func() (string, error) { loads.Add(1); return "", unreachable })
		close(release)
		for range 10 {
			var r result
			Eventually(results).Should(Receive(&r))
			Expect(r.err).To(MatchError(unreachable))
		}
		Expect(loads.Load()).To(BeEquivalentTo(1))
	})

	It("loads again for a caller that arrives after the failure", func() {
		var loads atomic.Int32
		_, err := cache.GetOrLoad(c, mu, "k", func() (string, error) { loads.Add(1); return "", errors.New("EOF") })
		Expect(err).To(HaveOccurred())
		v, err := cache.GetOrLoad(c, mu, "k", func() (string, error) { loads.Add(1); return "catalog", nil })
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal("catalog"))
		Expect(loads.Load()).To(BeEquivalentTo(2))
	})

	It("does not hand on a failure of the loading caller's own context", func() {
		var loads atomic.Int32
		release, results := queue(func() (string, error) { loads.Add(1); return "", fmt.Errorf("listing: %w", context.Canceled) }, 3,
			func() (string, error) { loads.Add(1); return "catalog", nil })
		close(release)
		var failed, served int
		for range 4 {
			var r result
			Eventually(results).Should(Receive(&r))
			if r.err != nil {
				Expect(r.err).To(MatchError(context.Canceled))
				failed++
			} else {
				Expect(r.v).To(Equal("catalog"))
				served++
			}
		}
		Expect([]int{failed, served}).To(Equal([]int{1, 3}))
		// One waiter loads again; the others find its value cached.
		Expect(loads.Load()).To(BeEquivalentTo(2))
	})
})
