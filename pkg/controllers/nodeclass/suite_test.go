package nodeclass_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gocache "github.com/patrickmn/go-cache"
	clock "k8s.io/utils/clock/testing"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/diskoffering"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

const catalogYAML = `
accounts:
- name: karpenter
  apiKey: test-api-key
  secretKey: test-secret-key
- name: admin
  rootAdmin: true
  apiKey: admin-api-key
  secretKey: admin-secret-key
zones:
- name: zone-a
- name: zone-b
- name: zone-c
  disabled: true
- name: zone-sg
  securityGroupsEnabled: true
networks:
- name: net-a
  zone: zone-a
- name: net-a-extra
  zone: zone-a
- name: net-b
  zone: zone-b
- name: net-sg
  zone: zone-sg
templates:
- name: ubuntu-24.04
  zones: [zone-a, zone-b, zone-sg]
- name: ubuntu-a-only
  zones: [zone-a]
- name: downloading
  zones: [zone-a, zone-b]
  notReady: true
- name: big
  zones: [zone-a, zone-b]
  sizeGiB: 9
serviceOfferings:
- name: small
  cpuNumber: 1
  cpuSpeed: 2000
  memoryMiB: 2048
- name: medium
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 4096
- name: sysvm
  cpuNumber: 1
  cpuSpeed: 500
  memoryMiB: 512
  system: true
affinityGroups:
- name: spread
  type: host anti-affinity
sshKeyPairs:
- name: ops
securityGroups:
- name: web
  tags: {role: web}
- name: db
- name: admins-only
  account: admin
diskOfferings:
- name: fixed-20
  diskSizeGiB: 20
- name: custom
  customized: true
- name: b-only
  diskSizeGiB: 10
  zones: [zone-b]
`

var (
	ctx        context.Context
	env        *coretest.Environment
	sim        *simulator.Server
	api        *cloudstack.Client
	fakeClock  *clock.FakeClock
	recorder   *coretest.EventRecorder
	controller *nodeclass.Controller
)

func TestNodeClass(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "NodeClass Controller")
}

var _ = BeforeSuite(func() {
	env = test.NewKubeEnvironment()

	cat, err := simulator.ParseCatalog([]byte(catalogYAML))
	Expect(err).ToNot(HaveOccurred())
	sim, err = simulator.New(cat, simulator.WithJobLatency(0))
	Expect(err).ToNot(HaveOccurred())
	// One attempt per read: the API-failure tests want the error now, not after backoff.
	api, err = cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: sim.APIKey(), SecretKey: sim.SecretKey(), RetryMaxAttempts: 1})
	Expect(err).ToNot(HaveOccurred())
	ctx = options.ToContext(context.Background(), &options.Options{ClusterName: "test-cluster", UserDataMaxLength: 32768})
	fakeClock = clock.NewFakeClock(time.Now())
})

var _ = AfterSuite(func() {
	sim.Close()
	Expect(env.Stop()).To(Succeed())
})

// newProviders gives every test empty caches, so that a test sees the simulator as it is now.
func newProviders() nodeclass.Providers {
	c := func() *gocache.Cache { return gocache.New(cache.DefaultTTL, cache.CleanupInterval) }
	return nodeclass.Providers{
		Zones:            zone.NewDefaultProvider(api, c()),
		Networks:         network.NewDefaultProvider(api, c()),
		Templates:        template.NewDefaultProvider(api, c()),
		ServiceOfferings: instancetype.NewDefaultProvider(api, cache.NewUnavailableOfferings(), nil),
		SSHKeyPairs:      sshkeypair.NewDefaultProvider(api, c()),
		AffinityGroups:   affinitygroup.NewDefaultProvider(api, c()),
		SecurityGroups:   securitygroup.NewDefaultProvider(api, c()),
		DiskOfferings:    diskoffering.NewDefaultProvider(api, c()),
	}
}

var _ = BeforeEach(func() {
	sim.ResetFaults()
	recorder = coretest.NewEventRecorder()
	controller = nodeclass.NewController(env.Client, recorder, fakeClock, newProviders())
})

var _ = AfterEach(func() {
	cleanUp()
})
