package e2e_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/scheduling"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

const (
	namespace = "e2e"
	// template and patchedTemplate are the catalog's two amd64 images; drift rolls from one to the other.
	template        = "ubuntu-24.04-kube-v1.36"
	patchedTemplate = "ubuntu-24.04-kube-v1.36-patched"
)

// userData follows the bootstrap contract (docs/bootstrap.md): the kubelet flags in the rendered cloud-init are
// what the node agent reads, as a real node's kubelet would.
// The flags reach the kubelet through a drop-in of its systemd unit, which Debian- and RHEL-family images both read.
const userData = `#cloud-config
write_files:
  - path: /etc/systemd/system/kubelet.service.d/20-karpenter.conf
    content: |
      [Service]
      EnvironmentFile=/etc/kubernetes/karpenter-kubelet.env
  - path: /etc/kubernetes/karpenter-kubelet.env
    content: |
      KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --provider-id={{ .ProviderIDPrefix }}@INSTANCE_ID@
runcmd:
  - sed -i "s|@INSTANCE_ID@|$(cloud-init query v1.instance_id)|" /etc/kubernetes/karpenter-kubelet.env
  - systemctl daemon-reload
  - kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-unsafe-skip-ca-verification
`

// nodeClass is a NodeClass for the given zones on the catalog's k8s-role=nodes networks.
func nodeClass(name string, zones []string, offerings ...string) *v1.CloudStackNodeClass {
	nc := &v1.CloudStackNodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.CloudStackNodeClassSpec{
			NetworkSelectorTerms:         []v1.SelectorTerm{{Tags: map[string]string{"k8s-role": "nodes"}}},
			ServiceOfferingSelectorTerms: lo.Map(offerings, func(o string, _ int) v1.SelectorTerm { return v1.SelectorTerm{Name: o} }),
			TemplateSelectorTerms:        []v1.SelectorTerm{{Name: template}},
			UserData:                     lo.ToPtr(userData),
			Tags:                         map[string]string{"suite": "e2e"},
		},
	}
	if len(zones) == 1 {
		nc.Spec.Zone = zones[0]
	} else {
		nc.Spec.ZoneSelectorTerms = lo.Map(zones, func(z string, _ int) v1.SelectorTerm { return v1.SelectorTerm{Name: z} })
	}
	return nc
}

// nodePool consolidates empty or underused nodes at once, so scale-downs finish quickly.
func nodePool(name, nodeClassName string, reqs ...karpv1.NodeSelectorRequirementWithMinValues) *karpv1.NodePool {
	return &karpv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: karpv1.NodePoolSpec{
			Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClassName},
				Requirements: append([]karpv1.NodeSelectorRequirementWithMinValues{
					{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}},
				}, reqs...),
				ExpireAfter: karpv1.MustParseNillableDuration("Never"),
			}},
			Disruption: karpv1.Disruption{
				ConsolidationPolicy: karpv1.ConsolidationPolicyWhenEmptyOrUnderutilized,
				ConsolidateAfter:    karpv1.MustParseNillableDuration("0s"),
				Budgets:             []karpv1.Budget{{Nodes: "100%"}},
			},
		},
	}
}

func requirement(key string, values ...string) karpv1.NodeSelectorRequirementWithMinValues {
	return karpv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

// deployment runs pause pods of the given CPU request on the NodePool's nodes only.
func deployment(name, pool string, replicas int32, cpu string, mutate ...func(*corev1.PodSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{
		TerminationGracePeriodSeconds: lo.ToPtr[int64](0),
		NodeSelector:                  map[string]string{karpv1.NodePoolLabelKey: pool},
		Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("512Mi")},
		}}},
	}
	for _, m := range mutate {
		m(&spec)
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func create(objs ...client.Object) {
	GinkgoHelper()
	for _, o := range objs {
		Expect(env.Client.Create(ctx, o)).To(Succeed(), "creating %T %s", o, o.GetName())
	}
}

func scale(d *appsv1.Deployment, replicas int32) {
	GinkgoHelper()
	Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = &replicas
	Expect(env.Client.Patch(ctx, d, patch)).To(Succeed())
}

// expectPodsRunning waits until the Deployment's replicas all run on nodes.
func expectPodsRunning(d *appsv1.Deployment, n int) []corev1.Pod {
	GinkgoHelper()
	var running []corev1.Pod
	Eventually(func(g Gomega) {
		pods := &corev1.PodList{}
		g.Expect(env.Client.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels(d.Spec.Selector.MatchLabels))).To(Succeed())
		running = lo.Filter(pods.Items, func(p corev1.Pod, _ int) bool {
			return p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
		})
		g.Expect(running).To(HaveLen(n), "%d of %d pods running", len(running), len(pods.Items))
	}).Should(Succeed())
	return running
}

func nodeClaimsOf(pool string) []karpv1.NodeClaim {
	GinkgoHelper()
	list := &karpv1.NodeClaimList{}
	Expect(env.Client.List(ctx, list, client.MatchingLabels{karpv1.NodePoolLabelKey: pool})).To(Succeed())
	return list.Items
}

// expectInitialized waits until the pool has n NodeClaims, each Launched, Registered and Initialized.
func expectInitialized(pool string, n int) []karpv1.NodeClaim {
	GinkgoHelper()
	var claims []karpv1.NodeClaim
	Eventually(func(g Gomega) {
		claims = nodeClaimsOf(pool)
		g.Expect(claims).To(HaveLen(n))
		for _, nc := range claims {
			for _, cond := range []string{karpv1.ConditionTypeLaunched, karpv1.ConditionTypeRegistered, karpv1.ConditionTypeInitialized} {
				g.Expect(nc.StatusConditions().Get(cond).IsTrue()).To(BeTrue(), "NodeClaim %s is not %s: %v", nc.Name, cond, nc.Status.Conditions)
			}
		}
	}).Should(Succeed())
	return claims
}

func clusterVMs() []simulator.VM {
	GinkgoHelper()
	vms, err := env.ClusterVMs(ctx)
	Expect(err).NotTo(HaveOccurred())
	return vms
}

// providerIDPrefix is the documented contract (docs/bootstrap.md) for nodes whose kubelet sets the providerID from
// userData: the literal, not the provider's helper, so a change of the provider's format fails here.
const providerIDPrefix = "cloudstack:///"

// vmOf finds the VM a NodeClaim was launched as: the one whose UUID its providerID names.
func vmOf(nc karpv1.NodeClaim, vms []simulator.VM) (simulator.VM, bool) {
	return lo.Find(vms, func(vm simulator.VM) bool { return providerIDPrefix+vm.ID == nc.Status.ProviderID })
}

// expectVMsMatchNodeClaims checks the one-to-one mapping between NodeClaims and the cluster's VMs (none in Error):
// every NodeClaim's providerID names exactly one live VM; the VM's offering and zone satisfy the NodeClaim's
// requirements and its size covers the NodeClaim's resource requests; the Node registered from that VM carries the
// NodeClaim's providerID and the VM's hostname; the VM carries the ownership tags; and no VM lacks a NodeClaim.
func expectVMsMatchNodeClaims(nodeClassName string) {
	GinkgoHelper()
	all := &karpv1.NodeClaimList{}
	Expect(env.Client.List(ctx, all)).To(Succeed())
	vms := clusterVMs()
	Expect(lo.Filter(vms, func(vm simulator.VM, _ int) bool { return vm.State == simulator.StateError })).To(BeEmpty(), "VMs left in Error")
	Expect(vms).To(HaveLen(len(all.Items)), "live VMs %v vs NodeClaims %v", lo.Map(vms, func(vm simulator.VM, _ int) string { return vm.Name }),
		lo.Map(all.Items, func(nc karpv1.NodeClaim, _ int) string { return nc.Name }))
	for _, nc := range all.Items {
		vm, ok := vmOf(nc, vms)
		Expect(ok).To(BeTrue(), "no live VM for NodeClaim %s's providerID %q", nc.Name, nc.Status.ProviderID)
		reqs := scheduling.NewNodeSelectorRequirementsWithMinValues(nc.Spec.Requirements...)
		for key, value := range map[string]string{corev1.LabelInstanceTypeStable: vm.ServiceOfferingName, corev1.LabelTopologyZone: vm.ZoneName} {
			if reqs.Has(key) {
				Expect(reqs.Get(key).Has(value)).To(BeTrue(), "VM %s has %s=%s, outside NodeClaim %s's requirement %s", vm.Name, key, value, nc.Name, reqs.Get(key))
			}
		}
		requests := nc.Spec.Resources.Requests
		Expect(resource.NewQuantity(int64(vm.CPUNumber), resource.DecimalSI).Cmp(requests[corev1.ResourceCPU])).To(BeNumerically(">=", 0),
			"VM %s has %d vCPUs for NodeClaim %s requesting %s", vm.Name, vm.CPUNumber, nc.Name, requests.Cpu())
		Expect(resource.NewQuantity(int64(vm.MemoryMiB)<<20, resource.BinarySI).Cmp(requests[corev1.ResourceMemory])).To(BeNumerically(">=", 0),
			"VM %s has %d MiB for NodeClaim %s requesting %s", vm.Name, vm.MemoryMiB, nc.Name, requests.Memory())
		if nc.Status.NodeName != "" {
			node := &corev1.Node{}
			Expect(env.Client.Get(ctx, client.ObjectKey{Name: nc.Status.NodeName}, node)).To(Succeed())
			Expect(node.Spec.ProviderID).To(Equal(nc.Status.ProviderID))
			Expect(node.Name).To(Equal(vm.Name), "a node is named after its VM's hostname")
		}
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyCluster, env.ClusterName))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodeClaim, nc.Name))
		Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodePool, nc.Labels[karpv1.NodePoolLabelKey]))
		if nodeClassName != "" {
			Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyNodeClass, nodeClassName))
			Expect(vm.Tags).To(HaveKeyWithValue("suite", "e2e"))
		}
	}
}

// cleanup deletes the scenario's objects and waits until the cluster is empty again: no NodeClaim, no Node, and
// no live VM of the cluster (nothing leaked).
func cleanup(objs ...client.Object) {
	GinkgoHelper()
	for _, o := range objs {
		Expect(client.IgnoreNotFound(env.Client.Delete(ctx, o))).To(Succeed())
	}
	expectEmptyCluster()
	for _, o := range objs {
		Eventually(func() error { return env.Client.Get(ctx, client.ObjectKeyFromObject(o), o) }).Should(MatchError(ContainSubstring("not found")),
			"%T %s still exists", o, o.GetName())
	}
}

func expectEmptyCluster() {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		claims := &karpv1.NodeClaimList{}
		g.Expect(env.Client.List(ctx, claims)).To(Succeed())
		g.Expect(claims.Items).To(BeEmpty())
		nodes := &corev1.NodeList{}
		g.Expect(env.Client.List(ctx, nodes)).To(Succeed())
		g.Expect(nodes.Items).To(BeEmpty())
		vms, err := env.ClusterVMs(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(vms).To(BeEmpty(), "live VMs of the cluster")
	}).Should(Succeed())
}

// readyCondition reads the NodeClass's Ready condition; g is the polling function's Gomega.
func readyCondition(g Gomega, nc *v1.CloudStackNodeClass) *status.Condition {
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
	return nc.StatusConditions().Get(status.ConditionReady)
}

func elapsed(start time.Time) string { return fmt.Sprintf("%.1fs", time.Since(start).Seconds()) }

// expectNodePoolSkipped waits for proof that Karpenter's provisioner ran for a pending pod and skipped np because its
// NodeClass is not ready (rather than a quiet window that a slow controller also passes): core's log line for np.
func expectNodePoolSkipped(np *karpv1.NodePool) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		log, err := os.ReadFile(env.LogFile("controller"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(lo.ContainsBy(strings.Split(string(log), "\n"), func(line string) bool {
			return strings.Contains(line, "ignoring nodepool, not ready") && strings.Contains(line, `"`+np.Name+`"`)
		})).To(BeTrue(), "no log line of the provisioner skipping NodePool %s", np.Name)
	}).Should(Succeed())
}
