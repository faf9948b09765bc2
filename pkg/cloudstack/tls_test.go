package cloudstack_test

import (
	"context"
	"net"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test/certs"
)

// authority is a throwaway certificate authority that signs server certificates for the specs.
type authority struct {
	*certs.Authority
	pem []byte
}

func newAuthority(name string) *authority {
	GinkgoHelper()
	a, err := certs.NewAuthority(name)
	Expect(err).NotTo(HaveOccurred())
	return &authority{Authority: a, pem: a.PEM}
}

// serverCert writes a server certificate signed by the authority, valid for the given loopback IPs and DNS names,
// and returns the certificate and key file paths.
func (a *authority) serverCert(ips []net.IP, dnsNames ...string) (string, string) {
	GinkgoHelper()
	certPath, keyPath, err := a.ServerCert(GinkgoT().TempDir(), ips, dnsNames...)
	Expect(err).NotTo(HaveOccurred())
	return certPath, keyPath
}

var loopback = certs.Loopback

// tlsSimulator serves the simulated management server over HTTPS on loopback with the given certificate.
func tlsSimulator(certPath, keyPath string) *simulator.Server {
	GinkgoHelper()
	sim, err := simulator.New(loadCatalog(), simulator.WithJobLatency(0), simulator.WithTLS(certPath, keyPath))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Close)
	Expect(sim.URL()).To(HavePrefix("https://127.0.0.1:"))
	return sim
}

func tlsClient(sim *simulator.Server, verify bool, caBundle []byte) *env {
	GinkgoHelper()
	reg := prometheus.NewRegistry()
	o := testOptions(sim, reg)
	o.VerifySSL, o.CABundle = verify, caBundle
	c, err := cloudstack.New(o)
	Expect(err).NotTo(HaveOccurred())
	return &env{sim: sim, client: c, registry: reg}
}

// attempts is how many requests of a command the client sent, whatever their outcome.
func attempts(e *env, command string) float64 {
	GinkgoHelper()
	families, err := e.registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	sum := 0.0
	for _, f := range families {
		if f.GetName() != "karpenter_cloudstack_api_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "command" && l.GetValue() == command {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

var _ = Describe("TLS to the management server", func() {
	ctx := context.Background()
	var ca *authority
	BeforeEach(func() { ca = newAuthority("private-ca") })

	It("verifies the server's certificate against the CA bundle and talks to it", func() {
		sim := tlsSimulator(ca.serverCert(loopback))
		e := tlsClient(sim, true, ca.pem)
		c := e.client
		zones, err := c.ListZones(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(zones).NotTo(BeEmpty())
		// A signed write and a job poll over the same verified connection pool.
		_, jobID, err := c.DeployVM(ctx, e.deployParams(ctx, "over-tls"))
		Expect(err).NotTo(HaveOccurred())
		result, err := c.WaitForJob(ctx, jobID)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(result)).To(ContainSubstring(`"name":"over-tls"`))
	})

	DescribeTable("refuses a certificate it cannot verify, with an error that says why",
		func(cert func() (string, string), bundle func() []byte, want string) {
			sim := tlsSimulator(cert())
			e := tlsClient(sim, true, bundle())
			_, err := e.client.ListZones(ctx)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(err.Error()).To(ContainSubstring("--cloudstack-ca-bundle"), "the error names the setting that fixes it")
			Expect(cserrors.IsTransient(err)).To(BeFalse(), "retrying cannot help")
			Expect(attempts(e, "listZones")).To(Equal(1.0), "a read is not retried when the certificate cannot be verified")
			Expect(sim.TotalRequests()).To(BeZero(), "no request reached the server")
		},
		Entry("signed by a CA that is not in the bundle",
			func() (string, string) { return newAuthority("someone-else").serverCert(loopback) },
			func() []byte { return ca.pem }, "certificate signed by unknown authority"),
		Entry("signed by the bundle's CA but not for this address",
			func() (string, string) { return ca.serverCert(nil, "cloudstack.example") },
			func() []byte { return ca.pem }, "127.0.0.1"),
		Entry("no bundle, a private CA", func() (string, string) { return ca.serverCert(loopback) },
			func() []byte { return nil }, "certificate signed by unknown authority"),
	)

	It("connects to a certificate it cannot verify only when verification is explicitly off", func() {
		sim := tlsSimulator(newAuthority("someone-else").serverCert(loopback))
		zones, err := tlsClient(sim, false, nil).client.ListZones(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(zones).NotTo(BeEmpty())
		Expect(strings.HasPrefix(sim.URL(), "https://")).To(BeTrue())
	})
})
