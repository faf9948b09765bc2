package test

import (
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	"sigs.k8s.io/karpenter/pkg/test/expectations"
)

// Suite is the setup of a Ginkgo suite that provisions through Karpenter core against a real kube-apiserver: one
// kube environment and one CloudStack Environment for the whole suite. Before each spec the Environment is Reset and
// Karpenter wired anew around it; after each spec the kube objects are removed.
type Suite struct {
	Kube *coretest.Environment
	// CloudStack is the Environment Karpenter is wired around: the suite's, or one a spec passed to Use.
	CloudStack *Environment
	*Karpenter

	shared *Environment
	wired  func(*Suite)
}

// NewSuite registers the suite's BeforeSuite, AfterSuite, BeforeEach and AfterEach with Ginkgo; call it once, at
// package level. wired runs whenever Karpenter has been wired (before each spec, and on Use), for suites that keep
// the parts in variables of their own.
func NewSuite(wired func(*Suite), opts ...EnvironmentOption) *Suite {
	s := &Suite{wired: wired}
	ginkgo.BeforeSuite(func() {
		s.Kube = NewKubeEnvironment()
		var err error
		s.shared, err = NewEnvironment(opts...)
		gomega.Expect(err).ToNot(gomega.HaveOccurred())
	})
	ginkgo.AfterSuite(func() {
		if s.shared != nil {
			s.shared.Close()
		}
		if s.Kube != nil { // nil when BeforeSuite failed
			gomega.Expect(s.Kube.Stop()).To(gomega.Succeed())
		}
	})
	ginkgo.BeforeEach(func() {
		gomega.Expect(s.shared.Reset()).To(gomega.Succeed())
		s.Use(s.shared)
	})
	ginkgo.AfterEach(func() {
		expectations.ExpectCleanedUp(s.Context, s.Kube.Client)
	})
	return s
}

// Use wires Karpenter around e for the rest of the spec: a spec that needs another catalog builds its own
// Environment (and closes it with DeferCleanup), or rewires after changing the Environment's providers.
func (s *Suite) Use(e *Environment) {
	s.CloudStack = e
	s.Karpenter = NewKarpenter(s.Kube, e)
	if s.wired != nil {
		s.wired(s)
	}
}
