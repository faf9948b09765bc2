package test

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
	"sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Karpenter is what cmd/controller runs around the provider's parts, for suites that provision through Karpenter
// core against a kube environment: the CloudProvider, core's cluster state and provisioner, and the NodeClass
// controller, all over the parts of one Environment.
type Karpenter struct {
	// Context carries core's test options and the Environment's provider options.
	Context             context.Context
	CloudProvider       *cloudprovider.CloudProvider
	Cluster             *state.Cluster
	Provisioner         *provisioning.Provisioner
	NodeClassController *nodeclass.Controller
	Recorder            *coretest.EventRecorder
}

// NewKarpenter wires core and the provider's controllers around e, and sets the kube environment's clock to now.
func NewKarpenter(kube *coretest.Environment, e *Environment) *Karpenter {
	ctx := coreoptions.ToContext(context.Background(), coretest.Options())
	ctx = options.ToContext(ctx, e.Options)
	recorder := coretest.NewEventRecorder()
	cp := cloudprovider.New(kube.Client, recorder, e.InstanceTypeProvider, e.InstanceProvider, e.ZoneProvider)
	cluster := state.NewCluster(kube.Clock, kube.Client, cp)
	kube.Clock.SetTime(time.Now())
	return &Karpenter{
		Context:       ctx,
		CloudProvider: cp,
		Cluster:       cluster,
		Provisioner: provisioning.NewProvisioner(kube.Client, events.NewRecorder(&record.FakeRecorder{}), cp, cluster, kube.Clock,
			deviceallocation.NewController(kube.Client), virtualpods.NewVirtualPodCache(kube.Client)),
		NodeClassController: nodeclass.NewController(kube.Client, recorder, kube.Clock, e.NodeClassProviders()),
		Recorder:            recorder,
	}
}

// NodeClassProviders are the providers the NodeClass controller resolves with, as cmd/controller passes them.
func (e *Environment) NodeClassProviders() nodeclass.Providers {
	return nodeclass.Providers{
		Zones:            e.ZoneProvider,
		Networks:         e.NetworkProvider,
		Templates:        e.TemplateProvider,
		ServiceOfferings: e.InstanceTypeProvider,
		SSHKeyPairs:      e.SSHKeyPairProvider,
		AffinityGroups:   e.AffinityGroupProvider,
		SecurityGroups:   e.SecurityGroupProvider,
		DiskOfferings:    e.DiskOfferingProvider,
		Projects:         e.ProjectProvider,
	}
}

// NodeClass selects zone-a's isolated network, the general-purpose offerings and the amd64 template of the example
// catalog (by name: a user account cannot see the resource tags an administrator put on offerings), with a userData
// template that shows what the node is told.
func NodeClass() *v1.CloudStackNodeClass {
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

// NodePoolFor is a NodePool of the NodeClass.
func NodePoolFor(nodeClass *v1.CloudStackNodeClass) *karpv1.NodePool {
	return coretest.NodePool(karpv1.NodePool{Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
		NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: v1.NodeClassKind, Name: nodeClass.Name},
	}}}})
}

// PendingPod is an unschedulable pod requesting cpu.
func PendingPod(cpu string) *corev1.Pod {
	return coretest.UnschedulablePod(coretest.PodOptions{ResourceRequirements: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
	}})
}

// LiveVMs are the simulator's VMs that are neither gone nor in Error.
func (e *Environment) LiveVMs() []simulator.VM {
	return lo.Filter(e.Simulator.VirtualMachines(), func(vm simulator.VM, _ int) bool {
		return vm.State != "Destroyed" && vm.State != "Expunging" && vm.State != "Error"
	})
}

// ExpectNodeClassReconciled applies the NodeClass and resolves it in CloudStack with the real NodeClass controller,
// and returns it as stored.
func (k *Karpenter) ExpectNodeClassReconciled(kube *coretest.Environment, nodeClass *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	ginkgo.GinkgoHelper()
	expectations.ExpectApplied(k.Context, kube.Client, nodeClass)
	expectations.ExpectObjectReconciled(k.Context, kube.Client, k.NodeClassController, nodeClass)
	return expectations.ExpectExists(k.Context, kube.Client, nodeClass)
}
