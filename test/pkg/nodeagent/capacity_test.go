package nodeagent_test

import (
	"context"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

// kubeletArgsUserData is the bootstrap contract's minimal userData: the kubelet flags the provider renders.
const kubeletArgsUserData = "#!/bin/sh\nexec kubelet {{ shellquote .KubeletArgsList }}\n"

// The node agent reads what the provider rendered and computes allocatable as the kubelet does; for every instance
// type of the demo catalog (fixed, each customized rung, GPU) that must equal the prediction when the VM's guest
// overhead is the one the provider assumes, and stay at or above it when the guest sees more.
var _ = Describe("capacity of every demo offering", func() {
	var its []*cloudprovider.InstanceType
	var specs instancetype.LaunchSpecs
	var nodeClass *v1.CloudStackNodeClass
	const templateGiB = 20

	BeforeEach(func() {
		ctx := context.Background()
		cat, err := simulator.LoadCatalog(filepath.Join("..", "environment", "catalog.yaml"))
		Expect(err).NotTo(HaveOccurred())
		e, err := test.NewEnvironment(test.WithCatalog(cat), test.WithAccount(environment.UserAccount), test.WithJobLatency(time.Millisecond))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(e.Close)
		provider := e.InstanceTypeProvider
		zones, err := e.API.ListZones(ctx)
		Expect(err).NotTo(HaveOccurred())
		nodeClass = &v1.CloudStackNodeClass{}
		nodeClass.Name = "capacity"
		nodeClass.Spec.UserData = lo.ToPtr(kubeletArgsUserData)
		var ids []string
		for _, z := range zones {
			ids = append(ids, z.Id)
			nodeClass.Status.Zones = append(nodeClass.Status.Zones, v1.Zone{ID: z.Id, Name: z.Name})
			nodeClass.Status.Networks = append(nodeClass.Status.Networks, v1.Network{ID: "net-" + z.Id, ZoneID: z.Id})
			nodeClass.Status.Templates = append(nodeClass.Status.Templates, v1.Template{ID: "t-" + z.Id, ZoneID: z.Id, Architecture: "amd64",
				Size: resource.NewQuantity(templateGiB<<30, resource.BinarySI)})
		}
		all := lo.Map(cat.ServiceOfferings, func(o simulator.ServiceOffering, _ int) v1.SelectorTerm { return v1.SelectorTerm{Name: o.Name} })
		nodeClass.Status.ServiceOfferings, err = provider.ResolveServiceOfferings(ctx, all, ids)
		Expect(err).NotTo(HaveOccurred())
		its, err = provider.List(ctx, nodeClass)
		Expect(err).NotTo(HaveOccurred())
		specs, err = provider.LaunchSpecs(ctx, nodeClass)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(its)).To(BeNumerically(">", 20), "fixed offerings, every rung of the customized ladder and the GPU offering")
	})

	// node is what the agent reports for a VM of the instance type whose guest loses guestOverheadPercent of memory.
	node := func(it *cloudprovider.InstanceType, guestOverheadPercent float64) *corev1.Node {
		launches := specs.For(it.Name, it.Offerings[0].Zone())
		Expect(launches).NotTo(BeEmpty())
		shape := launches[0].Shape()
		claim := &karpv1.NodeClaim{}
		claim.Name = "claim"
		encoded, err := bootstrap.Generate(nodeClass, bootstrap.NewValues("e2e", nodeClass, claim, shape), bootstrap.DefaultMaxLength)
		Expect(err).NotTo(HaveOccurred())
		text, err := nodeagent.DecodeUserData(encoded)
		Expect(err).NotTo(HaveOccurred())
		cfg, err := nodeagent.ParseKubeletConfig(text)
		Expect(err).NotTo(HaveOccurred())
		vm := simulator.VM{ID: "vm", Name: "vm", CPUNumber: shape.CPU, MemoryMiB: shape.MemoryMiB, RootDiskSizeGiB: templateGiB,
			GuestMemoryKiB: int64(float64(shape.MemoryMiB) * 1024 * (1 - guestOverheadPercent/100))}
		if gpus, ok := it.Capacity[instancetype.ResourceNvidiaGPU]; ok {
			vm.GPUCount = int(gpus.Value())
		}
		reg, err := nodeagent.NewRegistration(cfg, nodeagent.MetadataOf(vm))
		Expect(err).NotTo(HaveOccurred())
		return nodeagent.NewNode(vm, cfg, reg, time.Now())
	}

	It("reports exactly the predicted allocatable when the guest overhead is the assumed one", func() {
		for _, it := range its {
			n := node(it, instancetype.DefaultVMMemoryOverheadPercent)
			predicted := it.Allocatable()
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
				got, want := n.Status.Allocatable[name], predicted[name]
				Expect(got.Cmp(want)).To(BeZero(), "%s of %s: node %s, predicted %s", name, it.Name, got.String(), want.String())
			}
			// The guest's MemTotal is in KiB, the prediction rounds down to a MiB: at most 1 MiB apart, never below.
			diff := n.Status.Allocatable.Memory().Value() - predicted.Memory().Value()
			Expect(diff).To(BeNumerically(">=", 0), it.Name)
			Expect(diff).To(BeNumerically("<", 1<<20), it.Name)
			Expect(predicted.Memory().Value()).To(BeNumerically(">", 512<<20), "%s keeps usable memory", it.Name)
		}
	})

	It("reports at least the prediction, within 5% of memory, when the guest sees more", func() {
		for _, it := range its {
			n := node(it, 3)
			predicted := it.Allocatable()
			for name, q := range predicted {
				got := n.Status.Allocatable[name]
				Expect(got.Cmp(q)).To(BeNumerically(">=", 0), "%s of %s", name, it.Name)
			}
			Expect(float64(n.Status.Allocatable.Memory().Value())).To(BeNumerically("<=", 1.05*float64(predicted.Memory().Value())), it.Name)
		}
	})
})
