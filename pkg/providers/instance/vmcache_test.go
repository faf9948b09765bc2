package instance_test

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
)

var _ = Describe("Batched VM lookups", func() {
	// launch starts n VMs with the suite's provider and returns their IDs.
	launch := func(n int) []string {
		nc := nodeClass()
		nc.Status.AffinityGroups = nil // anti-affinity would cap the VMs per zone at the simulated host count
		types := listInstanceTypes(nc)
		ids := make([]string, n)
		for i := range ids {
			inst, err := provider.Create(ctx, nc, nodeClaim(fmt.Sprintf("batched-%d", i)), types, userData)
			Expect(err).NotTo(HaveOccurred())
			ids[i] = inst.ID
		}
		return ids
	}
	// freshProvider has an empty view of the VMs, as after a restart.
	freshProvider := func() *instance.DefaultProvider {
		return instance.NewDefaultProvider(api, unavailable, owner, instance.WithServiceOfferings(instanceTypes))
	}
	getAll := func(p *instance.DefaultProvider, ids []string, get func(*instance.DefaultProvider, string) (*instance.Instance, error)) []error {
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				inst, err := get(p, id)
				if err == nil {
					Expect(inst.ID).To(Equal(id))
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		return errs
	}
	get := func(p *instance.DefaultProvider, id string) (*instance.Instance, error) { return p.Get(ctx, id) }

	It("answers concurrent Gets of many VMs with one listVirtualMachines", func() {
		ids := launch(6)
		p := freshProvider()
		sim.ResetCounts()
		Expect(getAll(p, ids, get)).To(HaveEach(BeNil()))
		Expect(sim.Counts()).To(HaveKeyWithValue("listVirtualMachines", int64(1)))
		// Asked again at once, the view answers.
		Expect(getAll(p, ids, get)).To(HaveEach(BeNil()))
		Expect(sim.Counts()).To(HaveKeyWithValue("listVirtualMachines", int64(1)))
	})

	It("tells an unknown ID apart from the others of its batch, which CloudStack refuses as a whole", func() {
		ids := append(launch(2), "9c1f0b52-0000-4000-8000-000000000000")
		errs := getAll(freshProvider(), ids, get)
		Expect(errs[0]).NotTo(HaveOccurred())
		Expect(errs[1]).NotTo(HaveOccurred())
		Expect(cloudprovider.IsNodeClaimNotFoundError(errs[2])).To(BeTrue(), "%v", errs[2])
	})

	It("lists a VM it launched after the last listing without listing again", func() {
		Expect(provider.List(ctx)).To(BeEmpty())
		ids := launch(1)
		sim.ResetCounts()
		Expect(lo.Map(lo.Must(provider.List(ctx)), func(i *instance.Instance, _ int) string { return i.ID })).To(ConsistOf(ids[0]))
		Expect(sim.Counts()).NotTo(HaveKey("listVirtualMachines"))
	})

	It("knows a VM it destroyed is gone without asking", func() {
		Expect(provider.List(ctx)).To(BeEmpty())
		ids := launch(1)
		Expect(provider.Delete(ctx, ids[0])).To(Succeed())
		sim.ResetCounts()
		Expect(cloudprovider.IsNodeClaimNotFoundError(provider.Delete(ctx, ids[0]))).To(BeTrue())
		_, err := provider.Get(ctx, ids[0])
		Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue())
		Expect(provider.List(ctx)).To(BeEmpty())
		Expect(sim.Counts()).NotTo(HaveKey("listVirtualMachines"))
	})

	Context("with a clock that core's requeues outrun", func() {
		var (
			now time.Time
			p   *instance.DefaultProvider
		)
		BeforeEach(func() {
			now = time.Now()
			p = instance.NewDefaultProvider(api, unavailable, owner, instance.WithServiceOfferings(instanceTypes),
				instance.WithClock(func() time.Time { return now }))
		})
		launchOne := func() string {
			nc := nodeClass()
			inst, err := p.Create(ctx, nc, nodeClaim("requeued"), listInstanceTypes(nc), userData)
			Expect(err).NotTo(HaveOccurred())
			return inst.ID
		}

		It("answers NodeClaimNotFound for a VM it destroyed long after InstancesTTL, without asking", func() {
			vmID := launchOne()
			Expect(p.Delete(ctx, vmID)).To(Succeed())
			// Node termination requeues its Delete, and the NodeClaim finalizer deletes again, often more than
			// InstancesTTL later while a scale-down queues hundreds of nodes; a full listing may run in between.
			now = now.Add(cache.InstancesTTL + 20*time.Second)
			Expect(p.List(ctx)).To(BeEmpty())
			sim.ResetCounts()
			for range 2 {
				now = now.Add(cache.InstancesTTL + time.Second)
				Expect(cloudprovider.IsNodeClaimNotFoundError(p.Delete(ctx, vmID))).To(BeTrue())
				_, err := p.Get(ctx, vmID)
				Expect(cloudprovider.IsNodeClaimNotFoundError(err)).To(BeTrue())
			}
			Expect(sim.Counts()).NotTo(HaveKey("listVirtualMachines"))
		})

		It("deletes a VM from the last listing of the cluster without looking it up again", func() {
			vmID := launchOne()
			Expect(p.List(ctx)).To(HaveLen(1))
			now = now.Add(2 * time.Minute) // the garbage collectors list every 2 minutes
			// Every listVirtualMachines fails: a Delete that read the VM again would fail with it, while the
			// follower asks the destroy job itself when its listing fails.
			sim.SetErrorRate("listVirtualMachines", 1)
			DeferCleanup(sim.SetErrorRate, "listVirtualMachines", 0.0)
			Expect(p.Delete(ctx, vmID)).To(Succeed())
			Expect(sim.Counts()).To(HaveKeyWithValue("destroyVirtualMachine", int64(1)))
		})

		It("destroys a VM that went since the last listing without an error", func() {
			vmID := launchOne()
			Expect(p.List(ctx)).To(HaveLen(1))
			Expect(rootAPI.DestroyVM(ctx, vmID, true)).To(Succeed())
			now = now.Add(time.Minute)
			Expect(cloudprovider.IsNodeClaimNotFoundError(p.Delete(ctx, vmID))).To(BeTrue())
		})
	})

	It("serves drift checks of every VM from one listing of the cluster", func() {
		ids := launch(4)
		p := freshProvider()
		Expect(p.List(ctx)).To(HaveLen(4))
		sim.ResetCounts()
		for range 3 {
			Expect(getAll(p, ids, func(p *instance.DefaultProvider, id string) (*instance.Instance, error) {
				return p.GetForDrift(ctx, id)
			})).To(HaveEach(BeNil()))
		}
		Expect(sim.TotalRequests()).To(BeZero())
	})
})
