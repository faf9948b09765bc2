package garbagecollection_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// The garbage collector is tested against VMs launched through Karpenter core and the real CloudProvider, as the
// controller runs it (test.NewKarpenter).
var (
	ctx           context.Context
	env           *coretest.Environment
	csEnv         *test.Environment
	cloudProvider *cloudprovider.CloudProvider
	cluster       *state.Cluster
	prov          *provisioning.Provisioner
	nodeClassCtrl *nodeclass.Controller
	karpenter     *test.Karpenter
)

func TestGarbageCollection(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "GarbageCollection")
}

var _ = test.NewSuite(func(s *test.Suite) {
	env, csEnv, karpenter = s.Kube, s.CloudStack, s.Karpenter
	ctx, cloudProvider, cluster, prov, nodeClassCtrl = s.Context, s.CloudProvider, s.Cluster, s.Provisioner, s.NodeClassController
})

// expectNodeClassReconciled applies the NodeClass and resolves it with the real NodeClass controller.
func expectNodeClassReconciled(nodeClass *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	return karpenter.ExpectNodeClassReconciled(env, nodeClass)
}

func newNodeClass() *v1.CloudStackNodeClass { return test.NodeClass() }

func nodePoolFor(nodeClass *v1.CloudStackNodeClass) *karpv1.NodePool {
	return test.NodePoolFor(nodeClass)
}

func liveVMs() []simulator.VM { return csEnv.LiveVMs() }

func pendingPod(cpu string) *corev1.Pod { return test.PendingPod(cpu) }
