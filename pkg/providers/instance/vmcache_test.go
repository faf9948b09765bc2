package instance_test

import (
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

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
