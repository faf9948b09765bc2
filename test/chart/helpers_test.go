package chart_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// release is one way of installing the chart: a release name, a namespace and the values it is rendered with.
type release struct {
	name      string
	namespace string
	// args are extra helm arguments: -f files (relative to the repository root) and --set flags.
	args []string
}

func (r release) helmArgs(command string) []string {
	args := []string{command}
	if command == "template" {
		args = append(args, r.name)
	}
	args = append(args, filepath.Join(repoRoot, "charts", "karpenter-cloudstack"), "--namespace", r.namespace)
	for i := 0; i < len(r.args); i++ {
		if r.args[i] == "-f" {
			args = append(args, "-f", filepath.Join(repoRoot, r.args[i+1]))
			i++
			continue
		}
		args = append(args, r.args[i])
	}
	return args
}

// helm runs the project's helm binary with a private home so that no user configuration or repository cache leaks in.
func helm(args ...string) (string, error) {
	home, err := os.MkdirTemp("", "helm-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(helmBin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %v: %w\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// render returns the release's manifests, CRDs included, as helm install would create them.
func render(r release) []*unstructured.Unstructured {
	// Without --kube-version helm renders for Kubernetes v1.20, below the chart's kubeVersion; use envtest's version.
	out, err := helm(append(r.helmArgs("template"), "--include-crds", "--kube-version", "v1.36.3")...)
	Expect(err).NotTo(HaveOccurred())
	return decode(bytes.NewBufferString(out))
}

func decode(in io.Reader) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		Expect(err).NotTo(HaveOccurred())
		obj := map[string]any{}
		Expect(utilyaml.Unmarshal(doc, &obj)).To(Succeed())
		if len(obj) == 0 {
			continue // a document holding only comments
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
}

func decodeFile(path string) []*unstructured.Unstructured {
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	return decode(f)
}

// apply server-side applies objects in the order the apiserver needs: CRDs (waiting until they are served), then
// namespaces, then everything else.
func apply(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			return 0
		case "Namespace":
			return 1
		}
		return 2
	}
	sorted := append([]*unstructured.Unstructured{}, objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	for _, o := range sorted {
		if rank(o) > 0 {
			waitForCRDs(objs)
		}
		Expect(admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("chart-test"), client.ForceOwnership)).To(Succeed(), "applying %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	}
}

func waitForCRDs(objs []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		Eventually(func(g Gomega) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: o.GetName()}, crd)).To(Succeed())
			established := false
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			g.Expect(established).To(BeTrue(), "CRD %s is not established", o.GetName())
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	}
}

func ensureNamespace(name string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := admin.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func kinds(objs []*unstructured.Unstructured) map[string]int {
	out := map[string]int{}
	for _, o := range objs {
		out[o.GetKind()]++
	}
	return out
}
