package cloudprovider_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/apis/v1alpha1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	"sigs.k8s.io/karpenter/pkg/controllers/dynamicresources/deviceallocation"
	"sigs.k8s.io/karpenter/pkg/controllers/nodeoverlay"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/state/virtualpods"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// resourceWidget is an extended resource only a NodeOverlay gives instance types.
const resourceWidget corev1.ResourceName = "example.com/widget"

var _ = Describe("NodeOverlay", func() {
	var nodeClass *v1.CloudStackNodeClass
	var nodePool *karpv1.NodePool
	var store *nodeoverlay.InstanceTypeStore
	var overlayCtrl *nodeoverlay.Controller
	var decorated corecloudprovider.CloudProvider
	var overlayCtx context.Context

	BeforeEach(func() {
		overlayCtx = coreoptions.ToContext(ctx, coretest.Options(coretest.OptionsFields{FeatureGates: coretest.FeatureGates{NodeOverlay: lo.ToPtr(true)}}))
		store = nodeoverlay.NewInstanceTypeStore()
		// Wired as cmd/controller does: Create sees the store, the scheduler the decorated provider, the overlay
		// controller the undecorated one.
		cp := cloudprovider.New(env.Client, recorder, csEnv.InstanceTypeProvider, csEnv.InstanceProvider, csEnv.ZoneProvider, cloudprovider.WithInstanceTypeStore(store))
		decorated = overlay.Decorate(cp, env.Client, store)
		cluster = state.NewCluster(env.Clock, env.Client, decorated)
		prov = provisioning.NewProvisioner(env.Client, events.NewRecorder(&record.FakeRecorder{}), decorated, cluster, env.Clock,
			deviceallocation.NewController(env.Client), virtualpods.NewVirtualPodCache(env.Client))
		overlayCtrl = nodeoverlay.NewController(env.Clock, env.Client, cp, store, cluster)

		nodeClass = expectNodeClassReconciled(newNodeClass())
		nodePool = nodePoolFor(nodeClass)
		ExpectApplied(overlayCtx, env.Client, nodePool)
	})

	applyOverlay := func(o *v1alpha1.NodeOverlay) {
		ExpectApplied(overlayCtx, env.Client, o)
		_, err := overlayCtrl.Reconcile(overlayCtx, reconcile.Request{})
		Expect(err).NotTo(HaveOccurred())
	}

	It("launches the overlaid offering for a pod that requests the extended resource the overlay adds", func() {
		applyOverlay(coretest.NodeOverlay(v1alpha1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "widgets-on-medium"},
			Spec: v1alpha1.NodeOverlaySpec{
				Requirements: []v1alpha1.NodeSelectorRequirement{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"medium"}}},
				Capacity:     corev1.ResourceList{resourceWidget: resource.MustParse("2")},
			},
		}))
		pod := coretest.UnschedulablePod(coretest.PodOptions{ResourceRequirements: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), resourceWidget: resource.MustParse("1")},
			Limits:   corev1.ResourceList{resourceWidget: resource.MustParse("1")},
		}})
		ExpectProvisioned(overlayCtx, env.Client, cluster, decorated, prov, pod)
		vms := liveVMs()
		Expect(vms).To(HaveLen(1), "Create must see the overlay's capacity, or it finds no instance type that fits")
		Expect(vms[0].ServiceOfferingName).To(Equal("medium"))
		nodeClaim := ExpectNodeClaims(overlayCtx, env.Client)[0]
		Expect(nodeClaim.Status.Capacity).To(HaveKeyWithValue(resourceWidget, resource.MustParse("2")))
	})

	It("launches the offering a price overlay made the cheapest", func() {
		applyOverlay(coretest.NodeOverlay(v1alpha1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "large-is-cheap"},
			Spec: v1alpha1.NodeOverlaySpec{
				Requirements: []v1alpha1.NodeSelectorRequirement{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"large"}}},
				Price:        lo.ToPtr("0.0001"),
			},
		}))
		pod := pendingPod("500m")
		ExpectProvisioned(overlayCtx, env.Client, cluster, decorated, prov, pod)
		vms := liveVMs()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].ServiceOfferingName).To(Equal("large"), "without the overlay the cheapest fitting offering is small")
	})
})

var _ = Describe("Architecture", func() {
	It("launches an arm64 NodePool from the aarch64 template of a mixed NodeClass and labels the NodeClaim", func() {
		nodeClass := newNodeClass()
		nodeClass.Spec.Zone = "zone-b"
		nodeClass.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "isolated-b"}}
		nodeClass.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-amd64"}, {Name: "ubuntu-24.04-kube-v1.36-arm64"}}
		nodeClass = expectNodeClassReconciled(nodeClass)
		Expect(nodeClass.Status.Templates).To(HaveLen(2), "one template per architecture in the zone")
		for _, arch := range []string{"arm64", "amd64"} {
			nodePool := nodePoolFor(nodeClass)
			nodePool.Spec.Template.Spec.Requirements = []karpv1.NodeSelectorRequirementWithMinValues{
				{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{arch}}}
			ExpectApplied(ctx, env.Client, nodePool)
			pod := pendingPod("500m")
			pod.Spec.NodeSelector = map[string]string{karpv1.NodePoolLabelKey: nodePool.Name}
			ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
			claim, ok := lo.Find(ExpectNodeClaims(ctx, env.Client), func(nc *karpv1.NodeClaim) bool {
				return nc.Labels[karpv1.NodePoolLabelKey] == nodePool.Name
			})
			Expect(ok).To(BeTrue())
			Expect(claim.Labels).To(HaveKeyWithValue(corev1.LabelArchStable, arch))
			vm, found := lo.Find(liveVMs(), func(vm simulator.VM) bool { return vm.Name == claim.Name })
			Expect(found).To(BeTrue())
			want := lo.Ternary(arch == "arm64", "ubuntu-24.04-kube-v1.36-arm64", "ubuntu-24.04-kube-v1.36-amd64")
			Expect(vm.TemplateID).To(Equal(simulator.StableID("template", want)))
			Expect(vm.Arch).To(Equal(lo.Ternary(arch == "arm64", "aarch64", "x86_64")))
		}
	})
})

var _ = Describe("Reservations in userData", func() {
	It("hands the kubelet the reservations the instance type's allocatable assumed", func() {
		nodeClass := newNodeClass()
		nodeClass.Spec.UserData = lo.ToPtr("#!/bin/sh\nkubelet {{ .KubeletArgs }}\n")
		nodeClass = expectNodeClassReconciled(nodeClass)
		ExpectApplied(ctx, env.Client, nodePoolFor(nodeClass))
		pod := pendingPod("3")
		ExpectProvisioned(ctx, env.Client, cluster, cloudProvider, prov, pod)
		vms := liveVMs()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].ServiceOfferingName).To(Equal("medium"))
		// medium is 4 vCPU and 8 GiB: 80m of CPU and 1844Mi of memory (docs/capacity.md).
		Expect(decodeUserData(vms[0].UserData)).To(ContainSubstring(" --kube-reserved=cpu=80m,ephemeral-storage=1Gi,memory=1844Mi "))
	})
})
