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
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// The demo applies examples/ as they are: their NodeClasses must resolve against the environment's catalog.
var _ = Describe("The examples", func() {
	BeforeEach(func() {
		// The join Secret their userDataSecretRef names, as the demo applies it.
		objs, err := environment.ReadManifests(filepath.Join("..", "..", "examples", "join-secret.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(objs).To(HaveLen(1))
		Expect(env.Client.Create(ctx, objs[0])).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, objs[0]))).To(Succeed()) })
	})
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

	It("joins a node from the single-zone example's userData on a RHEL-family template", func() {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", "nodeclass-single-zone.yaml"))
		Expect(err).NotTo(HaveOccurred())
		example := &v1.CloudStackNodeClass{}
		Expect(yaml.UnmarshalStrict(data, example)).To(Succeed())
		nc := nodeClass("example-rhel", []string{"zone-a"}, "k8s.small")
		nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "rocky-9-kube-v1.36"}}
		nc.Spec.UserData, nc.Spec.UserDataSecretRef, nc.Spec.Kubelet = example.Spec.UserData, example.Spec.UserDataSecretRef, example.Spec.Kubelet
		np := nodePool("example-rhel", nc.Name)
		dep := deployment("example-rhel", np.Name, 1, "500m")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, client.Object(nc))
		claim := expectInitialized(np.Name, 1)[0]
		vm, ok := vmOf(claim, clusterVMs())
		Expect(ok).To(BeTrue())
		Expect(vm.OSType).To(Equal("Rocky Linux 9"))
	})
})
