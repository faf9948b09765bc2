package instance_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

var _ = Describe("Launching and destroying many VMs at once", func() {
	const vms = 8
	var p *instance.DefaultProvider
	var ids []string

	BeforeEach(func() {
		// Polls and the tagging window long enough that a loaded machine still starts every launch within them.
		client, err := csEnv.Client(test.UserAccount, func(o *cloudstack.Options) {
			o.JobPollInterval, o.JobPollMaxInterval = 100*time.Millisecond, 200*time.Millisecond
		})
		Expect(err).NotTo(HaveOccurred())
		p = instance.NewDefaultProvider(client, unavailable, owner, instance.WithServiceOfferings(instanceTypes))
		sim.SetJobLatency(300 * time.Millisecond)
		ids = make([]string, vms)
	})
	launchAll := func() []error {
		nc := nodeClass()
		nc.Status.AffinityGroups = nil // anti-affinity would cap the VMs per zone at the simulated host count
		types := listInstanceTypes(nc)
		errs := make([]error, vms)
		sim.ResetCounts()
		parallel(vms, func(i int) {
			defer GinkgoRecover()
			inst, err := p.Create(ctx, nc, nodeClaim(fmt.Sprintf("many-%d", i)), types, userData)
			if errs[i] = err; err == nil {
				ids[i] = inst.ID
			}
		})
		return errs
	}
	expectTagged := func() {
		for _, id := range ids {
			vm := simVM(id)
			Expect(vm.Tags).To(HaveKeyWithValue(v1.TagKeyClusterID, owner.ClusterID))
			Expect(vm.Tags).To(HaveKeyWithValue("team", "platform"))
		}
	}

	It("tags them with one createTags and follows their deploy jobs by listing their VMs", func() {
		Expect(launchAll()).To(HaveEach(BeNil()))
		expectTagged()
		counts := sim.Counts()
		Expect(counts).To(HaveKeyWithValue("deployVirtualMachine", int64(vms)))
		Expect(counts["createTags"]).To(BeNumerically("<=", 2), "one call, two if a loaded machine split the launches")
		// Each createTags job is polled; no deploy job is, as their VMs show they run.
		Expect(counts["queryAsyncJobResult"]).To(BeNumerically("<", vms), "%v", counts)
		Expect(counts["listVirtualMachines"]).To(BeNumerically(">=", 1))
	})

	It("still tags every VM when CloudStack refuses their shared createTags", func() {
		sim.FailNextCommands("createTags", 1)
		Expect(launchAll()).To(HaveEach(BeNil()))
		expectTagged()
		Expect(sim.Counts()["createTags"]).To(BeNumerically(">", vms), "the refused batch, then each VM on its own")
	})

	It("waits for their destroys by listing their VMs", func() {
		Expect(launchAll()).To(HaveEach(BeNil()))
		sim.ResetCounts()
		parallel(vms, func(i int) {
			defer GinkgoRecover()
			Expect(p.Delete(ctx, ids[i])).To(Succeed())
		})
		for _, id := range ids {
			Expect(cloudprovider.IsNodeClaimNotFoundError(p.Delete(ctx, id))).To(BeTrue())
			Expect(vmState(id)).To(BeEmpty(), "expunged")
		}
		counts := sim.Counts()
		Expect(counts).To(HaveKeyWithValue("destroyVirtualMachine", int64(vms)))
		Expect(counts["queryAsyncJobResult"]).To(BeNumerically("<", vms), "%v", counts)
	})
})
