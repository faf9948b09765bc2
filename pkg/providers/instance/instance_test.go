package instance_test

import (
	"encoding/base64"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var (
	encodedUserData = base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hello\n"))
	userData        = instance.StaticUserData(encodedUserData)
)

var _ = Describe("Create", func() {
	It("deploys the cheapest compatible offering with the NodeClass's resources and tags the VM", func() {
		nc := nodeClass()
		nc.Spec.RootDiskSize = ptr.To(resource.MustParse("30Gi"))
		inst, err := provider.Create(ctx, nc, nodeClaim("happy-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		vm := simVM(inst.ID)
		Expect(vm.Name).To(Equal("happy-1"))
		Expect(vm.DisplayName).To(Equal("happy-1"))
		Expect(vm.Group).To(Equal(owner.Group()))
		Expect(vm.State).To(Equal(simulator.StateRunning))
		Expect(vm.ServiceOfferingName).To(Equal("small"))
		Expect(vm.ZoneName).To(Equal("zone-a"), "ties in price go to the first zone by name")
		Expect(vm.TemplateID).To(Equal(id("template", "ubuntu")))
		Expect(vm.NetworkIDs).To(Equal([]string{id("network", "net-a2"), id("network", "net-a")}), "status order, default NIC first")
		Expect(vm.UserData).To(Equal(encodedUserData))
		Expect(vm.KeyPairs).To(ConsistOf("ops"))
		Expect(vm.AffinityGroupIDs).To(ConsistOf(id("affinitygroup", "spread")))
		Expect(vm.RootDiskSizeGiB).To(BeEquivalentTo(30))
		Expect(vm.Details).NotTo(HaveKey("cpuNumber"))
		Expect(vm.Tags).To(Equal(map[string]string{
			v1.TagKeyCluster: clusterName, v1.TagKeyClusterID: owner.ClusterID, v1.TagKeyNodeClass: "default",
			v1.TagKeyNodePool: "default", "team": "platform",
		}))
		Expect(inst.State).To(Equal(instance.StateRunning))
		Expect(inst.ServiceOfferingID).To(Equal(id("serviceoffering", "small")))
		Expect(inst.ZoneID).To(Equal(id("zone", "zone-a")))
		Expect(inst.CPU).To(Equal(1))
		Expect(inst.MemoryMiB).To(Equal(1024))
		Expect(inst.NetworkIDs[0]).To(Equal(id("network", "net-a2")))
		Expect(inst.DisplayName).To(Equal("happy-1"))
		Expect(inst.Created).NotTo(BeZero())
	})

	It("launches with deploy, createTags and one VM listing for each of their jobs when jobs finish at once", func() {
		sim.SetJobLatency(0)
		nc := nodeClass()
		its := listInstanceTypes(nc)
		sim.ResetCounts()
		_, err := provider.Create(ctx, nc, nodeClaim("requests-1"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		// A lone launch shares nothing: its deploy ends before the tagging window, so the tag job gets a listing of
		// its own (the VM lists the tags once the job ended).
		Expect(sim.Counts()).To(Equal(map[string]int64{"deployVirtualMachine": 1, "listVirtualMachines": 2, "createTags": 1}))
	})

	DescribeTable("honours the NodeClaim's requirements",
		func(reqs []string, offering, zone string) {
			nc := nodeClass()
			inst, err := provider.Create(ctx, nc, nodeClaim("reqs-"+offering+"-"+zone, req(reqs[0], reqs[1:]...)), listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			Expect(inst.ServiceOfferingName).To(Equal(offering))
			Expect(inst.ZoneName).To(Equal(zone))
		},
		Entry("zone", []string{corev1.LabelTopologyZone, "zone-b"}, "small", "zone-b"),
		Entry("instance type", []string{corev1.LabelInstanceTypeStable, "medium"}, "medium", "zone-a"),
		Entry("provider cpu label", []string{v1.LabelInstanceCPU, "2"}, "custom", "zone-a"),
	)

	It("sizes customized offerings through details", func() {
		nc := nodeClass()
		inst, err := provider.Create(ctx, nc, nodeClaim("custom-1", req("node.kubernetes.io/instance-type", "custom-4c16g")), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		vm := simVM(inst.ID)
		Expect(vm.ServiceOfferingName).To(Equal("custom"))
		Expect(vm.Details).To(HaveKeyWithValue("cpuNumber", "4"))
		Expect(vm.Details).To(HaveKeyWithValue("memory", "16384"))
		Expect(vm.Details).To(HaveKeyWithValue("cpuSpeed", "2000"))
		Expect(inst.CPU).To(Equal(4))
		Expect(inst.MemoryMiB).To(Equal(16384))
	})

	It("falls back to the next candidate after a capacity failure and remembers it", func() {
		nc := nodeClass()
		sim.FailNextDeploys(1, "zone-a", "small")
		inst, err := provider.Create(ctx, nc, nodeClaim("ice-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ServiceOfferingName).To(Equal("small"))
		Expect(inst.ZoneName).To(Equal("zone-b"))
		Expect(unavailable.IsUnavailable("small", "zone-a")).To(BeTrue())
		Expect(vmsInState(simulator.StateError)).To(BeEmpty())
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(2))
		// The next launch skips the unavailable offering without trying it.
		sim.ResetCounts()
		inst, err = provider.Create(ctx, nc, nodeClaim("ice-2"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ZoneName).To(Equal("zone-b"))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(1))
	})

	It("returns an insufficient-capacity error and leaves no VM when every candidate fails", func() {
		nc := nodeClass()
		sim.FailNextDeploys(5, "", "")
		_, err := provider.Create(ctx, nc, nodeClaim("ice-all", req(corev1.LabelInstanceTypeStable, "small")), listInstanceTypes(nc), userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue(), "%v", err)
		Expect(unavailable.IsUnavailable("small", "zone-a")).To(BeTrue())
		Expect(unavailable.IsUnavailable("small", "zone-b")).To(BeTrue())
		for _, vm := range sim.VirtualMachines() {
			Expect(vm.State).To(BeElementOf(simulator.StateExpunging, simulator.StateDestroyed), vm.Name)
		}
	})

	It("returns an insufficient-capacity error when no offering is compatible", func() {
		nc := nodeClass()
		_, err := provider.Create(ctx, nc, nodeClaim("none", req(corev1.LabelTopologyZone, "zone-z")), listInstanceTypes(nc), userData)
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeTrue())
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeZero())
	})

	It("is idempotent: a second Create adopts the VM of the first", func() {
		nc := nodeClass()
		its := listInstanceTypes(nc)
		first, err := provider.Create(ctx, nc, nodeClaim("twice"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		second, err := provider.Create(ctx, nc, nodeClaim("twice"), its, userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.ID).To(Equal(first.ID))
		named := 0
		for _, vm := range sim.VirtualMachines() {
			if vm.Name == "twice" {
				named++
			}
		}
		Expect(named).To(Equal(1))
	})

	It("adopts and tags a VM whose Create was lost before tagging", func() {
		nc := nodeClass()
		vmID, _ := deployAsLostCreate("lost")
		// The VM is still starting: Create must wait for it rather than deploy another.
		inst, err := provider.Create(ctx, nc, nodeClaim("lost"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(inst.ID).To(Equal(vmID))
		Expect(inst.State).To(Equal(instance.StateRunning))
		Expect(simVM(vmID).Tags).To(HaveKeyWithValue(v1.TagKeyCluster, clusterName))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(2))
	})

	It("adopts the VM a previous process launched for an older NodeClaim, even where the cheapest zone changed", func() {
		nc := nodeClass()
		claim := nodeClaim("restarted")
		first, err := provider.Create(ctx, nc, claim, listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(first.ZoneName).To(Equal("zone-a"))

		// The controller restarts: a new provider, whose unavailable-offerings cache now steers the cheapest
		// candidate to zone-b, where no duplicate-hostname error would stop a second deploy.
		restartedUnavailable := cache.NewUnavailableOfferings()
		for _, name := range []string{"small", "medium"} {
			restartedUnavailable.MarkUnavailable(ctx, "test", name, "zone-a")
		}
		restartedTypes := instancetype.NewDefaultProvider(api, restartedUnavailable, map[string]float64{"small": 0.01})
		restarted := instance.NewDefaultProvider(api, restartedUnavailable, owner, instance.WithServiceOfferings(restartedTypes))
		claim.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
		sim.ResetCounts()
		second, err := restarted.Create(ctx, nc, claim, listWith(restartedTypes, nc), userData)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.ID).To(Equal(first.ID))
		Expect(sim.Counts()["deployVirtualMachine"]).To(BeZero())
	})

	It("never adopts another cluster's VM", func() {
		nc := nodeClass()
		other := instance.NewDefaultProvider(api, unavailable, instance.Owner{ClusterName: "other-cluster", ClusterID: "c0ffee00-0000-4000-8000-000000000001"}, instance.WithServiceOfferings(instanceTypes))
		_, err := other.Create(ctx, nc, nodeClaim("taken"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		_, err = provider.Create(ctx, nc, nodeClaim("taken"), listInstanceTypes(nc), userData)
		Expect(err).To(HaveOccurred())
		Expect(cloudprovider.IsInsufficientCapacityError(err)).To(BeFalse())
	})
})

var _ = Describe("Get, List, Delete, CreateTags and Reboot", func() {
	var inst *instance.Instance

	BeforeEach(func() {
		var err error
		nc := nodeClass()
		inst, err = provider.Create(ctx, nc, nodeClaim("life-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
	})

	It("gets a running VM", func() {
		got, err := provider.Get(ctx, inst.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Name).To(Equal("life-1"))
		Expect(got.Tags).To(HaveKeyWithValue(v1.TagKeyCluster, clusterName))
	})

	It("reports an unknown VM as not found", func() {
		_, err := provider.Get(ctx, "6f1b9c1e-0000-4000-8000-000000000000")
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "%v", err)
	})

	It("lists only this cluster's live VMs", func() {
		nc := nodeClass()
		other := instance.NewDefaultProvider(api, unavailable, instance.Owner{ClusterName: "other-cluster", ClusterID: "c0ffee00-0000-4000-8000-000000000001"}, instance.WithServiceOfferings(instanceTypes))
		_, err := other.Create(ctx, nc, nodeClaim("other-1"), listInstanceTypes(nc), userData)
		Expect(err).NotTo(HaveOccurred())
		list, err := provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(HaveLen(1))
		Expect(list[0].ID).To(Equal(inst.ID))
	})

	It("deletes, then reports the VM as not found everywhere", func() {
		Expect(provider.Delete(ctx, inst.ID)).To(Succeed())
		Expect(vmState(inst.ID)).To(BeElementOf(simulator.StateExpunging, simulator.StateDestroyed, ""))
		_, err := provider.Get(ctx, inst.ID)
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue(), "%v", err)
		Expect(cloudprovider.IsNodeClaimNotFoundError(provider.Delete(ctx, inst.ID))).To(BeTrue())
		list, err := provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(BeEmpty())
	})

	It("treats a VM in Error as gone for Get and List, but still destroys it", func() {
		sim.FailNextDeploys(1, "", "")
		p := &csgo.DeployVirtualMachineParams{}
		p.SetZoneid(id("zone", "zone-b"))
		p.SetServiceofferingid(id("serviceoffering", "small"))
		p.SetTemplateid(id("template", "ubuntu"))
		p.SetNetworkids([]string{id("network", "net-b")})
		p.SetName("broken")
		vmID, jobID, err := api.DeployVM(ctx, p)
		Expect(err).NotTo(HaveOccurred())
		_, err = api.WaitForJob(ctx, jobID)
		Expect(err).To(HaveOccurred())
		Expect(api.CreateTags(ctx, []string{vmID}, instance.ResourceTypeVM, owner.Tags())).To(Succeed())
		_, err = provider.Get(ctx, vmID)
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue())
		list, err := provider.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(list).To(HaveLen(1))
		Expect(provider.Delete(ctx, vmID)).To(Succeed())
		Expect(vmsInState(simulator.StateError)).To(BeEmpty())
	})

	It("updates tags in place", func() {
		Expect(provider.CreateTags(ctx, inst.ID, map[string]string{"team": "storage", "env": "prod"})).To(Succeed())
		Expect(simVM(inst.ID).Tags).To(HaveKeyWithValue("team", "storage"))
		Expect(simVM(inst.ID).Tags).To(HaveKeyWithValue("env", "prod"))
		Expect(simVM(inst.ID).Tags).To(HaveKeyWithValue(v1.TagKeyCluster, clusterName))
		sim.ResetCounts()
		Expect(provider.CreateTags(ctx, inst.ID, map[string]string{"team": "storage"})).To(Succeed())
		Expect(sim.Counts()).NotTo(HaveKey("createTags"), "unchanged tags are not written again")
	})

	It("reboots", func() {
		Expect(provider.Reboot(ctx, inst.ID)).To(Succeed())
		Expect(simVM(inst.ID).Reboots).To(Equal(1))
		Expect(cloudprovider.IsNodeClaimNotFoundError(provider.Reboot(ctx, "6f1b9c1e-0000-4000-8000-000000000000"))).To(BeTrue())
	})
})
