package providers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
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

// user and admin are the suite's test environments, over testCatalog, as the tenant account and the root admin.
var user, admin *test.Environment

var _ = BeforeSuite(func() {
	for _, e := range []struct {
		into    **test.Environment
		account string
	}{{&user, test.UserAccount}, {&admin, "admin"}} {
		var err error
		*e.into, err = test.NewEnvironment(test.WithCatalog(testCatalog()), test.WithAccount(e.account), test.WithJobLatency(0),
			test.WithOptions(func(o *options.Options) { o.HTTPTimeout, o.APIQPS, o.APIBurst = 10*time.Second, 10000, 10000 }),
			test.WithClientOptions(func(o *cloudstack.Options) {
				o.RetryMaxAttempts, o.RetryBaseDelay, o.RetryMaxDelay = 2, time.Millisecond, time.Millisecond
			}))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup((*e.into).Close)
	}
})

// newEnv resets the environment of the account whose keys apiKey and secret are (empty: the catalog's tenant
// account) and hands out its providers, as the operator built them.
func newEnv(apiKey, secret string) *env {
	e := user
	if apiKey != "" {
		key, sec := admin.Keys("admin")
		Expect([]string{apiKey, secret}).To(Equal([]string{key, sec}), "the suite has environments for the tenant and the admin only")
		e = admin
	}
	Expect(e.Reset()).To(Succeed())
	return &env{
		sim:            e.Simulator,
		api:            e.API,
		zones:          e.ZoneProvider.(*zone.DefaultProvider),
		networks:       e.NetworkProvider.(*network.DefaultProvider),
		templates:      e.TemplateProvider.(*template.DefaultProvider),
		affinityGroup:  e.AffinityGroupProvider.(*affinitygroup.DefaultProvider),
		sshKeyPairs:    e.SSHKeyPairProvider.(*sshkeypair.DefaultProvider),
		securityGroups: e.SecurityGroupProvider.(*securitygroup.DefaultProvider),
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
