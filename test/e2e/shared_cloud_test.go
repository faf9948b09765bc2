package e2e_test

import (
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// The running controller on a cloud it shares: another cluster of the same name in its account, and a cluster of the
// same name (and, at worst, the same ID) in another account whose key is a root admin's.
var _ = Describe("A shared cloud", func() {
	It("garbage-collects this cluster's leak and never another cluster's VMs of the same name", func() {
		clientFor := func(key, secret string) *cloudstack.Client {
			return lo.Must(cloudstack.New(cloudstack.Options{APIURL: env.SimulatorURL, APIKey: key, SecretKey: secret}))
		}
		user, admin := clientFor("local-user-api-key", "local-user-secret-key"), clientFor("local-admin-api-key", "local-admin-secret-key")
		kubeSystem := &corev1.Namespace{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, kubeSystem)).To(Succeed())
		ours := instance.Owner{ClusterName: env.ClusterName, ClusterID: string(kubeSystem.UID)}
		sameName := instance.Owner{ClusterName: env.ClusterName, ClusterID: "3f0d5a8e-2b7c-4c1e-9f64-8a5b0d2c7e19"}

		zones := lo.Must(user.ListZones(ctx))
		zoneA, _ := lo.Find(zones, func(z *csgo.Zone) bool { return z.Name == "zone-a" })
		templates := lo.Must(user.ListTemplates(ctx, zoneA.Id))
		tmpl, _ := lo.Find(templates, func(t *csgo.Template) bool { return t.Name == template })
		offerings := lo.Must(user.ListServiceOfferings(ctx))
		small, _ := lo.Find(offerings, func(o *csgo.ServiceOffering) bool { return o.Name == "k8s.small" })
		networkID := func(api *cloudstack.Client, name string) string {
			n, _ := lo.Find(lo.Must(api.ListNetworks(ctx, zoneA.Id)), func(n *csgo.Network) bool { return n.Name == name })
			return n.Id
		}
		// Stopped VMs: the node agent plays kubelet only for running ones, and the garbage collector looks at every state.
		deploy := func(api *cloudstack.Client, name, network string, owner instance.Owner, tagged bool) string {
			p := &csgo.DeployVirtualMachineParams{}
			p.SetZoneid(zoneA.Id)
			p.SetTemplateid(tmpl.Id)
			p.SetServiceofferingid(small.Id)
			p.SetNetworkids([]string{networkID(api, network)})
			p.SetName(name)
			p.SetGroup(owner.Group())
			p.SetStartvm(false)
			id, jobID := lo.Must2(api.DeployVM(ctx, p))
			if tagged {
				lo.Must0(api.CreateTags(ctx, []string{id}, cloudstack.ResourceTypeUserVM, owner.Tags()))
			}
			lo.Must(api.WaitForJob(ctx, jobID))
			DeferCleanup(func() { _ = admin.DestroyVM(ctx, id, true) })
			return id
		}
		leak := deploy(user, "shared-leak", "k8s-nodes", ours, true)
		foreign := []string{
			deploy(user, "shared-same-name", "k8s-nodes", sameName, true),
			deploy(user, "shared-same-name-untagged", "k8s-nodes", sameName, false),
			deploy(admin, "shared-other-account", "public-a", ours, true),
		}
		state := func(id string) string {
			vm, found := lo.Find(lo.Must(env.Simulator.VirtualMachines(ctx)), func(vm simulator.VM) bool { return vm.ID == id })
			return lo.Ternary(found, vm.State, "gone")
		}
		// The leak goes after the grace period, at the garbage collector's next pass (every 2 minutes).
		Eventually(func() string { return state(leak) }).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).
			Should(BeElementOf(simulator.StateDestroyed, simulator.StateExpunging, "gone"))
		for _, id := range foreign {
			Expect(state(id)).To(Equal(simulator.StateStopped), "VM %s belongs to another cluster", id)
		}
	})
})
