package e2e_test

import (
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
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
		// Counted by the zone of the VM each pod's node runs on (a node is named after its VM's hostname).
		vmByName := lo.KeyBy(clusterVMs(), func(vm simulator.VM) string { return vm.Name })
		perZone := map[string]int{}
		for _, p := range pods {
			perZone[vmByName[p.Spec.NodeName].ZoneName]++
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
		// zone-c is used by no other spec: the controller remembers the exhausted offering for 30 s
		// (settings.cacheTTLs.unavailableOfferings), which must not leak into specs that run after this one.
		const zone, cheapest = "zone-c", "k8s.small"
		before, err := env.Simulator.ExpungedVirtualMachines(ctx)
		Expect(err).NotTo(HaveOccurred())
		// Every deploy of the cheapest offering in the zone fails inside the job with 533, as a full zone does.
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{FailNextDeploys: &simulator.DeployFailureSetting{
			Count: 1000, Zone: zone, Offering: cheapest}})).To(Succeed())
		DeferCleanup(func() {
			Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{Reset: true})).To(Succeed())
		})
		nc := nodeClass("capacity", []string{zone}, cheapest, "k8s.medium")
		np := nodePool("capacity", nc.Name)
		dep := deployment("capacity", np.Name, 1, "1")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		expectPodsRunning(dep, 1)
		Eventually(func(g Gomega) {
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(vms).To(HaveLen(1), "the failed attempt must be destroyed, not left in Error")
			g.Expect(vms[0].ServiceOfferingName).To(Equal("k8s.medium"))
			g.Expect(vms[0].State).To(Equal(simulator.StateRunning))
		}).Should(Succeed())
		// The cheapest offering was really tried in that zone for this cluster, failed, and that VM is gone.
		after, err := env.Simulator.ExpungedVirtualMachines(ctx)
		Expect(err).NotTo(HaveOccurred())
		tried := lo.Filter(after[len(before):], func(vm simulator.VM, _ int) bool {
			return vm.ServiceOfferingName == cheapest && vm.ZoneName == zone && vm.Tags[v1.TagKeyNodePool] == np.Name
		})
		Expect(tried).NotTo(BeEmpty(), "no attempt on %s in %s was made and cleaned up", cheapest, zone)
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

		claim := nodeClaimsOf(np.Name)[0]
		Expect(env.Client.Delete(ctx, nc)).To(Succeed())
		// Proof that the controller saw the deletion and chose to wait (not just that it has not acted yet): its
		// event naming the NodeClaim, while the NodeClass, its finalizer and the VM are all still there.
		Eventually(func(g Gomega) {
			events := &corev1.EventList{}
			g.Expect(env.Client.List(ctx, events)).To(Succeed())
			g.Expect(lo.ContainsBy(events.Items, func(e corev1.Event) bool {
				return e.Reason == "WaitingOnNodeClaimTermination" && e.InvolvedObject.Name == nc.Name && strings.Contains(e.Message, claim.Name)
			})).To(BeTrue())
		}).Should(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.DeletionTimestamp).NotTo(BeNil())
		Expect(nc.Finalizers).To(ContainElement(v1.TerminationFinalizer))
		Expect(clusterVMs()).To(HaveLen(1))

		Expect(env.Client.Delete(ctx, dep)).To(Succeed())
		Expect(env.Client.Delete(ctx, np)).To(Succeed())
		Eventually(func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc) }).Should(MatchError(ContainSubstring("not found")))
		Expect(clusterVMs()).To(BeEmpty())
	})
})

var _ = Describe("Controller killed during a launch", func() {
	It("creates no duplicate VM for any NodeClaim, in either zone, and adopts the VMs launched before the kill", func() {
		// Slower jobs keep the launches in flight long enough to kill the controller in the middle of them. The
		// cheapest candidate (k8s.small in zone-a) is out of capacity for the first controller, which therefore
		// launches in zone-b. The restarted controller no longer remembers that, so its first choice for a retried
		// NodeClaim is zone-a, another network, where CloudStack's duplicate-hostname rule cannot stop a second
		// deploy: only the provider's own lookup of the VM launched before the kill does.
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{JobLatency: &simulator.Duration{Duration: 4 * time.Second},
			FailNextDeploys: &simulator.DeployFailureSetting{Count: 1000, Zone: "zone-a", Offering: "k8s.small"}})).To(Succeed())
		DeferCleanup(func() {
			Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{Reset: true})).To(Succeed())
			Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{JobLatency: &simulator.Duration{Duration: jobLatency}})).To(Succeed())
		})
		before, err := env.Simulator.ExpungedVirtualMachines(ctx)
		Expect(err).NotTo(HaveOccurred())
		nc := nodeClass("restart", []string{"zone-a", "zone-b"}, "k8s.small")
		np := nodePool("restart", nc.Name)
		dep := deployment("restart", np.Name, 10, "1", onePerNode("restart"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		// Restarted whatever happens below (cleanups run last-in first), so a failure here does not fail every spec
		// after it.
		DeferCleanup(func() { Expect(env.EnsureController(ctx)).To(Succeed()) })

		Eventually(func(g Gomega) {
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lo.CountBy(vms, func(vm simulator.VM) bool { return vm.ZoneName == "zone-b" })).To(BeNumerically(">=", 3))
		}).WithPolling(100 * time.Millisecond).Should(Succeed())
		Expect(env.KillController()).To(Succeed())
		killedAt := time.Now()
		// Nothing changes the NodeClaims now: some must have a VM deploying in zone-b but no providerID yet, the
		// launches the restarted controller has to adopt instead of deploying again.
		vms := clusterVMs()
		claims := nodeClaimsOf(np.Name)
		inFlight := lo.Filter(claims, func(c karpv1.NodeClaim, _ int) bool {
			return c.Status.ProviderID == "" && lo.ContainsBy(vms, func(vm simulator.VM) bool {
				// A deploy job in flight: the VM is Stopped, then Starting, until the job ends.
				return vm.ZoneName == "zone-b" && (vm.State == simulator.StateStopped || vm.State == simulator.StateStarting) && nodeClaimOfVM(vm) == c.Name
			})
		})
		GinkgoWriter.Printf("killed the controller with %d VMs and %d NodeClaims, %d launches in flight\n", len(vms), len(claims), len(inFlight))
		Expect(inFlight).NotTo(BeEmpty(), "no VM was deploying for a NodeClaim without providerID at the kill: the spec proves nothing")
		// Every NodeClaim that had a VM (not a failed one) when the controller died.
		hadVM := lo.SliceToMap(lo.Filter(vms, func(vm simulator.VM, _ int) bool { return vm.State != simulator.StateError }),
			func(vm simulator.VM) (string, bool) { return nodeClaimOfVM(vm), true })
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{Reset: true})).To(Succeed())
		Expect(env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{JobLatency: &simulator.Duration{Duration: jobLatency}})).To(Succeed())
		Expect(env.StartController(ctx)).To(Succeed())

		expectPodsRunning(dep, 10)
		expectInitialized(np.Name, 10)
		// A zone-a attempt that failed just before the kill may still be in Error: the restarted controller's
		// adoption or its garbage collector must destroy it.
		Eventually(func(g Gomega) {
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(lo.Filter(vms, func(vm simulator.VM, _ int) bool { return vm.State == simulator.StateError })).To(BeEmpty())
		}).Should(Succeed())
		expectVMsMatchNodeClaims(nc.Name)
		// Every VM deployed after the kill, live or already gone, is the first VM of its NodeClaim.
		after, err := env.Simulator.ExpungedVirtualMachines(ctx)
		Expect(err).NotTo(HaveOccurred())
		deployedAfter := lo.Filter(append(clusterVMs(), after[len(before):]...), func(vm simulator.VM, _ int) bool {
			return strings.HasPrefix(nodeClaimOfVM(vm), np.Name+"-") && vm.Created.After(killedAt)
		})
		for _, vm := range deployedAfter {
			Expect(hadVM).NotTo(HaveKey(nodeClaimOfVM(vm)), "NodeClaim %s had a VM at the kill and got a second one, %s in %s", nodeClaimOfVM(vm), vm.ID, vm.ZoneName)
		}
		// None at all is fine: every NodeClaim may have had its VM deploying at the kill.
		for name, n := range lo.CountValuesBy(deployedAfter, nodeClaimOfVM) {
			Expect(n).To(Equal(1), "NodeClaim %s got %d VMs after the kill", name, n)
		}
	})
})

var _ = Describe("Garbage collection", func() {
	It("destroys a leaked VM of this cluster and never one of another cluster in the same account", func() {
		nc := nodeClass("gc", []string{"zone-a"}, "k8s.small")
		create(nc)
		DeferCleanup(cleanup, nc)
		Eventually(func(g Gomega) { g.Expect(readyCondition(g, nc).IsTrue()).To(BeTrue()) }).Should(Succeed())
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		// Launched through the provider's own code for NodeClaims that never reach the API server: what a NodeClaim
		// deleted during its launch leaves behind. The other cluster shares the account but not the name.
		const otherCluster = "e2e-other"
		leaked, err := env.LaunchLeak(ctx, env.ClusterName, nc, "k8s.small", "gc-leaked-x7k2p")
		Expect(err).NotTo(HaveOccurred())
		foreign, err := env.LaunchLeak(ctx, otherCluster, nc, "k8s.small", "gc-foreign-q9w3z")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(env.DestroyVM(ctx, otherCluster, foreign)).To(Succeed()) })
		Expect(lo.Map(clusterVMs(), func(vm simulator.VM, _ int) string { return vm.ID })).To(ConsistOf(leaked))

		// Past the grace period (settings.gcGracePeriod), a restart makes the collector run at once instead of at
		// its next 2-minute tick.
		Eventually(func(g Gomega) {
			vm, ok := findVM(g, leaked)
			g.Expect(ok).To(BeTrue())
			g.Expect(time.Since(vm.Created)).To(BeNumerically(">", gcGracePeriod))
		}).Should(Succeed())
		DeferCleanup(func() { Expect(env.EnsureController(ctx)).To(Succeed()) })
		Expect(env.RestartController(ctx)).To(Succeed())
		Eventually(func(g Gomega) {
			vm, ok := findVM(g, leaked)
			g.Expect(!ok || vm.State == simulator.StateDestroyed || vm.State == simulator.StateExpunging).To(BeTrue(), "leaked VM is %s", vm.State)
		}).Should(Succeed())
		vm, ok := findVM(Default, foreign)
		Expect(ok).To(BeTrue(), "the other cluster's VM was destroyed")
		Expect(vm.State).To(Equal(simulator.StateRunning))
		Expect(clusterVMs()).To(BeEmpty())
	})
})

// nodeClaimOfVM is the NodeClaim a VM was deployed for: its tag once tagging is done (tags land when the tag job
// ends), else the display name the deploy carries.
func nodeClaimOfVM(vm simulator.VM) string {
	if name := vm.Tags[v1.TagKeyNodeClaim]; name != "" {
		return name
	}
	if vm.DisplayName != "" {
		return vm.DisplayName
	}
	return vm.Name
}

// findVM returns the simulator's VM of that ID unless it was expunged.
func findVM(g Gomega, id string) (simulator.VM, bool) {
	vms, err := env.Simulator.VirtualMachines(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	return lo.Find(vms, func(vm simulator.VM) bool { return vm.ID == id })
}

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
			ready := readyCondition(g, nc)
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
		expectNodePoolSkipped(np)
		Expect(nodeClaimsOf(np.Name)).To(BeEmpty())
		Expect(clusterVMs()).To(BeEmpty())
		counts, err := env.Simulator.Counts(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(counts.Commands["deployVirtualMachine"].Count).To(BeZero())
	})
})

// Kubelet flags for clusters with the CloudStack cloud-controller-manager: --cloud-provider=external makes the
// kubelet register with the uninitialized taint and wait for the CCM.
const (
	// ccmWithProviderIDUserData is the supported setup: the kubelet sets the providerID, the CCM keeps it.
	ccmWithProviderIDUserData = `#cloud-config
write_files:
  - path: /etc/default/kubelet
    content: |
      KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --cloud-provider=external --provider-id={{ .ProviderIDPrefix }}@INSTANCE_ID@
runcmd:
  - sed -i "s|@INSTANCE_ID@|$(cloud-init query v1.instance_id)|" /etc/default/kubelet
`
	// ccmOnlyUserData leaves the providerID to the CCM, which sets external-cloudstack://<uuid>.
	ccmOnlyUserData = `#cloud-config
write_files:
  - path: /etc/default/kubelet
    content: |
      KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --cloud-provider=external
`
)

// oneNodeWithUserData creates a NodeClass with that userData in zone-a, its NodePool and a one-pod Deployment, and
// cleans them up after the spec.
func oneNodeWithUserData(name, userData string) (*v1.CloudStackNodeClass, *karpv1.NodePool, *appsv1.Deployment) {
	GinkgoHelper()
	nc := nodeClass(name, []string{"zone-a"}, "k8s.small")
	nc.Spec.UserData = lo.ToPtr(userData)
	np := nodePool(name, nc.Name)
	dep := deployment(name, np.Name, 1, "1")
	create(nc, np, dep)
	DeferCleanup(cleanup, dep, np, nc)
	return nc, np, dep
}

var _ = Describe("Node registration with the CloudStack cloud-controller-manager", func() {
	BeforeEach(func() {
		env.EnableCCM(true)
		DeferCleanup(env.EnableCCM, false)
	})

	It("registers and initializes nodes whose kubelet sets the providerID from userData; the CCM keeps it and adds its labels", func() {
		nc, np, dep := oneNodeWithUserData("ccm-kubelet", ccmWithProviderIDUserData)
		pods := expectPodsRunning(dep, 1)
		claims := expectInitialized(np.Name, 1)
		vm, ok := vmOf(claims[0], clusterVMs())
		Expect(ok).To(BeTrue())
		node := &corev1.Node{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: pods[0].Spec.NodeName}, node)).To(Succeed())
		Expect(node.Spec.ProviderID).To(Equal(providerIDPrefix + vm.ID))
		Expect(node.Spec.Taints).NotTo(ContainElement(HaveField("Key", "node.cloudprovider.kubernetes.io/uninitialized")))
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelTopologyRegion, "zone-a"), "the CCM initialized the node")
		Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelInstanceTypeStable, "k8s.small"))
		expectVMsMatchNodeClaims(nc.Name)
	})

	It("refuses at once, on the NodeClaim and the Node, a node whose providerID the CCM set", func() {
		_, np, _ := oneNodeWithUserData("ccm-only", ccmOnlyUserData)
		var claim karpv1.NodeClaim
		Eventually(func(g Gomega) {
			claims := &karpv1.NodeClaimList{}
			g.Expect(env.Client.List(ctx, claims, client.MatchingLabels{karpv1.NodePoolLabelKey: np.Name})).To(Succeed())
			g.Expect(claims.Items).To(HaveLen(1))
			claim = claims.Items[0]
			events := &corev1.EventList{}
			g.Expect(env.Client.List(ctx, events)).To(Succeed())
			warned := lo.Filter(events.Items, func(e corev1.Event, _ int) bool {
				return e.Reason == "ProviderIDMismatch" && e.InvolvedObject.Kind == "NodeClaim" && e.InvolvedObject.Name == claim.Name
			})
			g.Expect(warned).NotTo(BeEmpty())
			g.Expect(warned[0].Type).To(Equal(corev1.EventTypeWarning))
			g.Expect(warned[0].Message).To(ContainSubstring("external-cloudstack://"))
			g.Expect(warned[0].Message).To(ContainSubstring("--provider-id="))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(claim.StatusConditions().Get(karpv1.ConditionTypeRegistered).IsTrue()).To(BeFalse())
	})
})
