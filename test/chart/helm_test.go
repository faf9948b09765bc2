package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// The real helm commands, as a user runs them, against a kube-apiserver of their own (so that the CRDs are installed
// by helm, not by another spec): install, upgrade with changed values and a CRD change following docs/VERSIONING.md,
// uninstall.
// testImage is any image reference: the chart requires one (no release publishes an image yet), and nothing pulls it.
const testImage = "registry.example.com/karpenter-provider-cloudstack"

var _ = Describe("helm install, upgrade and uninstall", Ordered, func() {
	const (
		namespace  = "karpenter"
		release    = "karpenter"
		secretName = "cloudstack-credentials"
		fullname   = "karpenter-karpenter-cloudstack"
		nodeClassC = "cloudstacknodeclasses.karpenter.k8s.cloudstack"
	)
	var (
		env        *envtest.Environment
		kc         client.Client
		kubeconfig string
		chart      string
		oldChart   string
	)
	// helmKube runs helm against this spec's apiserver.
	helmKube := func(args ...string) string {
		out, err := helm(append(args, "--kubeconfig", kubeconfig)...)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		return out
	}
	hasZonesColumn := func() bool {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		ExpectWithOffset(1, kc.Get(ctx, client.ObjectKey{Name: nodeClassC}, crd)).To(Succeed())
		for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
			if c.Name == "Zones" {
				return true
			}
		}
		return false
	}
	gone := func(obj client.Object, name, ns string) {
		err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		ExpectWithOffset(1, apierrors.IsNotFound(err)).To(BeTrue(), "%T %s/%s should be gone, got %v", obj, ns, name, err)
	}

	BeforeAll(func() {
		env = &envtest.Environment{}
		c, err := env.Start()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(env.Stop)
		kc, err = client.New(c, client.Options{Scheme: scheme.Scheme})
		Expect(err).NotTo(HaveOccurred())
		user, err := env.AddUser(envtest.User{Name: "helm-user", Groups: []string{"system:masters"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		raw, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		dir := GinkgoT().TempDir()
		kubeconfig = filepath.Join(dir, "kubeconfig")
		Expect(os.WriteFile(kubeconfig, raw, 0o600)).To(Succeed())

		chart = filepath.Join(repoRoot, "charts", "karpenter-cloudstack")
		// The "previous release": this chart whose NodeClass CRD lacks the Zones printer column, so the upgrade has
		// a CRD change to carry.
		oldChart = filepath.Join(dir, "karpenter-cloudstack")
		Expect(exec.Command("cp", "-r", chart, oldChart).Run()).To(Succeed())
		crdFile := filepath.Join(oldChart, "crds", "karpenter.k8s.cloudstack_cloudstacknodeclasses.yaml")
		crd, err := os.ReadFile(crdFile)
		Expect(err).NotTo(HaveOccurred())
		zonesColumn := "    - description: The resolved zones\n      jsonPath: .status.zones[*].name\n      name: Zones\n      priority: 1\n      type: string\n"
		Expect(string(crd)).To(ContainSubstring(zonesColumn), "the CRD's Zones column moved; update this test's old chart")
		Expect(os.WriteFile(crdFile, []byte(strings.Replace(string(crd), zonesColumn, "", 1)), 0o600)).To(Succeed())

		Expect(kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
		// The operator's own Secret (credentials.existingSecret): the chart must use it and never touch it.
		Expect(kc.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: secretName},
			StringData: map[string]string{"api-url": "https://cloudstack.example.com/client/api", "api-key": "key", "secret-key": "secret", "verify-ssl": "true"},
		})).To(Succeed())
	})

	It("installs with only the cluster name, an image and an existing Secret, CRDs included", func() {
		helmKube("install", release, oldChart, "--namespace", namespace, "--set", "image.repository="+testImage, "--set", "image.tag=v0.0.0-test",
			"--set", "settings.clusterName=helm-test", "--set", "credentials.existingSecret="+secretName)

		dep := &appsv1.Deployment{}
		Expect(kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, dep)).To(Succeed())
		Expect(*dep.Spec.Replicas).To(BeEquivalentTo(2))
		vols := map[string]string{}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				vols[v.Name] = v.Secret.SecretName
			}
		}
		Expect(vols).To(ContainElement(secretName), "the Deployment must mount the existing Secret")
		for _, crd := range []string{nodeClassC, "nodepools.karpenter.sh", "nodeclaims.karpenter.sh"} {
			Expect(kc.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed(), crd)
		}
		Expect(hasZonesColumn()).To(BeFalse(), "the old chart's CRD is installed")
		Expect(helmKube("list", "--namespace", namespace, "--short")).To(Equal(release + "\n"))
	})

	It("upgrades with changed values, and the CRD only through the documented kubectl step", func() {
		helmKube("upgrade", release, chart, "--namespace", namespace, "--set", "image.repository="+testImage, "--set", "image.tag=v0.0.0-test",
			"--set", "settings.clusterName=helm-test", "--set", "credentials.existingSecret="+secretName,
			"--set", "replicas=1", "--set", "settings.logLevel=debug")
		dep := &appsv1.Deployment{}
		Expect(kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: fullname}, dep)).To(Succeed())
		Expect(*dep.Spec.Replicas).To(BeEquivalentTo(1))
		Expect(dep.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"}))
		Expect(helmKube("history", release, "--namespace", namespace, "--output", "json")).To(ContainSubstring(`"revision":2`))
		// What docs/VERSIONING.md warns about: helm upgrade leaves installed CRDs alone.
		Expect(hasZonesColumn()).To(BeFalse(), "helm upgrade is not expected to change an installed CRD")

		// INSTALLATION.md, "9. Upgrade" (and docs/VERSIONING.md): the documented kubectl apply of the new CRDs, run
		// as written from the repository root (helm created the CRDs and owns their fields: without
		// --force-conflicts a changed CRD is refused).
		out, err := documentedKubectl(kubeconfig, installationSection("## 9. Upgrade"), "kubectl apply")
		Expect(err).NotTo(HaveOccurred(), "the documented upgrade step failed:\n%s", out)
		Expect(hasZonesColumn()).To(BeTrue(), "the new CRD is installed")
	})

	It("uninstalls everything it created, but keeps the CRDs and the existing Secret", func() {
		helmKube("uninstall", release, "--namespace", namespace, "--wait")
		gone(&appsv1.Deployment{}, fullname, namespace)
		gone(&corev1.ServiceAccount{}, fullname, namespace)
		gone(&corev1.Service{}, fullname, namespace)
		gone(&rbacv1.ClusterRole{}, fullname, "")
		gone(&rbacv1.ClusterRoleBinding{}, fullname, "")
		gone(&rbacv1.Role{}, fullname, namespace)
		// Helm never deletes CRDs (deleting them would delete every NodePool, NodeClaim and NodeClass).
		Expect(kc.Get(ctx, client.ObjectKey{Name: nodeClassC}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
		Expect(kc.Get(ctx, client.ObjectKey{Name: "nodepools.karpenter.sh"}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
		Expect(kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, &corev1.Secret{})).To(Succeed())
		Expect(helmKube("list", "--namespace", namespace, "--short")).To(BeEmpty())
	})

	It("frees what the controller's finalizers hold after helm uninstall ran first, with the documented commands", func() {
		// The controller is gone (uninstalled above): nothing acts on its finalizers any more.
		nc := &v1.CloudStackNodeClass{
			ObjectMeta: metav1.ObjectMeta{Name: "left-behind", Finalizers: []string{v1.TerminationFinalizer}},
			Spec: v1.CloudStackNodeClassSpec{Zone: "zone-a", NetworkSelectorTerms: []v1.SelectorTerm{{Name: "n"}},
				ServiceOfferingSelectorTerms: []v1.SelectorTerm{{Name: "o"}}, TemplateSelectorTerms: []v1.SelectorTerm{{Name: "t"}}},
		}
		Expect(kc.Create(ctx, nc)).To(Succeed())
		Expect(kc.Delete(ctx, nc)).To(Succeed())
		Expect(kc.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
		Expect(nc.DeletionTimestamp).NotTo(BeNil(), "Terminating, held by the finalizer")
		out, err := documentedKubectl(kubeconfig, installationSection("### If `helm uninstall` ran first"), "kubectl get cloudstacknodeclasses")
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		Eventually(func() bool { return apierrors.IsNotFound(kc.Get(ctx, client.ObjectKeyFromObject(nc), nc)) }).Should(BeTrue())
	})

	It("removes the Secret it created itself on uninstall", func() {
		const ns = "karpenter-own-secret"
		Expect(kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		helmKube("install", release, chart, "--namespace", ns, "--set", "image.repository="+testImage, "--set", "image.tag=v0.0.0-test", "--set", "settings.clusterName=helm-test",
			"--set", "credentials.apiURL=https://cloudstack.example.com/client/api", "--set", "credentials.apiKey=key",
			"--set", "credentials.secretKey=secret")
		secrets := &corev1.SecretList{}
		Expect(kc.List(ctx, secrets, client.InNamespace(ns))).To(Succeed())
		names := []string{}
		for _, s := range secrets.Items {
			if !strings.HasPrefix(s.Name, "sh.helm.release") {
				names = append(names, s.Name)
			}
		}
		Expect(names).To(HaveLen(1), "the chart creates one credentials Secret")
		helmKube("uninstall", release, "--namespace", ns, "--wait")
		gone(&corev1.Secret{}, names[0], ns)
		gone(&appsv1.Deployment{}, fullname, ns)
	})
})

// documentedKubectl runs the command line of an INSTALLATION.md section that starts with prefix, as written (pipes
// included), in a shell whose kubectl is the test's and whose KUBECONFIG is its apiserver's, from the repository root
// (the documented paths are relative to it).
func documentedKubectl(kubeconfig, section, prefix string) (string, error) {
	GinkgoHelper()
	line := documentedLine(section, prefix)
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+os.Getenv("KUBEBUILDER_ASSETS")+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
