package instance_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

const clusterName = test.ClusterName

// owner is this cluster (the test environment's); otherCluster shares its name and account (another cluster's
// kube-system UID).
var (
	owner        = test.Owner()
	otherCluster = instance.Owner{ClusterName: clusterName, ClusterID: "e2a9d7f4-1c3b-4f6e-8a20-7b5d9c4e1f32"}
)

const catalogYAML = `
settings:
  allowUserExpungeRecoverVm: true
accounts:
- name: karpenter
  apiKey: test-api-key
  secretKey: test-secret-key
- name: root
  rootAdmin: true
  apiKey: test-root-key
  secretKey: test-root-secret
- name: tenants-admin
  domainAdmin: true
  apiKey: test-domadmin-key
  secretKey: test-domadmin-secret
zones:
- name: zone-a
- name: zone-b
networks:
- name: net-a
  zone: zone-a
- name: net-a2
  zone: zone-a
- name: net-b
  zone: zone-b
- name: shared-a
  zone: zone-a
  type: Shared
templates:
- name: ubuntu
  zones: [zone-a, zone-b]
serviceOfferings:
- name: small
  cpuNumber: 1
  cpuSpeed: 2000
  memoryMiB: 1024
- name: medium
  cpuNumber: 2
  cpuSpeed: 2000
  memoryMiB: 4096
- name: custom
  customized: true
  minCpu: 1
  maxCpu: 8
  minMemoryMiB: 1024
  maxMemoryMiB: 16384
affinityGroups:
- name: spread
  type: host anti-affinity
sshKeyPairs:
- name: ops
diskOfferings:
- name: fixed-20
  diskSizeGiB: 20
- name: custom-disk
  customized: true
`

var (
	ctx           context.Context
	csEnv         *test.Environment
	sim           *simulator.Server
	api           *cloudstack.Client
	rootAPI       *cloudstack.Client // the root admin's client, for specs that act on every account's VMs
	unavailable   *cache.UnavailableOfferings
	instanceTypes *instancetype.DefaultProvider
	provider      *instance.DefaultProvider
)

func TestInstance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Instance Provider")
}

// environmentOptions are the suite's: jobs of 20 ms polled every 5 ms (backing off to 20 ms), and a price for small.
func environmentOptions(jobLatency time.Duration) []test.EnvironmentOption {
	return []test.EnvironmentOption{test.WithJobLatency(jobLatency),
		test.WithOptions(func(o *options.Options) { o.OfferingPrices = map[string]float64{"small": 0.01} }),
		test.WithClientOptions(func(o *cloudstack.Options) {
			o.JobPollInterval, o.JobPollMaxInterval = 5*time.Millisecond, 20*time.Millisecond
		})}
}

// suiteCatalog is catalogYAML, parsed.
func suiteCatalog() *simulator.Catalog {
	GinkgoHelper()
	cat, err := simulator.ParseCatalog([]byte(catalogYAML))
	Expect(err).NotTo(HaveOccurred())
	return cat
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	var err error
	csEnv, err = test.NewEnvironment(append(environmentOptions(20*time.Millisecond), test.WithCatalog(suiteCatalog()))...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(csEnv.Close)
	sim, api = csEnv.Simulator, csEnv.API
	rootAPI, err = csEnv.Client("root")
	Expect(err).NotTo(HaveOccurred())
})

// Every test starts from an empty cloud and a provider that remembers nothing.
var _ = BeforeEach(func() {
	Expect(csEnv.Reset()).To(Succeed())
	unavailable = csEnv.UnavailableOfferings
	instanceTypes = csEnv.InstanceTypeProvider.(*instancetype.DefaultProvider)
	provider = csEnv.InstanceProvider.(*instance.DefaultProvider)
})

func id(kind, name string) string { return simulator.StableID(kind, name) }

// nodeClass is a NodeClass resolved in both zones, as the NodeClass controller would leave it.
func nodeClass() *v1.CloudStackNodeClass {
	nc := &v1.CloudStackNodeClass{}
	nc.Name = "default"
	nc.Spec.Tags = map[string]string{"team": "platform"}
	for _, z := range []string{"zone-a", "zone-b"} {
		nc.Status.Zones = append(nc.Status.Zones, v1.Zone{ID: id("zone", z), Name: z})
		nc.Status.Templates = append(nc.Status.Templates, v1.Template{ID: id("template", "ubuntu"), Name: "ubuntu", ZoneID: id("zone", z), Architecture: "amd64"})
	}
	nc.Status.Networks = []v1.Network{
		{ID: id("network", "net-a2"), Name: "net-a2", ZoneID: id("zone", "zone-a")},
		{ID: id("network", "net-a"), Name: "net-a", ZoneID: id("zone", "zone-a")},
		{ID: id("network", "net-b"), Name: "net-b", ZoneID: id("zone", "zone-b")},
	}
	nc.Status.ServiceOfferings = []v1.ServiceOffering{{ID: id("serviceoffering", "small"), Name: "small"},
		{ID: id("serviceoffering", "medium"), Name: "medium"}, {ID: id("serviceoffering", "custom"), Name: "custom"}}
	nc.Status.AffinityGroups = []v1.AffinityGroup{{ID: id("affinitygroup", "spread"), Name: "spread"}}
	nc.Status.SSHKeyPair = "ops"
	return nc
}

func nodeClaim(name string, reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodeClaim {
	nc := &karpv1.NodeClaim{}
	nc.Name = name
	nc.Labels = map[string]string{karpv1.NodePoolLabelKey: "default"}
	nc.Spec.Requirements = reqs
	return nc
}

func req(key string, values ...string) karpv1.NodeSelectorRequirementWithMinValues {
	return karpv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

func listInstanceTypes(nc *v1.CloudStackNodeClass) []*cloudprovider.InstanceType {
	return listWith(instanceTypes, nc)
}

func listWith(p *instancetype.DefaultProvider, nc *v1.CloudStackNodeClass) []*cloudprovider.InstanceType {
	GinkgoHelper()
	its, err := p.List(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	return its
}

func simVM(vmID string) simulator.VM {
	for _, vm := range sim.VirtualMachines() {
		if vm.ID == vmID {
			return vm
		}
	}
	Fail("no VM " + vmID + " in the simulator")
	return simulator.VM{}
}

// vmState is the VM's state, or "" once the simulator has expunged it.
func vmState(vmID string) string {
	for _, vm := range sim.VirtualMachines() {
		if vm.ID == vmID {
			return vm.State
		}
	}
	return ""
}

func vmsInState(state string) []simulator.VM {
	var out []simulator.VM
	for _, vm := range sim.VirtualMachines() {
		if vm.State == state {
			out = append(out, vm)
		}
	}
	return out
}
