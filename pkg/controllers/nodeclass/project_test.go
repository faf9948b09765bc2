package nodeclass_test

import (
	"context"
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	coretest "sigs.k8s.io/karpenter/pkg/test"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// The controller's project setting, seen on every NodeClass: the suite's cloud plus projects, one of which the key's
// account (karpenter) is no member of, and a network the project owns.
var _ = Describe("The project setting", func() {
	var (
		cat     *simulator.Catalog
		projSim *simulator.Server
	)
	BeforeEach(func() {
		var err error
		cat, err = simulator.ParseCatalog([]byte(catalogYAML))
		Expect(err).ToNot(HaveOccurred())
		cat.Projects = []simulator.Project{
			{Name: "platform", Members: []string{"karpenter"}},
			{Name: "finance", Members: []string{"admin"}},
			{Name: "frozen", State: "Suspended", Members: []string{"karpenter"}},
		}
		cat.Networks = append(cat.Networks, simulator.Network{Name: "net-platform", Zone: "zone-a", Project: "platform"})
		// A catalog is completed (defaults, owners) when parsed; JSON is YAML.
		cat, err = simulator.ParseCatalog(lo.Must(json.Marshal(cat)))
		Expect(err).ToNot(HaveOccurred())
	})
	// controllerIn is the NodeClass controller of a binary started with --cloudstack-project=projectRef, wired by the
	// operator over its own simulator of the catalog above (projSim).
	controllerIn := func(projectRef string) *nodeclass.Controller {
		e, err := test.NewEnvironment(test.WithCatalog(cat), test.WithJobLatency(0),
			test.WithOptions(func(o *options.Options) { o.Project = projectRef }),
			test.WithClientOptions(func(o *cloudstack.Options) { o.RetryMaxAttempts = 1 }))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(e.Close)
		projSim = e.Simulator
		return nodeclass.NewController(env.Client, coretest.NewEventRecorder(), fakeClock, e.NodeClassProviders())
	}
	inProject := func(nc *v1.CloudStackNodeClass) {
		nc.Spec.ZoneSelectorTerms = names("zone-a")
		nc.Spec.NetworkSelectorTerms = names("net-platform")
		nc.Spec.AffinityGroupSelectorTerms, nc.Spec.SSHKeyPair = nil, nil
	}

	It("resolves the NodeClass inside the project the key's account is a member of", func() {
		nc := newNodeClass(inProject)
		ExpectApplied(ctx, env.Client, nc)
		ExpectObjectReconciled(ctx, env.Client, controllerIn("platform"), nc)
		nc = ExpectExists(ctx, env.Client, nc)
		Expect(condition(nc, v1.ConditionTypeProjectReady).Reason).To(Equal(nodeclass.ReasonProjectResolved))
		Expect(condition(nc, v1.ConditionTypeProjectReady).Message).To(ContainSubstring(simulator.StableID("project", "platform")))
		// The project's network is visible only with its projectid.
		Expect(nc.Status.Networks).To(ConsistOf(HaveField("Name", "net-platform")))
		Expect(nc.StatusConditions().Root().IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
	})

	It("is NotConfigured without a project", func() {
		nc := newNodeClass()
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, v1.ConditionTypeProjectReady).IsTrue()).To(BeTrue())
		Expect(condition(nc, v1.ConditionTypeProjectReady).Reason).To(Equal(nodeclass.ReasonNotConfigured))
	})

	DescribeTable("makes every NodeClass not Ready, naming the setting and the fix, and lists nothing outside the project",
		func(ctx context.Context, ref, reason, message string) {
			nc := newNodeClass(inProject)
			other := newNodeClass(inProject)
			other.Name = "other"
			ExpectApplied(ctx, env.Client, nc, other)
			c := controllerIn(ref)
			projSim.ResetCounts()
			// No error: the controller keeps running and requeues, the condition says what is wrong.
			ExpectObjectReconciled(ctx, env.Client, c, nc)
			ExpectObjectReconciled(ctx, env.Client, c, other)
			for _, n := range []*v1.CloudStackNodeClass{nc, other} {
				n = ExpectExists(ctx, env.Client, n)
				cond := condition(n, v1.ConditionTypeProjectReady)
				Expect(cond.IsFalse()).To(BeTrue())
				Expect(cond.Reason).To(Equal(reason))
				Expect(cond.Message).To(And(ContainSubstring("--cloudstack-project"), ContainSubstring("settings.cloudstack.project"), ContainSubstring(message)))
				ready := n.StatusConditions().Root()
				Expect(ready.IsFalse()).To(BeTrue())
				Expect(ready.Message).To(ContainSubstring("ProjectReady=False"))
			}
			counts := projSim.Counts()
			Expect(counts).To(HaveKey("listProjects"))
			for _, scoped := range []string{"listNetworks", "listTemplates", "listAffinityGroups", "listSSHKeyPairs", "listSecurityGroups"} {
				Expect(counts).NotTo(HaveKey(scoped), "%s must not be sent without the project", scoped)
			}
		},
		Entry("an unknown project name", "no-such-project", cserrors.ReasonProjectNotFound, "add the account to the project"),
		Entry("a project the key's account is no member of", "finance", cserrors.ReasonProjectNotFound, "add the account to the project"),
		Entry("an unknown project ID", "0b6a5d3e-1c2f-4e7a-9b8d-3f1e2d4c5a6b", cserrors.ReasonProjectNotFound, "no project has that ID"),
		Entry("a suspended project", "frozen", cserrors.ReasonProjectNotActive, "is Suspended"),
	)
})
