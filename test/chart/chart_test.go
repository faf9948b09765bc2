package chart_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	karpapis "sigs.k8s.io/karpenter/pkg/apis"
	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
)

const chartDir = "charts/karpenter-cloudstack"

var (
	// defaultRelease sets only what the chart requires.
	defaultRelease = release{name: "karpenter", namespace: "karpenter", args: []string{
		"--set", "settings.clusterName=test-cluster",
		"--set", "credentials.apiURL=https://cloudstack.example.com/client/api",
		"--set", "credentials.apiKey=test-api-key",
		"--set", "credentials.secretKey=test-secret-key",
		"--set", "image.repository=registry.example.com/karpenter-provider-cloudstack",
		"--set", "image.tag=v0.0.0-test",
	}}
	defaultFullname = "karpenter-karpenter-cloudstack"
	// ciRelease switches every optional branch on (an existing Secret, a CA bundle, a ServiceMonitor, feature gates).
	ciRelease  = release{name: "ci", namespace: "karpenter-ci", args: []string{"-f", chartDir + "/ci/non-default-values.yaml"}}
	ciFullname = "karpenter"
)

// credentialEnv are the options the chart must pass as files of the mounted Secret, never as environment
// variables: the pod spec is readable by far more people than the Secret.
var credentialEnv = []string{"CLOUDSTACK_API_URL", "CLOUDSTACK_API_KEY", "CLOUDSTACK_SECRET_KEY", "CLOUDSTACK_VERIFY_SSL"}

func deployment(objs []*unstructured.Unstructured, name string) *appsv1.Deployment {
	u := find(objs, "Deployment", name)
	Expect(u).NotTo(BeNil(), "no Deployment %q rendered", name)
	d := &appsv1.Deployment{}
	Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d)).To(Succeed())
	return d
}

func envNames(c corev1.Container) []string {
	names := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	return names
}

var _ = Describe("Chart", func() {
	DescribeTable("passes helm lint --strict",
		func(r release) {
			_, err := helm(append(r.helmArgs("lint"), "--strict")...)
			Expect(err).NotTo(HaveOccurred())
		},
		Entry("with the required values", defaultRelease),
		Entry("with every optional value", ciRelease),
	)

	DescribeTable("refuses to render without a required value",
		func(args []string, message string) {
			_, err := helm(append(release{name: "x", namespace: "x", args: args}.helmArgs("template"), "--kube-version", "v1.36.3")...)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("cluster name", []string{"--set", "credentials.existingSecret=s", "--set", "image.repository=r", "--set", "image.tag=t"},
			"settings.clusterName is required"),
		Entry("API URL", []string{"--set", "settings.clusterName=c", "--set", "credentials.apiKey=k", "--set", "credentials.secretKey=s"},
			"credentials.apiURL is required"),
		Entry("secret key", []string{"--set", "settings.clusterName=c", "--set", "credentials.apiURL=u", "--set", "credentials.apiKey=k"},
			"credentials.secretKey is required"),
	)

	It("ships CRDs identical to their sources", func() {
		sources := map[string][]byte{
			"karpenter.sh_nodepools.yaml":                         karpapis.NodePoolCRD,
			"karpenter.sh_nodeclaims.yaml":                        karpapis.NodeClaimCRD,
			"karpenter.sh_nodeoverlays.yaml":                      karpapis.NodeOverlayCRD,
			"autoscaling.x-k8s.io_capacitybuffers.yaml":           karpapis.CapacityBufferCRD,
			"karpenter.k8s.cloudstack_cloudstacknodeclasses.yaml": apis.CloudStackNodeClassCRD,
		}
		entries, err := os.ReadDir(filepath.Join(repoRoot, chartDir, "crds"))
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(len(sources)), "crds/ must hold exactly the CRDs hack/copy-crds.sh copies")
		for name, want := range sources {
			got, err := os.ReadFile(filepath.Join(repoRoot, chartDir, "crds", name))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(string(want)), "%s is stale: run hack/copy-crds.sh (make generate)", name)
		}
	})

	It("documents every option and metric of the code in docs/reference.md", func() {
		cmd := exec.Command("go", "run", "./hack/docgen")
		cmd.Dir = repoRoot
		want, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred())
		region := generatedRegion(filepath.Join("docs", "reference.md"), "<!-- BEGIN GENERATED", "<!-- END GENERATED -->")
		Expect(region).To(Equal(strings.TrimSpace(string(want))),
			"docs/reference.md is stale: run go run ./hack/docgen -w docs/reference.md")
	})

	Context("with the required values", func() {
		var objs []*unstructured.Unstructured
		BeforeEach(func() { objs = render(defaultRelease) })

		It("renders every part of the installation", func() {
			Expect(kinds(objs)).To(Equal(map[string]int{
				"CustomResourceDefinition": 5, "ServiceAccount": 1, "Secret": 1, "ClusterRole": 2, "ClusterRoleBinding": 2,
				"Role": 2, "RoleBinding": 2, "Service": 1, "Deployment": 1, "PodDisruptionBudget": 1,
			}))
		})

		It("runs a hardened, highly available controller off the nodes it manages", func() {
			d := deployment(objs, defaultFullname)
			Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
			pod := d.Spec.Template.Spec
			Expect(pod.PriorityClassName).To(Equal("system-cluster-critical"))
			Expect(pod.ServiceAccountName).To(Equal(defaultFullname))
			Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
			Expect(pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions).To(
				ContainElement(corev1.NodeSelectorRequirement{Key: "karpenter.sh/nodepool", Operator: corev1.NodeSelectorOpDoesNotExist}))
			Expect(pod.TopologySpreadConstraints).To(HaveLen(2))
			for _, tsc := range pod.TopologySpreadConstraints {
				Expect(tsc.LabelSelector.MatchLabels).To(Equal(map[string]string{
					"app.kubernetes.io/name": "karpenter-cloudstack", "app.kubernetes.io/instance": "karpenter"}))
			}

			Expect(pod.Containers).To(HaveLen(1))
			c := pod.Containers[0]
			sc := c.SecurityContext
			Expect(*sc.RunAsNonRoot).To(BeTrue())
			Expect(*sc.ReadOnlyRootFilesystem).To(BeTrue())
			Expect(*sc.AllowPrivilegeEscalation).To(BeFalse())
			Expect(sc.Capabilities.Drop).To(Equal([]corev1.Capability{"ALL"}))
			Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault))
			Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
			Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			Expect(ports).To(Equal(map[string]int32{"http-metrics": 8080, "http-health": 8081}))
			Expect(c.LivenessProbe.HTTPGet.Port.StrVal).To(Equal("http-health"))
			Expect(c.Resources.Requests).NotTo(BeEmpty())
			Expect(c.Resources.Limits).NotTo(BeEmpty())

			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "CLOUDSTACK_CREDENTIALS_DIR", Value: "/var/run/secrets/cloudstack"}))
			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "CLUSTER_NAME", Value: "test-cluster"}))
			Expect(c.Env).To(ContainElement(corev1.EnvVar{Name: "DISABLE_LEADER_ELECTION", Value: "false"}))
			Expect(envNames(c)).NotTo(ContainElements(credentialEnv))
			Expect(c.VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: "cloudstack-credentials", MountPath: "/var/run/secrets/cloudstack", ReadOnly: true}))
		})

		It("keeps the credentials in a Secret with the keys the controller reads", func() {
			s := find(objs, "Secret", defaultFullname+"-credentials")
			Expect(s).NotTo(BeNil())
			data, _, _ := unstructured.NestedStringMap(s.Object, "stringData")
			Expect(data).To(Equal(map[string]string{
				"api-url": "https://cloudstack.example.com/client/api", "api-key": "test-api-key",
				"secret-key": "test-secret-key", "verify-ssl": "true",
			}))
		})
	})

	Context("with every optional value", func() {
		var objs []*unstructured.Unstructured
		BeforeEach(func() { objs = render(ciRelease) })

		It("uses the existing Secret and renders the optional parts", func() {
			k := kinds(objs)
			Expect(k).NotTo(HaveKey("Secret"))
			Expect(k).To(HaveKeyWithValue("ServiceMonitor", 1))
			Expect(k).To(HaveKeyWithValue("ConfigMap", 1))
			d := deployment(objs, ciFullname)
			Expect(*d.Spec.Replicas).To(BeEquivalentTo(3))
			Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(
				"registry.example.com/karpenter-cloudstack:v0.1.0-test@sha256:0000000000000000000000000000000000000000000000000000000000000000"))
			Expect(d.Spec.Template.Spec.Volumes).To(ContainElement(HaveField("VolumeSource.Secret.SecretName", "cloudstack-credentials")))
		})

		// Every flag of every registered Injectable (Karpenter core's and this provider's) follows the
		// flag-name -> FLAG_NAME env convention; this fails as soon as an option is added to the code but not to the chart.
		It("reaches every controller option through values", func() {
			fs := &coreoptions.FlagSet{FlagSet: flag.NewFlagSet("controller", flag.ContinueOnError)}
			for _, inj := range coreoptions.Injectables {
				inj.AddFlags(fs)
			}
			c := deployment(objs, ciFullname).Spec.Template.Spec.Containers[0]
			names := envNames(c)
			Expect(names).NotTo(ContainElements(credentialEnv))
			var flags []string
			fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
			Expect(flags).NotTo(BeEmpty())
			for _, name := range flags {
				env := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
				if slices.Contains(credentialEnv, env) {
					continue
				}
				Expect(names).To(ContainElement(env), "option --%s (%s) cannot be set from the chart's values", name, env)
			}
		})
	})
})
