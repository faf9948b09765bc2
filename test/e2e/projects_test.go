package e2e_test

import (
	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// The controller run as an operator of a project-based cloud runs it: settings.cloudstack.project set, the account a
// member of the project. The rest of the suite runs the controller in the account itself.
var _ = Describe("A controller in a project", func() {
	It("launches VMs only in that project and garbage-collects only inside it", func() {
		clientFor := func(project string) *cloudstack.Client {
			return lo.Must(cloudstack.New(cloudstack.Options{APIURL: env.SimulatorURL, APIKey: "local-user-api-key",
				SecretKey: "local-user-secret-key", Project: project}))
		}
		inAccount, inProject := clientFor(""), clientFor("platform")
		admin := lo.Must(cloudstack.New(cloudstack.Options{APIURL: env.SimulatorURL, APIKey: "local-admin-api-key", SecretKey: "local-admin-secret-key"}))
		kubeSystem := &corev1.Namespace{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, kubeSystem)).To(Succeed())
		ours := instance.Owner{ClusterName: env.ClusterName, ClusterID: string(kubeSystem.UID)}

		// Two leaks of this cluster, stopped: one in the project, one in the account. Both deploys run at once; the
		// account's controller cannot collect the account's leak before it is restarted (the grace period is longer).
		zoneA := simulator.StableID("zone", "zone-a")
		start := func(api *cloudstack.Client, name, network string) (string, string) {
			p := &csgo.DeployVirtualMachineParams{}
			p.SetZoneid(zoneA)
			p.SetTemplateid(simulator.StableID("template", template))
			p.SetServiceofferingid(simulator.StableID("serviceoffering", "k8s.small"))
			p.SetNetworkids([]string{simulator.StableID("network", network)})
			p.SetName(name)
			p.SetGroup(ours.Group())
			p.SetStartvm(false)
			id, jobID := lo.Must2(api.DeployVM(ctx, p))
			lo.Must0(api.CreateTags(ctx, []string{id}, cloudstack.ResourceTypeUserVM, ours.Tags()))
			DeferCleanup(func() { _ = admin.DestroyVM(ctx, id, true) })
			return id, jobID
		}
		projectLeak, projectJob := start(inProject, "project-leak", "platform-nodes")
		accountLeak, accountJob := start(inAccount, "account-leak", "k8s-nodes")
		lo.Must(inProject.WaitForJob(ctx, projectJob))
		lo.Must(inAccount.WaitForJob(ctx, accountJob))

		// The controller in the project, with a grace period short enough for its first garbage collection pass.
		restoreProject := env.SetControllerValue("settings.cloudstack.project", "platform")
		restoreGrace := env.SetControllerValue("settings.gcGracePeriod", "1s")
		DeferCleanup(func() {
			restoreProject()
			restoreGrace()
			Expect(env.RestartController(ctx)).To(Succeed())
		})
		Expect(env.RestartController(ctx)).To(Succeed())

		state := func(id string) string {
			vm, found := lo.Find(lo.Must(env.Simulator.VirtualMachines(ctx)), func(vm simulator.VM) bool { return vm.ID == id })
			return lo.Ternary(found, vm.State, "gone")
		}
		Eventually(func() string { return state(projectLeak) }).Should(BeElementOf(simulator.StateDestroyed, simulator.StateExpunging, "gone"),
			"the project's leak is collected")
		Expect(state(accountLeak)).To(Equal(simulator.StateStopped), "a controller in a project never touches the account's VMs")
		Expect(admin.DestroyVM(ctx, accountLeak, true)).To(Succeed())

		nc := nodeClass("in-project", []string{"zone-a"}, "k8s.small")
		nc.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Tags: map[string]string{"k8s-role": "platform"}}}
		np := nodePool("in-project", nc.Name)
		dep := deployment("in-project", np.Name, 1, "1")
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		Eventually(func(g Gomega) {
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
			cond := nc.StatusConditions().Get(v1.ConditionTypeProjectReady)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal(nodeclass.ReasonProjectResolved), "%v", nc.Status.Conditions)
			g.Expect(nc.StatusConditions().Get(status.ConditionReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		}).Should(Succeed())
		Expect(nc.Status.Networks).To(ConsistOf(HaveField("Name", "platform-nodes")), "the project's network, not the account's")

		expectPodsRunning(dep, 1)
		expectInitialized(np.Name, 1)
		vms := clusterVMs()
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].Project).To(Equal("platform"), "the VM belongs to the project")
		Expect(vms[0].NetworkIDs).To(Equal([]string{simulator.StableID("network", "platform-nodes")}))
		expectVMsMatchNodeClaims(nc.Name)
	})
})
