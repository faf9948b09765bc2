package instancetype_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// catalogYAML is the simulated cloud of these tests: two zones, fixed, customized, GPU, zone-restricted and system
// offerings, and tags that select and price offerings.
const catalogYAML = `
settings:
  allowUserExpungeRecoverVm: true
accounts:
- name: karpenter
  apiKey: test-api-key
  secretKey: test-secret-key
zones:
- name: zone-a
- name: zone-b
networks:
- name: net-a
  zone: zone-a
- name: net-b
  zone: zone-b
templates:
- name: ubuntu
  zones: [zone-a, zone-b]
  arch: x86_64
serviceOfferings:
- name: small
  cpuNumber: 1
  cpuSpeed: 2000
  memoryMiB: 1024
- name: Medium Instance
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 4096
  storageType: shared
  tags: {tier: general}
- name: large
  cpuNumber: 4
  cpuSpeed: 2000
  memoryMiB: 8192
  rootDiskGiB: 50
  hostTags: ssd
  tags: {tier: general, karpenter.k8s.cloudstack/price: "0.33"}
- name: gpu
  cpuNumber: 8
  cpuSpeed: 2000
  memoryMiB: 32768
  gpuCard: Tesla T4
  gpuCount: 1
  zones: [zone-b]
- name: zoned
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 2048
  zones: [zone-a]
- name: zonal
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 2048
  zones: [zone-a]
- name: zonal
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 2048
  zones: [zone-b]
  tags: {karpenter.k8s.cloudstack/price: "0.07"}
- name: zonal
  cpuNumber: 4
  cpuSpeed: 2000
  memoryMiB: 4096
  zones: [zone-b]
- name: custom
  customized: true
  minCpu: 2
  maxCpu: 12
  minMemoryMiB: 2048
  maxMemoryMiB: 32768
- name: system
  cpuNumber: 1
  cpuSpeed: 500
  memoryMiB: 512
  system: true
`

var (
	ctx         context.Context
	csEnv       *test.Environment
	sim         *simulator.Server
	api         *cloudstack.Client
	unavailable *cache.UnavailableOfferings
	provider    *instancetype.DefaultProvider
	zones       map[string]v1.Zone
)

func TestInstanceType(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "InstanceType Provider")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	cat, err := simulator.ParseCatalog([]byte(catalogYAML))
	Expect(err).NotTo(HaveOccurred())
	csEnv, err = test.NewEnvironment(test.WithCatalog(cat), test.WithJobLatency(10*time.Millisecond),
		test.WithOptions(func(o *options.Options) {
			o.OfferingPrices = map[string]float64{"small": 0.011, "custom-4c16g": 1.5}
			// No VM memory overhead, so that capacity reads as the offering's; the specs of the overhead set their own.
			o.VMMemoryOverheadPercent = 0
		}))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(csEnv.Close)
	sim, api = csEnv.Simulator, csEnv.API
	list, err := api.ListZones(ctx)
	Expect(err).NotTo(HaveOccurred())
	zones = map[string]v1.Zone{}
	for _, z := range list {
		zones[z.Name] = v1.Zone{ID: z.Id, Name: z.Name}
	}
	Expect(zones).To(HaveLen(2))
})

var _ = BeforeEach(func() {
	Expect(csEnv.Reset()).To(Succeed())
	unavailable = csEnv.UnavailableOfferings
	provider = csEnv.InstanceTypeProvider.(*instancetype.DefaultProvider)
})

// offeringID is the simulator's stable ID of a catalog offering.
func offeringID(name string) string { return simulator.StableID("serviceoffering", name) }

// nodeClass returns a NodeClass whose status holds the given zones and the offerings the terms resolve there, with
// one network and an amd64 template per zone, as the NodeClass controller would resolve them.
func nodeClass(zoneNames []string, terms ...v1.SelectorTerm) *v1.CloudStackNodeClass {
	nc := &v1.CloudStackNodeClass{}
	nc.Name = "default"
	nc.Spec.ServiceOfferingSelectorTerms = terms
	var ids []string
	for _, n := range zoneNames {
		z := zones[n]
		ids = append(ids, z.ID)
		nc.Status.Zones = append(nc.Status.Zones, z)
		nc.Status.Networks = append(nc.Status.Networks, v1.Network{ID: "net-" + z.ID, Name: "net", ZoneID: z.ID})
		nc.Status.Templates = append(nc.Status.Templates, v1.Template{ID: "tmpl-" + z.ID, Name: "ubuntu", ZoneID: z.ID, Architecture: "amd64"})
	}
	offerings, err := provider.ResolveServiceOfferings(ctx, terms, ids)
	Expect(err).NotTo(HaveOccurred())
	nc.Status.ServiceOfferings = offerings
	return nc
}
