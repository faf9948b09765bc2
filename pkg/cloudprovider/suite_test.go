package cloudprovider_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

var (
	ctx           context.Context
	env           *coretest.Environment
	csEnv         *test.Environment
	cloudProvider *cloudprovider.CloudProvider
	cluster       *state.Cluster
	prov          *provisioning.Provisioner
	nodeClassCtrl *nodeclass.Controller
	karpenter     *test.Karpenter
	recorder      *coretest.EventRecorder
)

func TestCloudProvider(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CloudProvider")
}

// shared is the suite's CloudStack environment; a spec that needs another catalog builds its own into csEnv.
var shared *test.Environment

var _ = BeforeSuite(func() {
	env = test.NewKubeEnvironment()
	shared = lo.Must(test.NewEnvironment())
})

var _ = AfterSuite(func() {
	if shared != nil {
		shared.Close()
	}
	if env != nil { // nil when BeforeSuite failed
		Expect(env.Stop()).To(Succeed())
	}
})

var _ = BeforeEach(func() {
	csEnv = shared
	Expect(csEnv.Reset()).To(Succeed())
	wire()
})

// wire builds the CloudProvider, the provisioner and the NodeClass controller around csEnv, as cmd/controller does.
func wire() {
	k := test.NewKarpenter(env, csEnv)
	karpenter = k
	ctx, recorder, cloudProvider, cluster, prov, nodeClassCtrl = k.Context, k.Recorder, k.CloudProvider, k.Cluster, k.Provisioner, k.NodeClassController
}

var _ = AfterEach(func() {
	ExpectCleanedUp(ctx, env.Client)
})

func newNodeClass() *v1.CloudStackNodeClass { return test.NodeClass() }

// expectNodeClassReconciled applies the NodeClass and resolves it with the real NodeClass controller.
func expectNodeClassReconciled(nodeClass *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	return karpenter.ExpectNodeClassReconciled(env, nodeClass)
}

func nodePoolFor(nodeClass *v1.CloudStackNodeClass) *karpv1.NodePool {
	return test.NodePoolFor(nodeClass)
}

func liveVMs() []simulator.VM { return csEnv.LiveVMs() }

func pendingPod(cpu string) *corev1.Pod { return test.PendingPod(cpu) }
