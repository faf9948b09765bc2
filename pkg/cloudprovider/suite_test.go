package cloudprovider_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/controllers/dynamicresources/deviceallocation"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/state/virtualpods"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
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
	recorder      *coretest.EventRecorder
)

func TestCloudProvider(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CloudProvider")
}

var _ = BeforeSuite(func() {
	env = test.NewKubeEnvironment()
})

var _ = AfterSuite(func() {
	Expect(env.Stop()).To(Succeed())
})

var _ = BeforeEach(func() {
	var err error
	// Jobs take a little time, so the poller sees pending jobs as it would with a real management server.
	csEnv, err = test.NewEnvironment(20 * time.Millisecond)
	Expect(err).ToNot(HaveOccurred())
	wire()
})

// wire builds the CloudProvider, the provisioner and the NodeClass controller around csEnv.
func wire() {
	ctx = coreoptions.ToContext(context.Background(), coretest.Options())
	ctx = options.ToContext(ctx, csEnv.Options)
	recorder = coretest.NewEventRecorder()
	cloudProvider = cloudprovider.New(env.Client, recorder, csEnv.InstanceTypeProvider, csEnv.InstanceProvider, csEnv.ZoneProvider)
	cluster = state.NewCluster(env.Clock, env.Client, cloudProvider)
	prov = provisioning.NewProvisioner(env.Client, events.NewRecorder(&record.FakeRecorder{}), cloudProvider, cluster, env.Clock,
		deviceallocation.NewController(env.Client), virtualpods.NewVirtualPodCache(env.Client))
	nodeClassCtrl = nodeclass.NewController(env.Client, recorder, env.Clock, nodeclass.Providers{
		Zones:            csEnv.ZoneProvider,
		Networks:         csEnv.NetworkProvider,
		Templates:        csEnv.TemplateProvider,
		ServiceOfferings: csEnv.InstanceTypeProvider,
		SSHKeyPairs:      csEnv.SSHKeyPairProvider,
		AffinityGroups:   csEnv.AffinityGroupProvider,
		SecurityGroups:   csEnv.SecurityGroupProvider,
	})
	env.Clock.SetTime(time.Now())
}

var _ = AfterEach(func() {
	ExpectCleanedUp(ctx, env.Client)
	csEnv.Close()
})

// newNodeClass selects zone-a's isolated network, the general-purpose offerings and the amd64 template of the
// example catalog (by name: a user account cannot see the resource tags an administrator put on offerings), with a userData template that shows what the node is told.
func newNodeClass() *v1.CloudStackNodeClass {
	return &v1.CloudStackNodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.CloudStackNodeClassSpec{
			Zone:                         "zone-a",
			NetworkSelectorTerms:         []v1.SelectorTerm{{Name: "isolated-a"}},
			ServiceOfferingSelectorTerms: []v1.SelectorTerm{{Name: "small"}, {Name: "medium"}, {Name: "large"}},
			TemplateSelectorTerms:        []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-amd64"}},
			UserData:                     lo.ToPtr("#cloud-config\nruncmd:\n- echo {{ .NodeClaimName }} {{ .RegisterWithTaints }}\n"),
			Tags:                         map[string]string{"team": "platform"},
		},
	}
}

// expectNodeClassReady applies the NodeClass and resolves it in CloudStack with the real NodeClass controller.
func expectNodeClassReconciled(nodeClass *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	ExpectApplied(ctx, env.Client, nodeClass)
	ExpectObjectReconciled(ctx, env.Client, nodeClassCtrl, nodeClass)
	return ExpectExists(ctx, env.Client, nodeClass)
}

func nodePoolFor(nodeClass *v1.CloudStackNodeClass) *karpv1.NodePool {
	return coretest.NodePool(karpv1.NodePool{Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
		NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClass.Name},
	}}}})
}
