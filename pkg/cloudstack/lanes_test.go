package cloudstack_test

import (
	"context"
	"fmt"
	"sync"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

var _ = Describe("Rate limit lanes", func() {
	const deploys = 20
	var (
		ctx context.Context
		e   *env
		wg  sync.WaitGroup
	)
	BeforeEach(func() {
		ctx = context.Background()
		// 50 requests/s, no burst: the 20 deploys queue for 0.4 s.
		e = newEnv(nil, func(o *cloudstack.Options) { o.QPS, o.Burst = 50, 1 })
		params := make([]*csgo.DeployVirtualMachineParams, deploys)
		for i := range params {
			params[i] = e.deployParams(ctx, fmt.Sprintf("lane-%d", i))
		}
		e.sim.ResetCounts()
		for i := range params {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				_, _, err := e.client.DeployVM(ctx, params[i])
				Expect(err).NotTo(HaveOccurred())
			}()
		}
		// The queue has formed: the first deploy went out, the others wait for tokens.
		Eventually(func() int64 { return e.sim.Counts()["deployVirtualMachine"] }).Should(BeNumerically(">=", 1))
		DeferCleanup(wg.Wait)
	})

	It("sends a read before the deploys queued ahead of it", func() {
		_, err := e.client.ListZones(ctx)
		Expect(err).NotTo(HaveOccurred())
		// In one first-come queue the read would have waited for every deploy queued before it.
		Expect(e.sim.Counts()["deployVirtualMachine"]).To(BeNumerically("<=", 4))
	})

	It("keeps deploys going while reads flood the client", func() {
		const reads = 40
		var rg sync.WaitGroup
		for range reads {
			rg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer rg.Done()
				_, err := e.client.ListZones(ctx)
				Expect(err).NotTo(HaveOccurred())
			}()
		}
		rg.Wait()
		// One token in five goes to a deploy while both lanes wait.
		Expect(e.sim.Counts()["deployVirtualMachine"]).To(BeNumerically(">=", reads/5-2))
	})
})
