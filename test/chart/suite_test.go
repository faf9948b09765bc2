package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	// Registers CloudStackNodeClass in client-go's scheme for the typed clients below.
	_ "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	// Registers the provider's options among coreoptions.Injectables, so the option coverage test sees them.
	_ "github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	// Registers NodePool and NodeClaim likewise.
	_ "sigs.k8s.io/karpenter/pkg/apis/v1"
)

var (
	ctx      context.Context
	testEnv  *envtest.Environment
	cfg      *rest.Config
	admin    client.Client
	repoRoot string
	helmBin  string
)

func TestChart(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Chart")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	helmBin = filepath.Join(repoRoot, ".tools", "helm")
	_, err = os.Stat(helmBin)
	Expect(err).NotTo(HaveOccurred(), "helm is not installed at %s: run hack/install-helm.sh (make test does)", helmBin)
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS must point at the control-plane binaries: export KUBEBUILDER_ASSETS=\"$(hack/envtest-assets.sh | tail -n1)\"")

	// No CRDs are handed to envtest: installing the chart's crds/ is part of what is tested.
	testEnv = &envtest.Environment{}
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
