package simulator_test

import (
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test/certs"
)

// selfSigned writes a throwaway certificate for 127.0.0.1 and returns the cert and key paths.
func selfSigned() (string, string) {
	ca, err := certs.NewAuthority("simulator")
	Expect(err).NotTo(HaveOccurred())
	certPath, keyPath, err := ca.ServerCert(GinkgoT().TempDir(), certs.Loopback)
	Expect(err).NotTo(HaveOccurred())
	return certPath, keyPath
}

var _ = Describe("TLS", func() {
	It("serves HTTPS that the SDK reaches with verifyssl=false", func() {
		cert, key := selfSigned()
		e := newEnv(nil, simulator.WithTLS(cert, key))
		Expect(strings.HasPrefix(e.sim.URL(), "https://127.0.0.1:")).To(BeTrue())
		cs := csgo.NewClient(e.sim.URL(), userKey, userSecret, false)
		l, err := cs.Zone.ListZones(cs.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(2))
	})
})
