package operator

import (
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

func TestOperator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Operator")
}

var _ = Describe("CloudStack readiness check", func() {
	var sim *simulator.Server

	BeforeEach(func() {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).ToNot(HaveOccurred())
		sim, err = simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(sim.Close)
	})

	newCheckTTL := func(secret string, ttl time.Duration) *cloudStackCheck {
		api, err := cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: sim.APIKey(), SecretKey: secret, RetryMaxAttempts: 1})
		Expect(err).ToNot(HaveOccurred())
		return newCloudStackCheck(api, cache.New("readiness", ttl, time.Minute))
	}
	newCheck := func(secret string) *cloudStackCheck { return newCheckTTL(secret, cache.ReadinessTTL) }

	It("passes with working credentials and asks CloudStack at most once per TTL", func() {
		check := newCheck(sim.SecretKey())
		for range 5 {
			Expect(check.Check(httptest.NewRequest("GET", "/readyz", nil))).To(Succeed())
		}
		Expect(sim.Counts()["listCapabilities"]).To(BeEquivalentTo(1))
	})

	It("fails while CloudStack rejects the credentials, without the secret in the error", func() {
		err := newCheck("not-the-secret").Check(httptest.NewRequest("GET", "/readyz", nil))
		Expect(cserrors.IsUnauthorized(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).ToNot(ContainSubstring("not-the-secret"))
	})

	It("fails while CloudStack is unreachable, and recovers once the cached result expires", func() {
		// A short TTL stands for cache.ReadinessTTL passing.
		check := newCheckTTL(sim.SecretKey(), 300*time.Millisecond)
		sim.DropNextConnections(1)
		Expect(check.Check(httptest.NewRequest("GET", "/readyz", nil))).ToNot(Succeed())
		Expect(check.Check(httptest.NewRequest("GET", "/readyz", nil))).ToNot(Succeed(), "the failure is cached too")
		Eventually(func() error { return check.Check(httptest.NewRequest("GET", "/readyz", nil)) }).
			WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	})
})
