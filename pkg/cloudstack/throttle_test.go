package cloudstack_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Server API limit (api.throttling)", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })
	throttlingCatalog := func(limitMax int) *simulator.Catalog {
		c := loadCatalog()
		c.Settings.APIThrottling, c.Settings.APILimitMax, c.Settings.APILimitInterval = true, limitMax, 1
		return c
	}
	patient := func(o *cloudstack.Options) { o.ThrottleRetryTimeout = time.Minute }
	concurrently := func(n int, fn func(i int) error) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				errs[i] = fn(i)
			}()
		}
		wg.Wait()
		return errs
	}
	throttled := func(e *env, command string) float64 {
		families, err := e.registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, f := range families {
			if f.GetName() != "karpenter_cloudstack_api_throttled_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "command" && l.GetValue() == command {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}

	It("is reported by listCapabilities only when the server enforces it", func() {
		caps, err := newEnv(nil).client.Capabilities(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(caps.Apilimitmax).To(BeZero())
		caps, err = newEnv(throttlingCatalog(20)).client.Capabilities(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(caps.Apilimitmax).To(Equal(20))
		Expect(caps.Apilimitinterval).To(Equal(1))
	})

	It("refuses the account's requests beyond the limit with the plugin's 429 until the window ends, but never a root admin's", func() {
		c := throttlingCatalog(2)
		c.Settings.APILimitInterval = 60 // a window no loaded machine outlasts between two requests
		e := newEnv(c)
		admin, err := cloudstack.New(cloudstack.Options{APIURL: e.sim.URL(), APIKey: "sim-admin-api-key", SecretKey: "sim-admin-secret-key",
			RetryMaxAttempts: 1, ThrottleRetryTimeout: time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		for range 2 {
			_, err := e.client.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
		_, err = e.client.ListZones(ctx)
		Expect(cserrors.IsThrottled(err)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(MatchRegexp(`The given user has reached his/her account api limit, please retry after \d+ ms\.`)))
		Expect(cserrors.RetryAfter(err)).To(BeNumerically(">", 0))
		Expect(cserrors.RetryAfter(err)).To(BeNumerically("<=", time.Minute))
		for range 5 {
			_, err := admin.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("keeps a client configured far above the server's limit under it once it read the capabilities", func() {
		e := newEnv(throttlingCatalog(20), patient)
		_, err := e.client.Capabilities(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(concurrently(40, func(int) error { _, err := e.client.ListZones(ctx); return err })).To(HaveEach(BeNil()))
		// A request may meet a window the capabilities call opened; without following the limit, half of them would.
		Expect(throttled(e, "listZones")).To(BeNumerically("<=", 1))
	})

	It("sends a throttled deploy again when the server's window ends, so a burst never fails a launch", func() {
		e := newEnv(throttlingCatalog(4), patient)
		errs := concurrently(8, func(i int) error {
			_, _, err := e.client.DeployVM(ctx, e.deployParams(ctx, fmt.Sprintf("burst-%d", i)))
			return err
		})
		Expect(errs).To(HaveEach(BeNil()))
		Expect(throttled(e, "deployVirtualMachine")+throttled(e, "listZones")+throttled(e, "listNetworks")+
			throttled(e, "listTemplates")+throttled(e, "listServiceOfferings")).To(BeNumerically(">", 0), "the server refused some")
		Expect(e.sim.VirtualMachines()).To(HaveLen(8), "one VM per deploy, none twice")
	})
})
