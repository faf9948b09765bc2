package cloudstack_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

var _ = Describe("Client", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })

	Describe("options", func() {
		// What a user sets is validated once, by pkg/operator/options; New only refuses what it cannot build.
		It("refuses a CA bundle without a certificate, without printing the secret", func() {
			_, err := cloudstack.New(cloudstack.Options{APIURL: "https://cloud/client/api", APIKey: "k", SecretKey: "s3cr3t", CABundle: []byte("nope")})
			Expect(err).To(MatchError(ContainSubstring("no PEM certificate")))
			Expect(err.Error()).NotTo(ContainSubstring("s3cr3t"))
		})
	})

	Describe("reads", func() {
		It("lists the catalog through the real SDK and reports capabilities", func() {
			e := newEnv(nil)
			zones, err := e.client.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(zones).To(HaveLen(2))
			zoneID := e.zoneID(ctx, "zone-a")
			networks, err := e.client.ListNetworks(ctx, zoneID)
			Expect(err).NotTo(HaveOccurred())
			Expect(networks).To(ContainElement(HaveField("Name", "isolated-a")))
			templates, err := e.client.ListTemplates(ctx, zoneID)
			Expect(err).NotTo(HaveOccurred())
			Expect(templates).To(ContainElement(HaveField("Name", "ubuntu-24.04-kube-v1.37-amd64")), "not-ready templates are listed; providers filter")
			offerings, err := e.client.ListServiceOfferings(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(offerings).NotTo(ContainElement(HaveField("Name", "system-router")))
			groups, err := e.client.ListAffinityGroups(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(groups).To(ContainElement(HaveField("Name", "spread")))
			keys, err := e.client.ListSSHKeyPairs(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(keys).To(ContainElement(HaveField("Name", "karpenter-nodes")))
			capability, err := e.client.Capabilities(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(capability.Allowuserexpungerecovervm).To(BeTrue())
		})
	})

	Describe("VM lifecycle", func() {
		It("deploys, gets, tags, reboots and destroys a VM", func() {
			e := newEnv(nil)
			vmID := e.deploy(ctx, "node-1")
			vm, err := e.client.GetVM(ctx, vmID)
			Expect(err).NotTo(HaveOccurred())
			Expect(vm.Name).To(Equal("node-1"))
			Expect(vm.State).To(Equal("Running"))

			Expect(e.client.CreateTags(ctx, []string{vmID}, cloudstack.ResourceTypeUserVM, map[string]string{"a": "1", "b": "2"})).To(Succeed())
			vm, err = e.client.GetVM(ctx, vmID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cloudstack.TagMap(vm.Tags)).To(Equal(map[string]string{"a": "1", "b": "2"}))
			Expect(e.client.DeleteTags(ctx, []string{vmID}, cloudstack.ResourceTypeUserVM, map[string]string{"a": ""})).To(Succeed())
			vm, err = e.client.GetVM(ctx, vmID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cloudstack.TagMap(vm.Tags)).To(Equal(map[string]string{"b": "2"}))

			Expect(e.client.RebootVM(ctx, vmID)).To(Succeed())
			Expect(e.client.DestroyVM(ctx, vmID, true)).To(Succeed())
			_, err = e.client.GetVM(ctx, vmID)
			Expect(cserrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		})

		It("ANDs tag filters on the client side", func() {
			e := newEnv(nil)
			for name, tags := range map[string]map[string]string{
				"only-a": {"a": "1"}, "both": {"a": "1", "b": "2"}, "only-b": {"b": "2"}, "wrong-b": {"a": "1", "b": "3"},
			} {
				id := e.deploy(ctx, name)
				Expect(e.client.CreateTags(ctx, []string{id}, cloudstack.ResourceTypeUserVM, tags)).To(Succeed())
			}
			vms, err := e.client.ListVMs(ctx, "", map[string]string{"a": "1", "b": "2"})
			Expect(err).NotTo(HaveOccurred())
			Expect(vms).To(ConsistOf(HaveField("Name", "both")))
			vms, err = e.client.ListVMs(ctx, "", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(vms).To(HaveLen(4))
		})
	})

	Describe("paging", func() {
		It("pages through 1200 tags at CloudStack's page size of 500", func() {
			e := newEnv(nil)
			vmID := e.deploy(ctx, "tagged")
			tags := map[string]string{}
			for i := range 1200 {
				tags[fmt.Sprintf("key-%04d", i)] = "v"
			}
			Expect(e.client.CreateTags(ctx, []string{vmID}, cloudstack.ResourceTypeUserVM, tags)).To(Succeed())
			e.sim.ResetCounts()
			got, err := e.client.ListTags(ctx, cloudstack.ResourceTypeUserVM)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(HaveLen(1200))
			Expect(e.sim.Counts()["listTags"]).To(BeEquivalentTo(3))
		})

		DescribeTable("stops when count items arrived or a page is short",
			func(vms, pageSize, wantRequests int) {
				e := newEnv(nil, func(o *cloudstack.Options) { o.PageSize = pageSize })
				for i := range vms {
					e.deploy(ctx, fmt.Sprintf("vm-%d", i))
				}
				e.sim.ResetCounts()
				got, err := e.client.ListVMs(ctx, "", nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(HaveLen(vms))
				names := map[string]bool{}
				for _, vm := range got {
					names[vm.Name] = true
				}
				Expect(names).To(HaveLen(vms), "no VM listed twice")
				Expect(e.sim.Counts()["listVirtualMachines"]).To(BeEquivalentTo(wantRequests))
			},
			Entry("several full pages and a short one", 25, 10, 3),
			Entry("exact multiple of the page size", 20, 10, 2),
			Entry("one short page", 3, 10, 1),
			Entry("nothing", 0, 10, 1),
		)

		It("falls back to the server's default.page.size when it refuses the page size, and keeps it", func() {
			c := loadCatalog()
			c.Settings.MaxPageSize = 4
			e := newEnv(c) // the client asks for 500
			for i := range 9 {
				e.deploy(ctx, fmt.Sprintf("small-page-%d", i))
			}
			fresh, err := cloudstack.New(testOptions(e.sim, prometheus.NewRegistry()))
			Expect(err).NotTo(HaveOccurred())
			e.sim.ResetCounts()
			got, err := fresh.ListVMs(ctx, "", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(HaveLen(9))
			Expect(e.sim.Counts()["listVirtualMachines"]).To(BeEquivalentTo(1+3), "one refused request, then 3 pages of 4")
			e.sim.ResetCounts()
			zones, err := fresh.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(zones).NotTo(BeEmpty())
			Expect(e.sim.Counts()["listZones"]).To(BeEquivalentTo(1), "later listings use the server's limit at once")
		})
	})

	Describe("errors from the simulator", func() {
		It("classifies an unknown VM as not found", func() {
			e := newEnv(nil)
			_, err := e.client.GetVM(ctx, "6b1a2a4e-0000-4000-8000-000000000001")
			Expect(cserrors.IsNotFound(err)).To(BeTrue(), "%v", err)
			Expect(cserrors.IsInvalidParameter(err)).To(BeFalse())
			err = e.client.DestroyVM(ctx, "6b1a2a4e-0000-4000-8000-000000000001", false)
			Expect(cserrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		})

		It("classifies a failed deploy job as insufficient capacity, leaving the VM in Error", func() {
			e := newEnv(nil)
			e.sim.FailNextDeploys(1, "zone-a", "small")
			vmID, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "no-room"))
			Expect(err).NotTo(HaveOccurred())
			_, err = e.client.WaitForJob(ctx, jobID)
			Expect(cserrors.IsInsufficientCapacity(err)).To(BeTrue(), "%v", err)
			Expect(cserrors.Code(err)).To(Equal(533))
			vm, err := e.client.GetVM(ctx, vmID)
			Expect(err).NotTo(HaveOccurred())
			Expect(vm.State).To(Equal("Error"))
		})

		It("classifies an exhausted zone as insufficient capacity", func() {
			e := newEnv(nil)
			e.sim.SetZoneCapacity("zone-a", 1, 1024)
			_, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "too-big"))
			Expect(err).NotTo(HaveOccurred())
			_, err = e.client.WaitForJob(ctx, jobID)
			Expect(cserrors.IsInsufficientCapacity(err)).To(BeTrue(), "%v", err)
		})

		It("classifies an account limit as limit exceeded", func() {
			c := loadCatalog()
			one := int64(1)
			for i := range c.Accounts {
				if c.Accounts[i].APIKey == userKey {
					c.Accounts[i].Limits.UserVM = &one
				}
			}
			e := newEnv(c)
			e.deploy(ctx, "first")
			_, _, err := e.client.DeployVM(ctx, e.deployParams(ctx, "second"))
			Expect(cserrors.IsLimitExceeded(err)).To(BeTrue(), "%v", err)
			Expect(cserrors.IsInsufficientCapacity(err)).To(BeFalse())
		})

		It("classifies a wrong secret as unauthorized and does not retry it", func() {
			e := newEnv(nil, func(o *cloudstack.Options) { o.SecretKey = "wrong-secret" })
			_, err := e.client.ListZones(ctx)
			Expect(cserrors.IsUnauthorized(err)).To(BeTrue(), "%v", err)
			Expect(err.Error()).NotTo(ContainSubstring("wrong-secret"))
			Expect(e.sim.Counts()["listZones"]).To(BeEquivalentTo(1))
		})

		It("classifies a duplicate hostname and a bad template as invalid parameters", func() {
			e := newEnv(nil)
			e.deploy(ctx, "dup")
			_, _, err := e.client.DeployVM(ctx, e.deployParams(ctx, "dup"))
			Expect(cserrors.IsInvalidParameter(err)).To(BeTrue(), "%v", err)
			p := e.deployParams(ctx, "bad-template")
			p.SetTemplateid("6b1a2a4e-0000-4000-8000-000000000001")
			_, _, err = e.client.DeployVM(ctx, p)
			Expect(cserrors.IsInvalidParameter(err)).To(BeTrue(), "%v", err)
			Expect(cserrors.IsNotFound(err)).To(BeFalse())
		})

		It("classifies injected 530s as server errors and retries reads up to the bound", func() {
			e := newEnv(nil)
			e.sim.SetErrorRate("listZones", 1)
			_, err := e.client.ListZones(ctx)
			Expect(cserrors.IsServerError(err)).To(BeTrue(), "%v", err)
			Expect(e.sim.Counts()["listZones"]).To(BeEquivalentTo(3))
			Expect(requests(e, "listZones", "530")).To(BeEquivalentTo(3))
		})

		It("classifies throttling and retries reads up to the bound", func() {
			e := newEnv(nil)
			e.sim.SetThrottle(true)
			_, err := e.client.ListNetworks(ctx, "6b1a2a4e-0000-4000-8000-000000000001")
			Expect(cserrors.IsThrottled(err)).To(BeTrue(), "%v", err)
			Expect(e.sim.Counts()["listNetworks"]).To(BeEquivalentTo(3))
			Expect(requests(e, "listNetworks", "429")).To(BeEquivalentTo(3))
		})

		It("never retries writes", func() {
			e := newEnv(nil)
			p := e.deployParams(ctx, "once")
			e.sim.SetErrorRate("deployVirtualMachine", 1)
			_, _, err := e.client.DeployVM(ctx, p)
			Expect(cserrors.IsServerError(err)).To(BeTrue(), "%v", err)
			e.sim.SetErrorRate("deployVirtualMachine", 0)
			e.sim.SetThrottle(true)
			_, _, err = e.client.DeployVM(ctx, p)
			Expect(cserrors.IsThrottled(err)).To(BeTrue(), "%v", err)
			Expect(e.sim.Counts()["deployVirtualMachine"]).To(BeEquivalentTo(2))
		})

		It("recovers from a dropped connection on a read", func() {
			e := newEnv(nil)
			e.sim.DropNextConnections(1)
			zones, err := e.client.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(zones).To(HaveLen(2))
			Expect(e.sim.Counts()["listZones"]).To(BeEquivalentTo(2))
		})
	})

	Describe("rate limiting", func() {
		It("lets a burst through and holds the next request until the context gives up", func() {
			e := newEnv(nil, func(o *cloudstack.Options) { o.QPS, o.Burst = 0.001, 3 })
			for range 3 {
				_, err := e.client.ListZones(ctx)
				Expect(err).NotTo(HaveOccurred())
			}
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := e.client.ListZones(short)
			Expect(err).To(MatchError(ContainSubstring("rate limit")))
			Expect(e.sim.TotalRequests()).To(BeEquivalentTo(3))
		})
	})

	Describe("job poller", func() {
		It("polls until the job ends", func() {
			e := newEnv(nil)
			// Long enough that a poll sees the job pending even on a loaded machine (the client polls every 2-10 ms):
			// with 30 ms the first poll sometimes came after the job had ended.
			e.sim.SetJobLatency(time.Second)
			_, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "slow"))
			Expect(err).NotTo(HaveOccurred())
			result, err := e.client.WaitForJob(ctx, jobID)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(result)).To(ContainSubstring(`"name":"slow"`))
			Expect(e.sim.Counts()["queryAsyncJobResult"]).To(BeNumerically(">", 1))
		})

		It("returns when the context is cancelled", func() {
			e := newEnv(nil)
			e.sim.SetJobLatency(time.Hour)
			_, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "never"))
			Expect(err).NotTo(HaveOccurred())
			cctx, cancel := context.WithCancel(ctx)
			go func() {
				defer GinkgoRecover()
				Eventually(func() int64 { return e.sim.Counts()["queryAsyncJobResult"] }).WithTimeout(30 * time.Second).Should(BeNumerically(">=", 2))
				cancel()
			}()
			_, err = e.client.WaitForJob(cctx, jobID)
			Expect(errors.Is(err, context.Canceled)).To(BeTrue(), "%v", err)
		})

		It("gives up after the job timeout", func() {
			e := newEnv(nil, func(o *cloudstack.Options) { o.JobTimeout = 30 * time.Millisecond })
			e.sim.SetJobLatency(time.Hour)
			_, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "never"))
			Expect(err).NotTo(HaveOccurred())
			_, err = e.client.WaitForJob(ctx, jobID)
			Expect(err).To(MatchError(ContainSubstring("did not finish within")))
		})

		It("returns from a hanging request when the context ends", func() {
			e := newEnv(nil)
			e.sim.SetCommandLatency("listZones", time.Hour, 0)
			cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err := e.client.ListZones(cctx)
			Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "%v", err)
			Expect(requests(e, "listZones", "canceled")).To(BeEquivalentTo(1))
		})
	})

	Describe("metrics", func() {
		It("counts requests per command and code and shares collectors between clients on one registry", func() {
			e := newEnv(nil)
			_, err := e.client.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
			other, err := cloudstack.New(testOptions(e.sim, e.registry))
			Expect(err).NotTo(HaveOccurred())
			_, err = other.ListZones(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(requests(e, "listZones", "200")).To(BeEquivalentTo(2))
			families, err := e.registry.Gather()
			Expect(err).NotTo(HaveOccurred())
			Expect(families).To(ContainElement(HaveField("Name", HaveValue(Equal("karpenter_cloudstack_api_request_duration_seconds")))))
		})

		It("counts an async command's result under the command, whichever request carried it", func() {
			e := newEnv(nil)
			results := func(command, code string) float64 {
				return counter(e, "karpenter_cloudstack_api_results_total", command, code)
			}
			// A capacity failure arrives in queryAsyncJobResult, whose request succeeded.
			e.sim.FailNextDeploys(1, "zone-a", "small")
			_, jobID, err := e.client.DeployVM(ctx, e.deployParams(ctx, "no-room"))
			Expect(err).NotTo(HaveOccurred())
			_, err = e.client.WaitForJob(ctx, jobID)
			Expect(cserrors.Code(err)).To(Equal(533))
			Expect(results("deployVirtualMachine", "533")).To(BeEquivalentTo(1))
			Expect(requests(e, "deployVirtualMachine", "533")).To(BeZero(), "no request answered 533")
			Expect(results("deployVirtualMachine", "200")).To(BeZero(), "an accepted deploy is no result yet")

			id := e.deploy(ctx, "fits")
			Expect(results("deployVirtualMachine", "200")).To(BeEquivalentTo(1))
			Expect(e.client.DestroyVM(ctx, id, true)).To(Succeed())
			Expect(results("destroyVirtualMachine", "200")).To(BeEquivalentTo(1))
			// A refusal before any job counts at once; sync commands count like their requests.
			_, _, err = e.client.DeployVM(ctx, e.deployParams(ctx, "bad name!"))
			Expect(cserrors.Code(err)).To(Equal(431))
			Expect(results("deployVirtualMachine", "431")).To(BeEquivalentTo(1))
			Expect(results("listZones", "200")).To(Equal(requests(e, "listZones", "200")))
			Expect(results("queryAsyncJobResult", "200")).To(Equal(requests(e, "queryAsyncJobResult", "200")))
		})
	})
})
