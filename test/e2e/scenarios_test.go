package e2e_test

import (
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// onePerNode keeps the Deployment's pods on distinct nodes.
func onePerNode(app string) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		}}}}
	}
}

var _ = Describe("Scaling", Ordered, func() {
	nc := nodeClass("scaling", []string{"zone-a"}, "k8s.medium", "k8s.large")
	np := nodePool("scaling", nc.Name)
	dep := deployment("scaling", np.Name, 0, "1")
	BeforeAll(func() { create(nc, np, dep) })
	AfterAll(func() { cleanup(dep, np, nc) })

	It("runs 20 pods on launched, registered and initialized nodes whose VMs match the NodeClaims one to one", func() {
		scale(dep, 20)
		pods := expectPodsRunning(dep, 20)
		claims := expectInitialized(np.Name, len(lo.Uniq(lo.Map(pods, func(p corev1.Pod, _ int) string { return p.Spec.NodeName }))))
		nodeNames := lo.Map(claims, func(c karpv1.NodeClaim, _ int) string { return c.Status.NodeName })
		for _, p := range pods {
			// Bound by the real kube-scheduler onto a Karpenter node.
			Expect(nodeNames).To(ContainElement(p.Spec.NodeName))
		}
		expectVMsMatchNodeClaims(nc.Name)
	})

	It("deletes every VM of the cluster once scaled to zero", func() {
		scale(dep, 0)
		expectEmptyCluster()
	})
})

var _ = Describe("Topology spread", func() {
	It("launches VMs in both zones for pods spread over zones", func() {
		nc := nodeClass("spread", []string{"zone-a", "zone-b"}, "k8s.small", "k8s.medium")
		np := nodePool("spread", nc.Name)
		dep := deployment("spread", np.Name, 4, "1", func(s *corev1.PodSpec) {
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
			}}
		})
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		pods := expectPodsRunning(dep, 4)
		Expect(lo.Uniq(lo.Map(clusterVMs(), func(vm simulator.VM, _ int) string { return vm.ZoneName }))).To(ConsistOf("zone-a", "zone-b"))
		perZone := map[string]int{}
		for _, p := range pods {
			node := &corev1.Node{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, node)).To(Succeed())
			perZone[node.Labels[corev1.LabelTopologyZone]]++
		}
		Expect(perZone).To(Equal(map[string]int{"zone-a": 2, "zone-b": 2}))
		expectVMsMatchNodeClaims(nc.Name)
	})
})

var _ = Describe("Drift", func() {
	It("replaces nodes with VMs on the new template when the NodeClass's template terms change", func() {
		nc := nodeClass("drift", []string{"zone-a"}, "k8s.small")
		np := nodePool("drift", nc.Name)
		dep := deployment("drift", np.Name, 2, "1", onePerNode("drift"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		expectPodsRunning(dep, 2)
		old := lo.Map(expectInitialized(np.Name, 2), func(c karpv1.NodeClaim, _ int) string { return c.Name })

		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		patch := client.MergeFrom(nc.DeepCopy())
		nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: patchedTemplate}}
		Expect(env.Client.Patch(ctx, nc, patch)).To(Succeed())
		var patchedID string
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
			g.Expect(nc.Status.Templates).To(HaveLen(1))
			g.Expect(nc.Status.Templates[0].Name).To(Equal(patchedTemplate))
			patchedID = nc.Status.Templates[0].ID
		}).Should(Succeed())

		Eventually(func(g Gomega) {
			claims := nodeClaimsOf(np.Name)
			g.Expect(claims).To(HaveLen(2))
			for _, c := range claims {
				g.Expect(old).NotTo(ContainElement(c.Name), "NodeClaim %s was not replaced", c.Name)
			}
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(vms).To(HaveLen(2))
			for _, vm := range vms {
				g.Expect(vm.TemplateID).To(Equal(patchedID), "VM %s", vm.Name)
			}
		}).Should(Succeed())
		expectPodsRunning(dep, 2)
		expectInitialized(np.Name, 2)
		expectVMsMatchNodeClaims(nc.Name)
	})
})

var _ = Describe("Insufficient capacity", func() {
	It("launches on another offering without manual action when the cheapest one is exhausted in the zone", func() {
		Expect(env.Simulator.ResetCounts(ctx)).To(Succeed())
		// Every deploy of the cheapest offering in zone-a fails inside the job with 533, as a full zone does.
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{FailNextDeploys: &simulator.DeployFailureSetting{
			Count: 1000, Zone: "zone-a", Offering: "k8s.small"}})).To(Succeed())
		DeferCleanup(func() {
			Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{Reset: true})).To(Succeed())
		})
		nc := nodeClass("capacity", []string{"zone-a"}, "k8s.small", "k8s.medium")
		np := nodePool("capacity", nc.Name)
		dep := deployment("capacity", np.Name, 1, "1")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		expectPodsRunning(dep, 1)
		vms := clusterVMs()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].ServiceOfferingName).To(Equal("k8s.medium"))
		counts, err := env.Simulator.Counts(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(counts.Commands["deployVirtualMachine"].Count).To(BeNumerically(">=", 2), "the exhausted offering was never tried")
		expectVMsMatchNodeClaims(nc.Name)
	})
})

var _ = Describe("NodeClass deletion", func() {
	It("waits until the NodeClass's nodes are gone", func() {
		nc := nodeClass("deletion", []string{"zone-a"}, "k8s.small")
		np := nodePool("deletion", nc.Name)
		dep := deployment("deletion", np.Name, 1, "1")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		expectPodsRunning(dep, 1)
		expectInitialized(np.Name, 1)

		Expect(env.Client.Delete(ctx, nc)).To(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
			g.Expect(nc.DeletionTimestamp).NotTo(BeNil())
			g.Expect(nc.Finalizers).To(ContainElement(v1.TerminationFinalizer))
			g.Expect(clusterVMs()).To(HaveLen(1))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		Expect(env.Client.Delete(ctx, dep)).To(Succeed())
		Expect(env.Client.Delete(ctx, np)).To(Succeed())
		Eventually(func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc) }).Should(MatchError(ContainSubstring("not found")))
		Expect(clusterVMs()).To(BeEmpty())
	})
})

var _ = Describe("Controller killed during a launch", func() {
	It("creates no duplicate VM for any NodeClaim and leaks none after garbage collection", func() {
		// Slower jobs keep the launches in flight long enough to kill the controller in the middle of them.
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{JobLatency: &simulator.Duration{Duration: 4 * time.Second}})).To(Succeed())
		DeferCleanup(func() {
			Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{JobLatency: &simulator.Duration{Duration: jobLatency}})).To(Succeed())
		})
		nc := nodeClass("restart", []string{"zone-a"}, "k8s.small")
		np := nodePool("restart", nc.Name)
		dep := deployment("restart", np.Name, 10, "1", onePerNode("restart"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)

		Eventually(func(g Gomega) {
			g.Expect(len(clusterVMs())).To(BeNumerically(">=", 3))
		}).WithPolling(100 * time.Millisecond).Should(Succeed())
		launched := lo.CountBy(nodeClaimsOf(np.Name), func(c karpv1.NodeClaim) bool {
			return c.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsTrue()
		})
		Expect(launched).To(BeNumerically("<", 10), "every launch finished before the kill")
		Expect(env.KillController()).To(Succeed())
		GinkgoWriter.Printf("killed the controller with %d VMs deployed and %d NodeClaims launched\n", len(clusterVMs()), launched)
		time.Sleep(2 * time.Second)
		Expect(env.StartController(ctx)).To(Succeed())

		expectPodsRunning(dep, 10)
		claims := expectInitialized(np.Name, 10)
		expectVMsMatchNodeClaims(nc.Name)
		// Past the GC grace period, any VM without a NodeClaim would be gone; the NodeClaims' VMs must all remain.
		time.Sleep(25 * time.Second)
		expectVMsMatchNodeClaims(nc.Name)
		Expect(nodeClaimsOf(np.Name)).To(HaveLen(len(claims)))
	})
})

var _ = Describe("Broken NodeClass", func() {
	It("reports the missing template on the NodeClass and the NodePool, and creates no VM", func() {
		Expect(env.Simulator.ResetCounts(ctx)).To(Succeed())
		nc := nodeClass("broken", []string{"zone-a"}, "k8s.small")
		nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "no-such-template"}}
		np := nodePool("broken", nc.Name)
		dep := deployment("broken", np.Name, 1, "1")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)

		Eventually(func(g Gomega) {
			ready := readyCondition(nc)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Message).To(ContainSubstring("no-such-template"))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(np), np)).To(Succeed())
			cond := np.StatusConditions().Get(karpv1.ConditionTypeNodeClassReady)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(np.StatusConditions().Get(status.ConditionReady).IsFalse()).To(BeTrue())
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(nodeClaimsOf(np.Name)).To(BeEmpty())
			g.Expect(clusterVMs()).To(BeEmpty())
			counts, err := env.Simulator.Counts(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(counts.Commands["deployVirtualMachine"].Count).To(BeZero())
		}).WithTimeout(15 * time.Second).Should(Succeed())
	})
})
