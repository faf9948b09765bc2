package cloudstack_test

import (
	"context"
	"testing"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func TestCloudStack(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CloudStack client")
}

const (
	catalogPath = "../../test/catalog/catalog.yaml"
	// The user account of the catalog: a tenant, as the provider runs in production (not a root admin).
	userKey    = "sim-user-api-key"
	userSecret = "sim-user-secret-key"
)

// env is a simulator and a client of the user account with fast polls and retries, so tests wait on counts.
type env struct {
	sim      *simulator.Server
	client   *cloudstack.Client
	registry *prometheus.Registry
}

func loadCatalog() *simulator.Catalog {
	c, err := simulator.LoadCatalog(catalogPath)
	Expect(err).NotTo(HaveOccurred())
	return c
}

func testOptions(sim *simulator.Server, reg prometheus.Registerer) cloudstack.Options {
	return cloudstack.Options{
		APIURL: sim.URL(), APIKey: userKey, SecretKey: userSecret,
		HTTPTimeout: 10 * time.Second, QPS: 10000, Burst: 10000,
		JobPollInterval: 2 * time.Millisecond, JobPollMaxInterval: 10 * time.Millisecond, JobTimeout: 30 * time.Second,
		RetryMaxAttempts: 3, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 4 * time.Millisecond,
		ThrottleRetryTimeout: 20 * time.Millisecond, Registerer: reg,
	}
}

func newEnv(c *simulator.Catalog, mutate ...func(*cloudstack.Options)) *env {
	if c == nil {
		c = loadCatalog()
	}
	sim, err := simulator.New(c, simulator.WithJobLatency(0))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Close)
	reg := prometheus.NewRegistry()
	o := testOptions(sim, reg)
	for _, m := range mutate {
		m(&o)
	}
	client, err := cloudstack.New(o)
	Expect(err).NotTo(HaveOccurred())
	return &env{sim: sim, client: client, registry: reg}
}

func (e *env) zoneID(ctx context.Context, name string) string {
	zones, err := e.client.ListZones(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, z := range zones {
		if z.Name == name {
			return z.Id
		}
	}
	Fail("no zone " + name)
	return ""
}

func (e *env) offeringID(ctx context.Context, name string) string {
	offerings, err := e.client.ListServiceOfferings(ctx)
	Expect(err).NotTo(HaveOccurred())
	for _, o := range offerings {
		if o.Name == name {
			return o.Id
		}
	}
	Fail("no offering " + name)
	return ""
}

func (e *env) templateID(ctx context.Context, zoneID, name string) string {
	templates, err := e.client.ListTemplates(ctx, zoneID)
	Expect(err).NotTo(HaveOccurred())
	for _, t := range templates {
		if t.Name == name {
			return t.Id
		}
	}
	Fail("no template " + name)
	return ""
}

// deployParams are the parameters of a small VM in zone-a, as the instance provider builds them.
func (e *env) deployParams(ctx context.Context, name string) *csgo.DeployVirtualMachineParams {
	zoneID := e.zoneID(ctx, "zone-a")
	p := &csgo.DeployVirtualMachineParams{}
	p.SetZoneid(zoneID)
	p.SetServiceofferingid(e.offeringID(ctx, "small"))
	p.SetTemplateid(e.templateID(ctx, zoneID, "ubuntu-24.04-kube-v1.36-amd64"))
	p.SetName(name)
	return p
}

// deploy launches a VM and waits for it.
func (e *env) deploy(ctx context.Context, name string) string {
	vmID, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, name))
	Expect(err).NotTo(HaveOccurred())
	_, err = e.client.WaitForJob(ctx, jobID)
	Expect(err).NotTo(HaveOccurred())
	return vmID
}

// requests reads karpenter_cloudstack_api_requests_total{command,code} from the client's registry.
func requests(e *env, command, code string) float64 {
	return counter(e, "karpenter_cloudstack_api_requests_total", command, code)
}

// counter is the value of a {command, code} counter of the client's registry, 0 when absent.
func counter(e *env, name, command, code string) float64 {
	families, err := e.registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["command"] == command && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
