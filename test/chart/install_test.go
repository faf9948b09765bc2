package chart_test

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// serviceMonitorCRD stands in for the Prometheus Operator's CRD, which is not ours to ship: a schemaless CRD of the
// same group, version and kind is enough for the apiserver to accept (and so test) the chart's ServiceMonitor.
func serviceMonitorCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "servicemonitors", Singular: "servicemonitor", Kind: "ServiceMonitor", ListKind: "ServiceMonitorList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
}

// asServiceAccount returns a client that acts as the chart's ServiceAccount, so every request is authorized by the
// chart's RBAC alone.
func asServiceAccount(namespace, name string) client.Client {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	kc, err := client.New(c, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	return kc
}

func exampleObjects() []*unstructured.Unstructured {
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	var objs []*unstructured.Unstructured
	for _, f := range files {
		objs = append(objs, decodeFile(f)...)
	}
	return objs
}

func readyCondition() status.Condition {
	return status.Condition{Type: status.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", Message: "",
		LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second)), ObservedGeneration: 1}
}

var _ = Describe("Installed on a real apiserver", Ordered, func() {
	var (
		sa, ciSA client.Client
		rendered []*unstructured.Unstructured
		examples []*unstructured.Unstructured
	)

	BeforeAll(func() {
		for _, ns := range []string{defaultRelease.namespace, ciRelease.namespace, "victim"} {
			ensureNamespace(ns)
		}
		// The non-default values use an existing Secret; beside it sits a Secret the controller must not read.
		Expect(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cloudstack-credentials", Namespace: ciRelease.namespace},
			StringData: map[string]string{"api-url": "https://cloudstack.example.com/client/api", "api-key": "k", "secret-key": "s", "verify-ssl": "true"}})).To(Succeed())
		for _, ns := range []string{defaultRelease.namespace, "kube-system"} {
			Expect(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns},
				StringData: map[string]string{"password": "hunter2"}})).To(Succeed())
		}
		// The non-default values grant the join Secrets below to the controller (userDataSecrets).
		for _, ref := range []client.ObjectKey{{Namespace: ciRelease.namespace, Name: "karpenter-join"}, {Namespace: "kube-system", Name: "join-prod"}} {
			Expect(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ref.Namespace},
				StringData: map[string]string{"token": "abcdef.0123456789abcdef"}})).To(Succeed())
		}
		Expect(admin.Create(ctx, serviceMonitorCRD())).To(Succeed())

		rendered = append(render(defaultRelease), render(ciRelease)...)
		apply(rendered)
		examples = exampleObjects()
		apply(examples)

		sa = asServiceAccount(defaultRelease.namespace, defaultFullname)
		ciSA = asServiceAccount(ciRelease.namespace, "karpenter-controller")
	})

	It("stores every rendered object", func() {
		for _, o := range append(append([]*unstructured.Unstructured{}, rendered...), examples...) {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(o.GroupVersionKind())
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed(), "%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	})

	It("accepts the examples as the typed objects the controller reads", func() {
		nc := &v1.CloudStackNodeClass{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "default"}, nc)).To(Succeed())
		Expect(nc.Spec.Zone).NotTo(BeEmpty())
		multi := &v1.CloudStackNodeClass{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "multi-zone"}, multi)).To(Succeed())
		Expect(multi.Spec.ZoneSelectorTerms).NotTo(BeEmpty())
		np := &karpv1.NodePool{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: "default"}, np)).To(Succeed())
		Expect(np.Spec.Template.Spec.NodeClassRef.Kind).To(Equal("CloudStackNodeClass"))
		Expect(np.Spec.Template.Spec.NodeClassRef.Group).To(Equal(v1.SchemeGroupVersion.Group))
		Expect(np.Spec.Template.Spec.NodeClassRef.Name).To(Equal(nc.Name))
	})

	DescribeTable("lets the ServiceAccount do what the controller does",
		func(do func(c client.Client) error) { Expect(do(sa)).To(Succeed()) },
		Entry("create, patch, patch the status of and delete a NodeClaim", func(c client.Client) error {
			nc := &karpv1.NodeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "rbac-nodeclaim", Labels: map[string]string{karpv1.NodePoolLabelKey: "default"}},
				Spec: karpv1.NodeClaimSpec{
					NodeClassRef: &karpv1.NodeClassReference{Group: v1.SchemeGroupVersion.Group, Kind: "CloudStackNodeClass", Name: "default"},
					Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}},
				},
			}
			if err := c.Create(ctx, nc); err != nil {
				return err
			}
			stored := nc.DeepCopy()
			nc.Finalizers = append(nc.Finalizers, karpv1.TerminationFinalizer)
			if err := c.Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
				return err
			}
			stored = nc.DeepCopy()
			nc.Status.ProviderID = v1.ProviderID("11111111-2222-3333-4444-555555555555")
			if err := c.Status().Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
				return err
			}
			stored = nc.DeepCopy()
			nc.Finalizers = nil
			if err := c.Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
				return err
			}
			return c.Delete(ctx, nc)
		}),
		Entry("patch a CloudStackNodeClass's status, finalizers and annotations", func(c client.Client) error {
			nc := &v1.CloudStackNodeClass{}
			if err := c.Get(ctx, client.ObjectKey{Name: "default"}, nc); err != nil {
				return err
			}
			stored := nc.DeepCopy()
			nc.Status.Conditions = []status.Condition{readyCondition()}
			if err := c.Status().Patch(ctx, nc, client.MergeFrom(stored)); err != nil {
				return err
			}
			stored = nc.DeepCopy()
			nc.Finalizers = append(nc.Finalizers, v1.TerminationFinalizer)
			nc.Annotations = map[string]string{v1.AnnotationNodeClassHash: nc.Hash()}
			return c.Patch(ctx, nc, client.MergeFrom(stored))
		}),
		Entry("read, patch and delete Nodes", func(c client.Client) error {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "rbac-node"}, Spec: corev1.NodeSpec{ProviderID: v1.ProviderID("66666666-7777-8888-9999-000000000000")}}
			if err := admin.Create(ctx, node); err != nil {
				return err
			}
			if err := c.List(ctx, &corev1.NodeList{}); err != nil {
				return err
			}
			stored := node.DeepCopy()
			node.Labels = map[string]string{karpv1.NodeRegisteredLabelKey: "true"}
			if err := c.Patch(ctx, node, client.MergeFrom(stored)); err != nil {
				return err
			}
			return c.Delete(ctx, node)
		}),
		Entry("read Pods, workloads and PodDisruptionBudgets in every namespace", func(c client.Client) error {
			for _, list := range []client.ObjectList{&corev1.PodList{}, &appsv1.DeploymentList{}, &appsv1.DaemonSetList{}, &policyv1.PodDisruptionBudgetList{}, &corev1.NamespaceList{}} {
				if err := c.List(ctx, list); err != nil {
					return err
				}
			}
			return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inflate"}, &appsv1.Deployment{})
		}),
		Entry("evict and delete Pods (draining a node)", func(c client.Client) error {
			for _, name := range []string{"evict-me", "delete-me"} {
				if err := admin.Create(ctx, pausePod(name)); err != nil {
					return err
				}
			}
			if err := c.SubResource("eviction").Create(ctx, pausePod("evict-me"), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "evict-me", Namespace: "default"}}); err != nil {
				return err
			}
			return c.Delete(ctx, pausePod("delete-me"))
		}),
		Entry("create events", func(c client.Client) error {
			return c.Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{Name: "rbac-event", Namespace: "default"},
				InvolvedObject: corev1.ObjectReference{Kind: "NodePool", Name: "default", APIVersion: "karpenter.sh/v1"},
				Reason:         "Test", Message: "event from the chart's ServiceAccount", Type: corev1.EventTypeNormal,
			})
		}),
		Entry("get the credentials Secret", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: defaultRelease.namespace, Name: defaultFullname + "-credentials"}, &corev1.Secret{})
		}),
		Entry("take and renew the leader election Lease", func(c client.Client) error {
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: defaultFullname + "-leader-election", Namespace: defaultRelease.namespace}}
			if err := c.Create(ctx, lease); err != nil {
				return err
			}
			holder := "karpenter-0"
			lease.Spec.HolderIdentity = &holder
			return c.Update(ctx, lease)
		}),
		Entry("read and delete node heartbeat Leases", func(c client.Client) error {
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "rbac-node", Namespace: corev1.NamespaceNodeLease}}
			if err := admin.Create(ctx, lease); err != nil {
				return err
			}
			if err := c.List(ctx, &coordinationv1.LeaseList{}, client.InNamespace(corev1.NamespaceNodeLease)); err != nil {
				return err
			}
			return c.Delete(ctx, lease)
		}),
	)

	DescribeTable("forbids the ServiceAccount everything else",
		func(do func(c client.Client) error) {
			err := do(sa)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "expected Forbidden, got %v", err)
		},
		Entry("get another Secret in its namespace", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: defaultRelease.namespace, Name: "unrelated"}, &corev1.Secret{})
		}),
		Entry("list Secrets in its namespace", func(c client.Client) error {
			return c.List(ctx, &corev1.SecretList{}, client.InNamespace(defaultRelease.namespace))
		}),
		Entry("get a Secret in kube-system", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "unrelated"}, &corev1.Secret{})
		}),
		Entry("get the other release's credentials", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: ciRelease.namespace, Name: "cloudstack-credentials"}, &corev1.Secret{})
		}),
		Entry("delete a Namespace", func(c client.Client) error {
			return c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "victim"}})
		}),
		Entry("create a Pod", func(c client.Client) error { return c.Create(ctx, pausePod("rbac-pod")) }),
		Entry("patch a Pod", func(c client.Client) error {
			if err := admin.Create(ctx, pausePod("patch-me")); err != nil {
				return err
			}
			return c.Patch(ctx, pausePod("patch-me"), client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`)))
		}),
		Entry("create a Deployment", func(c client.Client) error {
			return c.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "rbac-deployment", Namespace: "default"},
				Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: pausePod("x").Spec}}})
		}),
		Entry("scale a Deployment", func(c client.Client) error {
			return c.Patch(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "inflate", Namespace: "default"}},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":5}}`)))
		}),
		Entry("renew a Lease other than its own", func(c client.Client) error {
			lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "someone-else", Namespace: defaultRelease.namespace}}
			if err := admin.Create(ctx, lease); err != nil {
				return err
			}
			holder := "intruder"
			lease.Spec.HolderIdentity = &holder
			return c.Update(ctx, lease)
		}),
		Entry("create a ClusterRole", func(c client.Client) error {
			return c.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "rbac-escalation"}})
		}),
		Entry("delete a CloudStackNodeClass", func(c client.Client) error {
			return c.Delete(ctx, &v1.CloudStackNodeClass{ObjectMeta: metav1.ObjectMeta{Name: "multi-zone"}})
		}),
		Entry("list CapacityBuffers, whose feature gate is off", func(c client.Client) error {
			return c.List(ctx, capacityBuffers())
		}),
		Entry("list ResourceSlices, while DRA requests are ignored", func(c client.Client) error {
			return c.List(ctx, resourceSlices())
		}),
	)

	// spec.userDataSecretRef: the controller reads exactly the Secrets userDataSecrets names, by get only.
	It("lets the ServiceAccount get the userDataSecrets, and no other Secret", func() {
		for _, ref := range []client.ObjectKey{{Namespace: ciRelease.namespace, Name: "karpenter-join"}, {Namespace: "kube-system", Name: "join-prod"}} {
			Expect(ciSA.Get(ctx, ref, &corev1.Secret{})).To(Succeed(), "%s", ref)
			Expect(apierrors.IsForbidden(sa.Get(ctx, ref, &corev1.Secret{}))).To(BeTrue(), "the default release names no userDataSecrets: %s", ref)
		}
		for _, forbidden := range []error{
			ciSA.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "unrelated"}, &corev1.Secret{}),
			ciSA.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system")),
			ciSA.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "join-prod"}}),
		} {
			Expect(apierrors.IsForbidden(forbidden)).To(BeTrue(), "expected Forbidden, got %v", forbidden)
		}
	})

	// The non-default values turn on feature gates and DRA; their RBAC follows, and nothing more.
	DescribeTable("grants gated permissions only when the gate is on",
		func(do func(c client.Client) error) { Expect(do(ciSA)).To(Succeed()) },
		Entry("patch a Pod (PodDeletionCostManagement)", func(c client.Client) error {
			if err := admin.Create(ctx, pausePod("cost-me")); err != nil {
				return err
			}
			return c.Patch(ctx, pausePod("cost-me"), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":"-10"}}}`)))
		}),
		Entry("list CapacityBuffers (CapacityBuffer)", func(c client.Client) error { return c.List(ctx, capacityBuffers()) }),
		Entry("list ResourceSlices (ignoreDRARequests: false)", func(c client.Client) error { return c.List(ctx, resourceSlices()) }),
		Entry("get its existing credentials Secret", func(c client.Client) error {
			return c.Get(ctx, client.ObjectKey{Namespace: ciRelease.namespace, Name: "cloudstack-credentials"}, &corev1.Secret{})
		}),
	)
})

func pausePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}}},
	}
}

func capacityBuffers() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(schema.GroupVersionKind{Group: "autoscaling.x-k8s.io", Version: "v1beta1", Kind: "CapacityBufferList"})
	return l
}

func resourceSlices() *unstructured.UnstructuredList {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(schema.GroupVersionKind{Group: "resource.k8s.io", Version: "v1", Kind: "ResourceSliceList"})
	return l
}
