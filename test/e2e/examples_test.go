package e2e_test

import (
	"os"
	"path/filepath"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// The demo applies examples/ as they are: their NodeClasses must resolve against the environment's catalog.
var _ = Describe("The examples", func() {
	DescribeTable("resolve against the demo's simulated cloud",
		func(file string) {
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
			Expect(err).NotTo(HaveOccurred())
			nc := &v1.CloudStackNodeClass{}
			Expect(yaml.UnmarshalStrict(data, nc)).To(Succeed())
			nc.Name = "example-" + nc.Name
			create(nc)
			DeferCleanup(cleanup, client.Object(nc))
			Eventually(func(g Gomega) {
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
				ready := nc.StatusConditions().Get(status.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.IsTrue()).To(BeTrue(), "%s: %s", file, ready.Message)
			}).Should(Succeed())
		},
		Entry("single zone", "nodeclass-single-zone.yaml"),
		Entry("multi zone", "nodeclass-multi-zone.yaml"),
	)
})
