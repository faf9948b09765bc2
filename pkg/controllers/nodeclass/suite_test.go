package nodeclass_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clock "k8s.io/utils/clock/testing"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
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
	csEnv      *test.Environment
	sim        *simulator.Server
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
	csEnv, err = test.NewEnvironment(test.WithCatalog(cat), test.WithJobLatency(0),
		// One attempt per read: the API-failure tests want the error now, not after backoff.
		test.WithClientOptions(func(o *cloudstack.Options) { o.RetryMaxAttempts = 1 }))
	Expect(err).ToNot(HaveOccurred())
	sim = csEnv.Simulator
	ctx = options.ToContext(context.Background(), csEnv.Options)
	fakeClock = clock.NewFakeClock(time.Now())
})

var _ = AfterSuite(func() {
	if csEnv != nil {
		csEnv.Close()
	}
	if env != nil { // nil when BeforeSuite failed
		Expect(env.Stop()).To(Succeed())
	}
})

// newProviders are the providers of a controller that just started: empty caches, so that a test sees the
// simulator as it is now.
func newProviders() nodeclass.Providers { return csEnv.Restarted().NodeClassProviders() }

var _ = BeforeEach(func() {
	Expect(csEnv.Reset()).To(Succeed())
	recorder = coretest.NewEventRecorder()
	controller = nodeclass.NewController(env.Client, recorder, fakeClock, csEnv.NodeClassProviders())
})

var _ = AfterEach(func() {
	cleanUp()
})
