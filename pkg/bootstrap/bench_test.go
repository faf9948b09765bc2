package bootstrap_test

import (
	"os"
	"testing"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
)

// BenchmarkRender renders the kubeadm join example of docs/bootstrap.md, bounds included.
func BenchmarkRender(b *testing.B) {
	in, err := os.ReadFile("testdata/kubeadm-join.input")
	if err != nil {
		b.Fatal(err)
	}
	values := bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bootstrap.Render(string(in), values); err != nil {
			b.Fatal(err)
		}
	}
}
