package chart_test

import (
	"context"
	"fmt"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/controllers/dynamicresources/deviceallocation"
	"sigs.k8s.io/karpenter/pkg/controllers/nodeclaim/lifecycle"
	"sigs.k8s.io/karpenter/pkg/controllers/provisioning"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
	"sigs.k8s.io/karpenter/pkg/state/nodepoolhealth"
	"sigs.k8s.io/karpenter/pkg/state/virtualpods"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudprovider"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// The provisioning path with every Kubernetes request made as the chart's ServiceAccount: the NodeClass controller
// resolves the NodeClass, core's provisioner creates a NodeClaim for a pending pod, core's lifecycle controller
// launches the VM in the simulated CloudStack and registers the Node. Only what users and kubelets do (creating the
// NodeClass, the NodePool, the pod and the Node) runs as admin. Any RBAC rule the chart lacks fails this test.
// cachedServiceAccountClient is the ServiceAccount's client as the controller has it: reads come from informers
// (which need list and watch), with the field indexes Karpenter core registers.
func cachedServiceAccountClient(namespace, name string) client.Client {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	cacheCtx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	informers, err := cache.New(c, cache.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	for _, index := range []func(cache.Cache) error{
		coretest.NodeProviderIDFieldIndexer(cacheCtx), coretest.NodeClaimProviderIDFieldIndexer(cacheCtx),
		coretest.NodeClaimNodeClassRefFieldIndexer(cacheCtx), coretest.NodePoolNodeClassRefFieldIndexer(cacheCtx),
	} {
		Expect(index(informers)).To(Succeed())
	}
	Expect(informers.IndexField(cacheCtx, &corev1.Pod{}, "spec.nodeName", func(o client.Object) []string {
		return []string{o.(*corev1.Pod).Spec.NodeName}
	})).To(Succeed())
	go func() { _ = informers.Start(cacheCtx) }()
	Expect(informers.WaitForCacheSync(cacheCtx)).To(BeTrue())
	kc, err := client.New(c, client.Options{Scheme: scheme.Scheme, Cache: &client.CacheOptions{Reader: informers}})
	Expect(err).NotTo(HaveOccurred())
	return &coretest.CacheSyncingClient{Client: kc}
}

// expectCached waits until the cached client c holds the apiserver's latest version of obj: a spec that reads a stale
// copy (a NodeClass whose Ready status has not reached the informer yet) would schedule nothing. The
// ServiceAccount's own writes are followed by CacheSyncingClient for about a second only, so every reconcile that
// reads an object the previous step wrote waits here first, and assertions read from the apiserver (admin).
func expectCached(c client.Client, obj client.Object) {
	GinkgoHelper()
	live := obj.DeepCopyObject().(client.Object)
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), live)).To(Succeed())
	Eventually(func(g Gomega) {
		cached := obj.DeepCopyObject().(client.Object)
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), cached)).To(Succeed())
		g.Expect(cached.GetResourceVersion()).To(Equal(live.GetResourceVersion()))
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

var _ = Describe("Provisioning as the chart's ServiceAccount", Ordered, func() {
	var (
		pctx                context.Context
		csEnv               *test.Environment
		sa                  client.Client
		clk                 *clocktesting.FakeClock
		nodeClass           *v1.CloudStackNodeClass
		nodeClaim           *karpv1.NodeClaim
		cp                  *cloudprovider.CloudProvider
		lifecycleController *lifecycle.Controller
	)

	BeforeAll(func() {
		// The chart's CRDs and RBAC are installed by the other container's BeforeAll only when it runs first, so
		// install the default release here too (server-side apply makes this idempotent).
		ensureNamespace(defaultRelease.namespace)
		apply(render(defaultRelease))

		var err error
		csEnv, err = test.NewEnvironment()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(csEnv.Close)
		pctx = coreoptions.ToContext(ctx, coretest.Options())
		pctx = options.ToContext(pctx, csEnv.Options)
		sa = cachedServiceAccountClient(defaultRelease.namespace, defaultFullname)
		clk = clocktesting.NewFakeClock(time.Now())
		recorder := events.NewRecorder(&record.FakeRecorder{})
		cp = cloudprovider.New(sa, recorder, csEnv.InstanceTypeProvider, csEnv.InstanceProvider, csEnv.ZoneProvider)
		cluster := state.NewCluster(clk, sa, cp)
		lifecycleController = lifecycle.NewController(clk, sa, cp, recorder, cluster, nodepoolhealth.NewState(), nil)

		nodeClass = &v1.CloudStackNodeClass{
			ObjectMeta: metav1.ObjectMeta{Name: "provisioning"},
			Spec: v1.CloudStackNodeClassSpec{
				Zone:                         "zone-a",
				NetworkSelectorTerms:         []v1.SelectorTerm{{Name: "isolated-a"}},
				ServiceOfferingSelectorTerms: []v1.SelectorTerm{{Name: "small"}, {Name: "medium"}},
				TemplateSelectorTerms:        []v1.SelectorTerm{{Name: "ubuntu-24.04-kube-v1.36-amd64"}},
				UserData:                     lo.ToPtr("#cloud-config\nruncmd:\n- echo {{ .NodeClaimName }} {{ .RegisterWithTaints }}\n"),
			},
		}
		Expect(admin.Create(ctx, nodeClass)).To(Succeed())
		nodePool := coretest.NodePool(karpv1.NodePool{
			ObjectMeta: metav1.ObjectMeta{Name: "provisioning"},
			Spec: karpv1.NodePoolSpec{Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: nodeClass.Name},
			}}},
		})
		ExpectApplied(ctx, admin, nodePool)
		expectCached(sa, nodeClass)
		expectCached(sa, nodePool)

	})

	It("resolves the NodeClass with the controller's permissions", func() {
		ctrl := nodeclass.NewController(sa, events.NewRecorder(&record.FakeRecorder{}), clk, csEnv.NodeClassProviders())
		ExpectObjectReconciled(pctx, sa, ctrl, nodeClass)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(nodeClass), nodeClass)).To(Succeed())
		Expect(nodeClass.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nodeClass.Status.Conditions)
		Expect(nodeClass.Finalizers).To(ContainElement(v1.TerminationFinalizer))
		Expect(nodeClass.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHash, nodeClass.Hash()))
	})

	It("reports a userDataSecretRef the chart does not grant as UserDataSecretForbidden, naming the value to set", func() {
		secretClass := nodeClass.DeepCopy()
		secretClass.ObjectMeta = metav1.ObjectMeta{Name: "provisioning-secret"}
		secretClass.Status = v1.CloudStackNodeClassStatus{}
		secretClass.Spec.UserData = lo.ToPtr("#cloud-config\nruncmd:\n- kubeadm join --token {{ .Secret.token }}\n")
		secretClass.Spec.UserDataSecretRef = &v1.SecretReference{Namespace: "kube-system", Name: "join-prod"}
		Expect(admin.Create(ctx, secretClass)).To(Succeed())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(admin.Delete(ctx, secretClass))).To(Succeed())
			// The controller's finalizer: nothing was launched from this NodeClass.
			Eventually(func() error {
				got := &v1.CloudStackNodeClass{}
				if err := admin.Get(ctx, client.ObjectKeyFromObject(secretClass), got); err != nil {
					return client.IgnoreNotFound(err)
				}
				got.Finalizers = nil
				return admin.Update(ctx, got)
			}).Should(Succeed())
		})
		expectCached(sa, secretClass)
		providers := csEnv.NodeClassProviders()
		// As cmd/controller wires it: straight to the API server, as the ServiceAccount.
		providers.UserDataSecrets = userdatasecret.NewDefaultProvider(asServiceAccount(defaultRelease.namespace, defaultFullname))
		ctrl := nodeclass.NewController(sa, events.NewRecorder(&record.FakeRecorder{}), clk, providers)
		ExpectObjectReconciled(pctx, sa, ctrl, secretClass)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(secretClass), secretClass)).To(Succeed())
		cond := secretClass.StatusConditions().Get(v1.ConditionTypeUserDataReady)
		Expect(cond.IsFalse()).To(BeTrue(), "%v", secretClass.Status.Conditions)
		Expect(cond.Reason).To(Equal(userdatasecret.ReasonForbidden))
		Expect(cond.Message).To(ContainSubstring("userDataSecrets"))
		Expect(cond.Message).To(ContainSubstring("kube-system"))
	})

	It("creates a NodeClaim for a pending pod", func() {
		pod := coretest.UnschedulablePod(coretest.PodOptions{
			ObjectMeta:   metav1.ObjectMeta{Name: "provisioning-pod"},
			NodeSelector: map[string]string{karpv1.NodePoolLabelKey: "provisioning"},
		})
		ExpectApplied(ctx, admin, pod)
		expectCached(sa, pod)
		expectCached(sa, nodeClass)
		cluster := state.NewCluster(clk, sa, cp)
		prov := provisioning.NewProvisioner(sa, events.NewRecorder(&record.FakeRecorder{}), cp, cluster, clk,
			deviceallocation.NewController(sa), virtualpods.NewVirtualPodCache(sa))
		results, err := prov.Schedule(pctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(results.NewNodeClaims).To(HaveLen(1))
		names, err := prov.CreateNodeClaims(pctx, results.NewNodeClaims)
		Expect(err).NotTo(HaveOccurred())
		nodeClaim = &karpv1.NodeClaim{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: names[0]}, nodeClaim)).To(Succeed())
		Expect(nodeClaim.Spec.NodeClassRef.Name).To(Equal(nodeClass.Name))
	})

	It("launches the VM and records it on the NodeClaim", func() {
		expectCached(sa, nodeClaim)
		ExpectObjectReconciled(pctx, sa, lifecycleController, nodeClaim)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(nodeClaim), nodeClaim)).To(Succeed())
		Expect(nodeClaim.StatusConditions().Get(karpv1.ConditionTypeLaunched).IsTrue()).To(BeTrue(), "%v", nodeClaim.Status.Conditions)
		id, err := v1.ParseProviderID(nodeClaim.Status.ProviderID)
		Expect(err).NotTo(HaveOccurred())
		vm, err := csEnv.API.GetVM(pctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(vm.Name).To(Equal(nodeClaim.Name))
	})

	It("registers the Node the VM's kubelet creates", func() {
		// What the kubelet does with the userData's flags: register with the providerID and the unregistered taint.
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: nodeClaim.Name, Labels: map[string]string{karpv1.NodePoolLabelKey: "provisioning"}},
			Spec:       corev1.NodeSpec{ProviderID: nodeClaim.Status.ProviderID, Taints: []corev1.Taint{karpv1.UnregisteredNoExecuteTaint}},
		}
		Expect(admin.Create(ctx, node)).To(Succeed())
		expectCached(sa, node)
		expectCached(sa, nodeClaim)
		ExpectObjectReconciled(pctx, sa, lifecycleController, nodeClaim)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(nodeClaim), nodeClaim)).To(Succeed())
		Expect(nodeClaim.StatusConditions().Get(karpv1.ConditionTypeRegistered).IsTrue()).To(BeTrue(), "%v", nodeClaim.Status.Conditions)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(node), node)).To(Succeed())
		Expect(node.Spec.Taints).NotTo(ContainElement(karpv1.UnregisteredNoExecuteTaint))
		Expect(node.Labels).To(HaveKeyWithValue(karpv1.NodeRegisteredLabelKey, "true"))
	})

	It("destroys the VM when the NodeClaim's instance is deleted", func() {
		// The Delete that destroys the VM answers NodeClaimNotFound, core's "terminated".
		Expect(cp.Delete(pctx, nodeClaim)).To(Satisfy(corecloudprovider.IsNodeClaimNotFoundError))
		id, _ := v1.ParseProviderID(nodeClaim.Status.ProviderID)
		// NodeClaimNotFound, not just any error: a permission error of the ServiceAccount would also be an error.
		Eventually(func() error { _, err := cp.Get(pctx, nodeClaim.Status.ProviderID); return err }).
			WithTimeout(30*time.Second).Should(Satisfy(corecloudprovider.IsNodeClaimNotFoundError), "VM %s still exists", id)
	})
})
