package v1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	karpenterapis "sigs.k8s.io/karpenter/pkg/apis"
	"sigs.k8s.io/karpenter/pkg/test"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

var (
	ctx context.Context
	env *test.Environment
)

func TestAPIs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CloudStackNodeClass API")
}

// The CRD is validated by a real kube-apiserver, so the CEL rules and schema markers are tested as users meet them.
var _ = BeforeSuite(func() {
	ctx = context.Background()
	env = test.NewEnvironment(test.WithCRDs(apis.CRDs...), test.WithCRDs(karpenterapis.CRDs...))
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

var _ = AfterEach(func() {
	Expect(env.Client.DeleteAllOf(ctx, &v1.CloudStackNodeClass{})).To(Succeed())
})
