package e2e_test

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/apis/v1alpha1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// demoOfferings are every service offering of the demo catalog.
var demoOfferings = []string{"k8s.tiny", "k8s.micro", "k8s.small", "k8s.medium", "k8s.large", "k8s.xlarge", "k8s.custom", "k8s.gpu-t4"}

// expectReady waits for the NodeClass to be Ready and returns it as the controller resolved it.
func expectReady(nc *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		g.Expect(readyCondition(g, nc)).NotTo(BeNil())
		g.Expect(readyCondition(g, nc).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
	}).Should(Succeed())
	return nc
}

// predicted lists the NodeClass's instance types with the provider's own code and defaults, as the controller does.
func predicted(nc *v1.CloudStackNodeClass) []*cloudprovider.InstanceType {
	GinkgoHelper()
	cat, err := simulator.LoadCatalog(filepath.Join("..", "pkg", "environment", "catalog.yaml"))
	Expect(err).NotTo(HaveOccurred())
	acct, _ := lo.Find(cat.Accounts, func(a simulator.Account) bool { return a.Name == environment.UserAccount })
	api, err := cloudstack.New(cloudstack.Options{APIURL: env.SimulatorURL, APIKey: acct.APIKey, SecretKey: acct.SecretKey})
	Expect(err).NotTo(HaveOccurred())
	its, err := instancetype.NewDefaultProvider(api, cache.NewUnavailableOfferings(), nil).List(ctx, nc)
	Expect(err).NotTo(HaveOccurred())
	return its
}

// offeringZones are the zones the instance type is offered in, sorted.
func offeringZones(it *cloudprovider.InstanceType) []string {
	var zones []string
	for _, o := range it.Offerings {
		zones = append(zones, o.Requirements.Get(corev1.LabelTopologyZone).Values()...)
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}

// pinnedPool is a NodePool that launches only the instance type.
func pinnedPool(name, nodeClassName, instanceType string) *karpv1.NodePool {
	return nodePool(name, nodeClassName, requirement(corev1.LabelInstanceTypeStable, instanceType))
}

var _ = Describe("Capacity", func() {
	It("gives every demo offering a node whose allocatable is at least the prediction, memory within 5%", func() {
		start := time.Now()
		nc := expectReady(createNodeClass(nodeClass("capacity", []string{"zone-a", "zone-b"}, demoOfferings...)))
		its := predicted(nc)
		Expect(len(its)).To(BeNumerically(">", 25), "fixed offerings, every customized rung and the GPU offering")
		var objs []client.Object
		pools := map[string]*cloudprovider.InstanceType{}
		// Place each node in a zone with room for it: all of them together need more cores than zone-a alone has,
		// and offerings of zone-a only (the GPU one) must not find it filled by offerings that fit elsewhere.
		room := map[string]int64{"zone-a": 128, "zone-b": 96}
		zoneOf := map[string]string{}
		bySize := slices.SortedFunc(slices.Values(its), func(a, b *cloudprovider.InstanceType) int {
			return cmp.Or(len(offeringZones(a))-len(offeringZones(b)), b.Capacity.Cpu().Cmp(*a.Capacity.Cpu()))
		})
		for _, it := range bySize {
			zones := offeringZones(it)
			best := zones[0]
			for _, z := range zones {
				if room[z] > room[best] {
					best = z
				}
			}
			room[best] -= it.Capacity.Cpu().Value()
			zoneOf[it.Name] = best
		}
		for i, it := range its {
			np := pinnedPool(fmt.Sprintf("cap-%d", i), nc.Name, it.Name)
			np.Spec.Template.Spec.Requirements = append(np.Spec.Template.Spec.Requirements, requirement(corev1.LabelTopologyZone, zoneOf[it.Name]))
			dep := deployment(np.Name, np.Name, 1, "100m", func(s *corev1.PodSpec) {
				s.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("64Mi")
			})
			create(np, dep)
			objs = append([]client.Object{dep, np}, objs...)
			pools[np.Name] = it
		}
		DeferCleanup(func() { cleanup(append(objs, nc)...) })
		for pool, it := range pools {
			claim := expectInitialized(pool, 1)[0]
			node := &corev1.Node{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: claim.Status.NodeName}, node)).To(Succeed())
			want := it.Allocatable()
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
				got, predicted := node.Status.Allocatable[name], want[name]
				Expect(got.Cmp(predicted)).To(BeNumerically(">=", 0), "%s of %s: node %s < predicted %s", name, it.Name, got.String(), predicted.String())
			}
			mem, predictedMem := node.Status.Allocatable.Memory().Value(), want.Memory().Value()
			Expect(float64(mem)).To(BeNumerically("<=", 1.05*float64(predictedMem)), "memory of %s: node %d, predicted %d", it.Name, mem, predictedMem)
			if gpus, ok := want[instancetype.ResourceNvidiaGPU]; ok {
				got := node.Status.Allocatable[instancetype.ResourceNvidiaGPU]
				Expect(got.Cmp(gpus)).To(BeZero(), "GPUs of %s", it.Name)
			}
			if it.Name == "k8s.tiny" || it.Name == "k8s.micro" {
				Expect(mem).To(BeNumerically(">", 512<<20), "%s is usable with default settings", it.Name)
			}
		}
		GinkgoWriter.Printf("%d offerings launched and checked in %s\n", len(its), elapsed(start))
	})

	It("serves an arm64 and an amd64 NodePool from one NodeClass with both templates", func() {
		nc := nodeClass("mixed", []string{"zone-b"}, "k8s.small")
		nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: template}, {Name: "ubuntu-24.04-kube-v1.36-arm64"}}
		createNodeClass(nc)
		arm := nodePool("mixed-arm", nc.Name)
		arm.Spec.Template.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{requirement(corev1.LabelArchStable, "arm64")}
		amd := nodePool("mixed-amd", nc.Name)
		armDep, amdDep := deployment("mixed-arm", arm.Name, 1, "500m"), deployment("mixed-amd", amd.Name, 1, "500m")
		create(arm, amd, armDep, amdDep)
		DeferCleanup(func() { cleanup(armDep, amdDep, arm, amd, nc) })
		for pool, arch := range map[string]string{arm.Name: "arm64", amd.Name: "amd64"} {
			claim := expectInitialized(pool, 1)[0]
			Expect(claim.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, arch))
			node := &corev1.Node{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: claim.Status.NodeName}, node)).To(Succeed())
			Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, arch), "the kubelet reports the VM's architecture")
			vm, ok := lo.Find(clusterVMs(), func(vm simulator.VM) bool { return vm.Name == claim.Name })
			Expect(ok).To(BeTrue())
			want := lo.Ternary(arch == "arm64", "ubuntu-24.04-kube-v1.36-arm64", template)
			Expect(vm.TemplateID).To(Equal(simulator.StableID("template", want)))
		}
	})

	It("serves each zone from its own zone-scoped offering of the same name", func() {
		nc := createNodeClass(nodeClass("zonal", []string{"zone-a", "zone-b"}, "k8s.zonal"))
		var objs []client.Object
		for _, zone := range []string{"zone-a", "zone-b"} {
			np := nodePool("zonal-"+zone, nc.Name, requirement(corev1.LabelTopologyZone, zone))
			dep := deployment(np.Name, np.Name, 1, "500m")
			create(np, dep)
			objs = append(objs, dep, np)
		}
		DeferCleanup(func() { cleanup(append(objs, nc)...) })
		for _, zone := range []string{"zone-a", "zone-b"} {
			claim := expectInitialized("zonal-"+zone, 1)[0]
			vm, ok := lo.Find(clusterVMs(), func(vm simulator.VM) bool { return vm.Name == claim.Name })
			Expect(ok).To(BeTrue())
			Expect(vm.ZoneName).To(Equal(zone))
			Expect(vm.ServiceOfferingName).To(Equal("k8s.zonal"))
			wantID := lo.Ternary(zone == "zone-a", simulator.StableID("serviceoffering", "k8s.zonal"), simulator.StableID("serviceoffering", "k8s.zonal@zone-b"))
			Expect(vm.ServiceOfferingID).To(Equal(wantID))
			Expect(claim.Labels).To(HaveKeyWithValue(v1.LabelServiceOfferingID, wantID))
		}
	})

	It("delivers plain userData byte for byte", func() {
		// Not a template and not gzip'ed: what an Ignition or Talos image reads as is. The kubelet flags are literal.
		const plain = "#!/bin/sh\n# plain userData, no compression\nINSTANCE_ID=$(cloud-init query v1.instance_id)\n" +
			"exec kubelet --provider-id=cloudstack:///${INSTANCE_ID} --register-with-taints=karpenter.sh/unregistered:NoExecute --max-pods=110\n"
		nc := nodeClass("plain", []string{"zone-a"}, "k8s.small")
		nc.Spec.UserData = lo.ToPtr(plain)
		nc.Spec.UserDataEncoding = v1.UserDataEncodingPlain
		createNodeClass(nc)
		np := nodePool("plain", nc.Name)
		dep := deployment("plain", np.Name, 1, "500m")
		create(np, dep)
		DeferCleanup(func() { cleanup(dep, np, nc) })
		claim := expectInitialized(np.Name, 1)[0]
		vm, ok := lo.Find(clusterVMs(), func(vm simulator.VM) bool { return vm.Name == claim.Name })
		Expect(ok).To(BeTrue())
		raw, err := base64.StdEncoding.DecodeString(vm.UserData)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).To(Equal(plain))
	})
})

// NodeOverlays need Karpenter's NodeOverlay feature gate, which the suite's chart values leave off: these specs run
// the controller with it on, and restore the chart's environment afterwards.
var _ = Describe("NodeOverlay", Ordered, func() {
	restart := func(gates string) {
		GinkgoHelper()
		Expect(env.KillController()).To(Succeed())
		restore := env.SetControllerValue("settings.featureGates", gates)
		Expect(env.StartController(ctx)).To(Succeed())
		DeferCleanup(func() {
			Expect(env.KillController()).To(Succeed())
			restore()
			Expect(env.StartController(ctx)).To(Succeed())
		})
	}
	BeforeAll(func() { restart("NodeOverlay=true") })

	It("launches a pod requesting an extended resource that a NodeOverlay adds on the overlaid offering", func() {
		nc := createNodeClass(nodeClass("overlay", []string{"zone-a"}, "k8s.small", "k8s.medium", "k8s.large"))
		np := nodePool("overlay", nc.Name)
		overlay := &v1alpha1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "widgets-on-large"},
			Spec: v1alpha1.NodeOverlaySpec{
				Requirements: []v1alpha1.NodeSelectorRequirement{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"k8s.large"}}},
				Capacity:     corev1.ResourceList{"example.com/widget": resource.MustParse("4")},
			},
		}
		dep := deployment("overlay", np.Name, 1, "100m", func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Requests["example.com/widget"] = resource.MustParse("1")
			s.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/widget": resource.MustParse("1")}
		})
		DeferCleanup(func() { cleanup(dep, overlay, np, nc) })
		// Karpenter's overlay controller evaluates a NodePool's instance types when an overlay or the NodePool
		// changes, not when the NodeClass's status does: create the overlay once the NodeClass resolved.
		expectReady(nc)
		create(np, overlay, dep)
		// The node never registers example.com/widget (no device plugin runs), so Karpenter keeps the NodeClaim
		// uninitialized; what matters here is which offering was launched for the pod.
		var claim karpv1.NodeClaim
		Eventually(func(g Gomega) {
			claims := nodeClaimsOf(np.Name)
			g.Expect(claims).To(HaveLen(1))
			claim = claims[0]
			g.Expect(claim.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsTrue()).To(BeTrue())
		}).Should(Succeed())
		Expect(claim.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "k8s.large"))
		widgets := claim.Status.Capacity["example.com/widget"]
		Expect(widgets.Value()).To(BeEquivalentTo(4))
	})

	It("launches the offering a price NodeOverlay made the cheapest", func() {
		nc := createNodeClass(nodeClass("price", []string{"zone-a"}, "k8s.small", "k8s.medium", "k8s.large"))
		np := nodePool("price", nc.Name)
		overlay := &v1alpha1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "medium-is-cheap"},
			Spec: v1alpha1.NodeOverlaySpec{
				Requirements: []v1alpha1.NodeSelectorRequirement{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"k8s.medium"}}},
				Price:        lo.ToPtr("0.00001"),
			},
		}
		dep := deployment("price", np.Name, 1, "500m")
		DeferCleanup(func() { cleanup(dep, overlay, np, nc) })
		// Karpenter's overlay controller evaluates a NodePool's instance types when an overlay or the NodePool
		// changes, not when the NodeClass's status does: create the overlay once the NodeClass resolved.
		expectReady(nc)
		create(np, overlay, dep)
		claim := expectInitialized(np.Name, 1)[0]
		Expect(claim.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "k8s.medium"), "k8s.small is cheaper without the overlay")
	})

})

func createNodeClass(nc *v1.CloudStackNodeClass) *v1.CloudStackNodeClass {
	GinkgoHelper()
	create(nc)
	return nc
}
