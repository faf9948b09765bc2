package test

import (
	"os"
	"path/filepath"

	karpapis "sigs.k8s.io/karpenter/pkg/apis"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// NewKubeEnvironment starts a real kube-apiserver and etcd with Karpenter's CRDs and ours installed, and makes
// Karpenter's test objects reference CloudStackNodeClasses. `make test` sets KUBEBUILDER_ASSETS; a bare `go test`
// falls back to where hack/envtest-assets.sh builds the binaries.
func NewKubeEnvironment() *coretest.Environment {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			_ = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join(home, ".cache/karpenter-cloudstack/envtest/1.36.3/bin"))
		}
	}
	env := coretest.NewEnvironment(coretest.WithCRDs(apis.CRDs...), coretest.WithCRDs(karpapis.CRDs...))
	coretest.SetDefaultNodeClassType(&v1.CloudStackNodeClass{})
	return env
}
