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

	// providerPolling is a provider whose first job poll interval is first, short against the spacing of the
	// operations a spec starts one after another: each join would bring a poll forward.
	providerPolling := func(first time.Duration) *instance.DefaultProvider {
		client, err := cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: sim.APIKey(), SecretKey: sim.SecretKey(),
			JobPollInterval: first, JobPollMaxInterval: 2 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		return instance.NewDefaultProvider(client, unavailable, owner, instance.WithServiceOfferings(instanceTypes))
	}
	// oneAfterAnother starts op for 0..vms-1 every apart, waits until all succeeded and returns how long they took
	// to start.
	oneAfterAnother := func(every time.Duration, op func(i int) error) time.Duration {
		done := make(chan error, vms)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var began time.Time
		for i := range vms {
			<-tick.C
			if i == 0 {
				began = time.Now()
			}
			go func() { done <- op(i) }()
		}
		joining := time.Since(began)
		for range vms {
			Eventually(done).WithTimeout(2 * time.Minute).Should(Receive(BeNil()))
		}
		return joining
	}

	It("tags them with one createTags and follows their deploy jobs by listing their VMs", func() {
		Expect(launchAll()).To(HaveEach(BeNil()))
		expectTagged()
		counts := sim.Counts()
		Expect(counts).To(HaveKeyWithValue("deployVirtualMachine", int64(vms)))
		Expect(counts["createTags"]).To(BeNumerically("<=", 2), "one call, two if a loaded machine split the launches")
		// Their VMs show they run, and carry their tags once the createTags job ended, so jobs are not polled. A
		// machine loaded by a parallel make test has had the follower ask one job (twice in 20 runs); the exact
		// count is proven by the lone launch in instance_test.go.
		Expect(counts["queryAsyncJobResult"]).To(BeNumerically("<=", 1), "%v", counts)
		Expect(counts["listVirtualMachines"]).To(BeNumerically(">=", 1))
	})

	It("still tags every VM when their shared createTags job fails after it was accepted", func() {
		sim.FailNextTagJobs(1)
		Expect(launchAll()).To(HaveEach(BeNil()))
		expectTagged()
		counts := sim.Counts()
		Expect(counts["createTags"]).To(BeNumerically(">", vms), "the failed batch, then each VM on its own")
		// The VMs listed without their tags: the batch's job was asked for, once per poll for all of them.
		Expect(counts["queryAsyncJobResult"]).To(BeNumerically(">=", 1))
		Expect(append(sim.VirtualMachines(), sim.ExpungedVirtualMachines()...)).To(HaveLen(vms), "the tagging failure launched no second VM")
	})

	It("still tags every VM when CloudStack refuses their shared createTags", func() {
		sim.FailNextCommands("createTags", 1)
		Expect(launchAll()).To(HaveEach(BeNil()))
		expectTagged()
		Expect(sim.Counts()["createTags"]).To(BeNumerically(">", vms), "the refused batch, then each VM on its own")
	})

	It("lets destroys started one after another share their listings, as a scale-down starts them", func() {
		Expect(launchAll()).To(HaveEach(BeNil()))
		const first = 40 * time.Millisecond
		deleter := providerPolling(first)
		// Its view of the VMs is warm, as core's List keeps it: each Delete finds its VM without a request.
		_, err := deleter.List(ctx)
		Expect(err).NotTo(HaveOccurred())
		sim.ResetCounts()
		joining := oneAfterAnother(first, func(i int) error { return deleter.Delete(ctx, ids[i]) })
		// While destroys keep joining, polls come at most every 4 first intervals; then a few settle the last
		// ones. At the first interval they came every 40-80 ms while the destroys joined (7-9 listings here).
		bound := int64(joining/(4*first)) + 3
		Expect(sim.Counts()["listVirtualMachines"]).To(BeNumerically("<=", bound), "%v, destroys joining for %s", sim.Counts(), joining)
	})

	It("lets launches started one after another share their listings, as a burst of deploys starts them", func() {
		const first = 40 * time.Millisecond
		launcher := providerPolling(first)
		sim.SetJobLatency(0)
		nc := nodeClass()
		nc.Status.AffinityGroups = nil
		types := listInstanceTypes(nc)
		sim.ResetCounts()
		joining := oneAfterAnother(first, func(i int) error {
			_, err := launcher.Create(ctx, nc, nodeClaim(fmt.Sprintf("burst-%d", i)), types, userData)
			return err
		})
		// While launches keep joining, polls come at most every 4 first intervals; then a few settle the last ones.
		// Polled a first interval after each join, the 8 launches took 8 or more listings.
		bound := int64(joining/(4*first)) + 3
		Expect(sim.Counts()["listVirtualMachines"]).To(BeNumerically("<=", bound), "%v, launches joining for %s", sim.Counts(), joining)
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
