package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// renderedControllerEnv renders the chart's Deployment with helm for the values and resolves its env as the kubelet
// would (fieldRef to the namespace, resourceFieldRef to the container's resources).
func renderedControllerEnv(values environment.ChartValues) []string {
	GinkgoHelper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	helm := filepath.Join(root, ".tools", "helm")
	_, err = os.Stat(helm)
	Expect(err).NotTo(HaveOccurred(), "helm is not installed at %s: run hack/install-helm.sh", helm)

	nested := map[string]any{"credentials": map[string]any{"apiURL": "http://127.0.0.1:1/client/api", "apiKey": "k", "secretKey": "s"}}
	for path, v := range values {
		m := nested
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			if _, ok := m[p].(map[string]any); !ok {
				m[p] = map[string]any{}
			}
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	valuesYAML, err := yaml.Marshal(nested)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	valuesFile := filepath.Join(dir, "values.yaml")
	Expect(os.WriteFile(valuesFile, valuesYAML, 0o600)).To(Succeed())

	cmd := exec.Command(helm, "template", environment.ChartRelease, filepath.Join(root, "charts", "karpenter-cloudstack"),
		"--namespace", environment.ChartNamespace, "-f", valuesFile, "--kube-version", "v1.36.3", "--show-only", "templates/deployment.yaml",
		// The chart requires an image; the local controller runs as a process, so any reference renders the env.
		"--set", "image.repository=registry.example.com/karpenter-provider-cloudstack", "--set", "image.tag=e2e")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), stderr.String())
	dep := &appsv1.Deployment{}
	Expect(utilyaml.Unmarshal(out, dep)).To(Succeed())
	container := dep.Spec.Template.Spec.Containers[0]
	var env []string
	for _, e := range container.Env {
		value := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			value = environment.ChartNamespace
		case e.ValueFrom.ResourceFieldRef != nil:
			ref := e.ValueFrom.ResourceFieldRef
			var q = container.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))]
			if strings.HasPrefix(ref.Resource, "requests.") {
				q = container.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(ref.Resource, "requests."))]
			}
			if ref.Divisor.String() == "1m" {
				value = strconv.FormatInt(q.MilliValue(), 10)
			} else {
				value = strconv.FormatInt(q.Value(), 10)
			}
		default:
			Fail("unexpected valueFrom in the chart's env: " + e.Name)
		}
		env = append(env, e.Name+"="+value)
	}
	sort.Strings(env)
	return env
}

var _ = Describe("The local controller's configuration", func() {
	base := environment.ChartValues{"settings.clusterName": "e2e", "settings.metricsPort": "18080", "settings.healthProbePort": "18081",
		"settings.leaderElection.disabled": "true"}

	DescribeTable("is the environment the chart gives its Deployment",
		func(extra environment.ChartValues) {
			values := environment.ChartValues{}
			for k, v := range base {
				values[k] = v
			}
			for k, v := range extra {
				values[k] = v
			}
			local, err := environment.ControllerEnv(values, environment.ChartCredentialsMountPath)
			Expect(err).NotTo(HaveOccurred())
			Expect(local).To(Equal(renderedControllerEnv(values)))
		},
		Entry("with the values this suite runs with", chartValues),
		Entry("with every optional setting set", func() environment.ChartValues {
			all := environment.ChartValues{"settings.leaderElection.name": "custom-lease"}
			for i, o := range environment.ChartOptionalSettings {
				all[o[0]] = "value-" + strconv.Itoa(i)
			}
			return all
		}()),
	)

	It("is what the running controller process got: the chart's rendered env, its credentials path, and only its kubeconfig", func() {
		pid, values, credentialsDir, err := env.RunningController()
		Expect(err).NotTo(HaveOccurred())
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		Expect(err).NotTo(HaveOccurred())
		got := lo.Compact(strings.Split(string(raw), "\x00"))
		sort.Strings(got)
		// The chart mounts the credentials Secret at its fixed path; locally the same files sit in the work dir.
		want := lo.Map(renderedControllerEnv(values), func(e string, _ int) string {
			return strings.Replace(e, "="+environment.ChartCredentialsMountPath, "="+credentialsDir, 1)
		})
		want = append(want, "KUBECONFIG="+env.Kubeconfig)
		sort.Strings(want)
		Expect(got).To(Equal(want))
		Expect(string(raw)).NotTo(ContainSubstring("local-user-secret-key"), "the secret key only ever sits in the credentials file")
	})
})
