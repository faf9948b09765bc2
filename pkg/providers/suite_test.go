package providers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gocache "github.com/patrickmn/go-cache"
	"sigs.k8s.io/yaml"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func TestProviders(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Providers")
}

const catalogPath = "../../test/catalog/catalog.yaml"

// env is a simulator, a client of its user account, and every provider of this suite wired as the operator wires
// them, each with its own cache.
type env struct {
	sim            *simulator.Server
	api            cloudstack.API
	zones          *zone.DefaultProvider
	networks       *network.DefaultProvider
	templates      *template.DefaultProvider
	affinityGroup  *affinitygroup.DefaultProvider
	sshKeyPairs    *sshkeypair.DefaultProvider
	securityGroups *securitygroup.DefaultProvider
}

// testCatalog extends the shared catalog with what the selector tables need: zone tags, a disabled zone and a
// network that can no longer take VMs.
func testCatalog() *simulator.Catalog {
	c, err := simulator.LoadCatalog(catalogPath)
	Expect(err).NotTo(HaveOccurred())
	for i := range c.Zones {
		c.Zones[i].Tags = map[string]string{"region": "eu", "name": c.Zones[i].Name}
	}
	c.Zones = append(c.Zones, simulator.Zone{Name: "zone-off", Disabled: true, Tags: map[string]string{"region": "eu"}})
	c.Networks = append(c.Networks, simulator.Network{Name: "dead-a", Zone: "zone-a", Type: "Shared", State: "Destroy",
		CIDR: "10.200.1.0/24", Tags: map[string]string{"karpenter.sh/discovery": "demo"}})
	// simulator.New takes the catalog as is; a round trip through ParseCatalog fills in the added objects' defaults.
	data, err := yaml.Marshal(c)
	Expect(err).NotTo(HaveOccurred())
	c, err = simulator.ParseCatalog(data)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// newEnv starts a simulator; apiKey and secret select the account (empty: the catalog's tenant account).
func newEnv(apiKey, secret string) *env {
	sim, err := simulator.New(testCatalog(), simulator.WithJobLatency(0))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Close)
	if apiKey == "" {
		apiKey, secret = "sim-user-api-key", "sim-user-secret-key"
	}
	api, err := cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: apiKey, SecretKey: secret, HTTPTimeout: 10 * time.Second,
		QPS: 10000, Burst: 10000, RetryMaxAttempts: 2, RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond})
	Expect(err).NotTo(HaveOccurred())
	return &env{
		sim:            sim,
		api:            api,
		zones:          zone.NewDefaultProvider(api, gocache.New(cache.ZonesTTL, cache.CleanupInterval)),
		networks:       network.NewDefaultProvider(api, gocache.New(cache.NetworksTTL, cache.CleanupInterval)),
		templates:      template.NewDefaultProvider(api, gocache.New(cache.TemplatesTTL, cache.CleanupInterval)),
		affinityGroup:  affinitygroup.NewDefaultProvider(api, gocache.New(cache.AffinityGroupsTTL, cache.CleanupInterval)),
		sshKeyPairs:    sshkeypair.NewDefaultProvider(api, gocache.New(cache.SSHKeyPairsTTL, cache.CleanupInterval)),
		securityGroups: securitygroup.NewDefaultProvider(api, gocache.New(cache.SecurityGroupsTTL, cache.CleanupInterval)),
	}
}

// zoneID finds a zone's ID by name through the SDK, as tests are meant to.
func (e *env) zoneID(name string) string {
	zones, err := e.api.ListZones(context.Background())
	Expect(err).NotTo(HaveOccurred())
	for _, z := range zones {
		if z.Name == name {
			return z.Id
		}
	}
	Fail("no zone " + name)
	return ""
}
