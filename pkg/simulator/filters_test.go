package simulator_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func tag(cs *csgo.CloudStackClient, id string, tags map[string]string) *csgo.QueryAsyncJobResultResponse {
	r, err := cs.Resourcetags.CreateTags(cs.Resourcetags.NewCreateTagsParams([]string{id}, "UserVm", tags))
	Expect(err).NotTo(HaveOccurred())
	return waitJob(cs, r.JobID)
}

func names(l *csgo.ListVirtualMachinesResponse) []string {
	var out []string
	for _, v := range l.VirtualMachines {
		out = append(out, v.Name)
	}
	return out
}

var _ = Describe("Tags and list filters", func() {
	var e *env
	var a, b, c string
	BeforeEach(func() {
		e = newEnv(nil)
		e.sim.SetJobLatency(0)
		a, _ = e.deploy("node-a", "small")
		b, _ = e.deploy("node-b", "small")
		c, _ = e.deploy("node-abc", "small")
		Expect(tag(e.user, a, map[string]string{"cluster": "one", "pool": "x"}).Jobstatus).To(Equal(1))
		Expect(tag(e.user, b, map[string]string{"cluster": "two", "pool": "x"}).Jobstatus).To(Equal(1))
	})

	list := func(cs *csgo.CloudStackClient, set func(*csgo.ListVirtualMachinesParams)) *csgo.ListVirtualMachinesResponse {
		p := cs.VirtualMachine.NewListVirtualMachinesParams()
		set(p)
		l, err := cs.VirtualMachine.ListVirtualMachines(p)
		Expect(err).NotTo(HaveOccurred())
		return l
	}

	It("ORs several tag filters, as real CloudStack does", func() {
		l := list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetTags(map[string]string{"cluster": "one", "pool": "x"}) })
		Expect(names(l)).To(ConsistOf("node-a", "node-b"), "node-b matches pool=x only: the filters are OR-ed")
		l = list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetTags(map[string]string{"cluster": "one"}) })
		Expect(names(l)).To(ConsistOf("node-a"))
	})

	It("shows tags on the VM and in listTags, and deletes them", func() {
		vm, _, err := e.user.VirtualMachine.GetVirtualMachineByID(a)
		Expect(err).NotTo(HaveOccurred())
		Expect(vm.Tags).To(ContainElement(And(HaveField("Key", "cluster"), HaveField("Value", "one"), HaveField("Resourcetype", "UserVm"), HaveField("Resourceid", a))))
		p := e.user.Resourcetags.NewListTagsParams()
		p.SetResourceid(a)
		l, err := e.user.Resourcetags.ListTags(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(2))
		d, err := e.user.Resourcetags.DeleteTags(func() *csgo.DeleteTagsParams {
			dp := e.user.Resourcetags.NewDeleteTagsParams([]string{a}, "UserVm")
			dp.SetTags(map[string]string{"pool": ""})
			return dp
		}())
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, d.JobID).Jobstatus).To(Equal(1))
		l, err = e.user.Resourcetags.ListTags(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(1))
		Expect(l.Tags[0].Key).To(Equal("cluster"))
	})

	DescribeTable("fails the whole tag job as TaggedResourceManagerImpl does",
		func(tags map[string]string, code int, text string) {
			before := e.sim.VirtualMachines()
			j := tag(e.user, a, tags)
			Expect(j.Jobstatus).To(Equal(2))
			gotCode, gotText := jobError(j)
			Expect(gotCode).To(Equal(code))
			Expect(gotText).To(HavePrefix(text))
			Expect(e.sim.VirtualMachines()).To(Equal(before), "createTags is all or nothing")
		},
		Entry("an empty value, with 431", map[string]string{"a-ok": "v", "empty": ""}, 431, "Value for the key empty is either null or empty"),
		Entry("a key the VM already has, with 530", map[string]string{"cluster": "again"}, 530, "tag cluster already on UserVm with id "),
	)

	It("fails the tag job for an unknown resource", func() {
		j := tag(e.user, simulator.StableID("vm", "nope"), map[string]string{"k": "v"})
		Expect(j.Jobstatus).To(Equal(2))
	})

	It("fails deleteTags with 530 when it deletes nothing, and matches keys and values case-insensitively", func() {
		del := func(tags map[string]string) *csgo.QueryAsyncJobResultResponse {
			dp := e.user.Resourcetags.NewDeleteTagsParams([]string{a}, "UserVm")
			dp.SetTags(tags)
			d, err := e.user.Resourcetags.DeleteTags(dp)
			Expect(err).NotTo(HaveOccurred())
			return waitJob(e.user, d.JobID)
		}
		j := del(map[string]string{"no-such-key": ""})
		Expect(j.Jobstatus).To(Equal(2))
		code, text := jobError(j)
		Expect(code).To(Equal(530))
		Expect(text).To(Equal("Failed to delete tags"))
		Expect(del(map[string]string{"CLUSTER": "ONE"}).Jobstatus).To(Equal(1))
	})

	It("matches name exactly by default, and as a substring in 4.18 mode", func() {
		Expect(names(list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetName("node-a") }))).To(ConsistOf("node-a"))
		cat := loadCatalog()
		cat.Settings.NameFilter = "substring"
		old := newEnv(cat)
		old.sim.SetJobLatency(0)
		old.deploy("node-a", "small")
		old.deploy("node-abc", "small")
		Expect(names(list(old.user, func(p *csgo.ListVirtualMachinesParams) { p.SetName("node-a") }))).To(ConsistOf("node-a", "node-abc"))
	})

	It("filters by keyword, state and zone", func() {
		Expect(names(list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetKeyword("ABC") }))).To(ConsistOf("node-abc"))
		Expect(list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetState("Running") }).Count).To(Equal(3))
		Expect(list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetZoneid(e.zoneID("zone-b")) }).Count).To(BeZero())
		_ = c
	})

	It("shows other accounts' VMs to a root admin only with listall", func() {
		Expect(list(e.admin, func(*csgo.ListVirtualMachinesParams) {}).Count).To(BeZero())
		Expect(list(e.admin, func(p *csgo.ListVirtualMachinesParams) { p.SetListall(true) }).Count).To(Equal(3))
		Expect(list(e.user, func(p *csgo.ListVirtualMachinesParams) { p.SetListall(true) }).Count).To(Equal(3))
	})

	It("filters networks and templates by resource tags from the catalog", func() {
		np := e.user.Network.NewListNetworksParams()
		np.SetTags(map[string]string{"karpenter.sh/discovery": "demo"})
		nl, err := e.user.Network.ListNetworks(np)
		Expect(err).NotTo(HaveOccurred())
		Expect(nl.Count).To(Equal(2))
		tp := e.user.Template.NewListTemplatesParams("executable")
		tp.SetTags(map[string]string{"os": "ubuntu"})
		tl, err := e.user.Template.ListTemplates(tp)
		Expect(err).NotTo(HaveOccurred())
		Expect(tl.Count).To(Equal(3))
	})
})

var _ = Describe("Knobs and accounting", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("adds per-command latency", func() {
		e.sim.SetCommandLatency("listZones", 30*time.Millisecond, 10*time.Millisecond)
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
		Expect(e.sim.Stats()["listZones"].Max).To(BeNumerically(">=", 30*time.Millisecond))
	})

	It("injects 530 errors per command", func() {
		e.sim.SetErrorRate("listZones", 1)
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 530")))
		_, err = e.user.Network.ListNetworks(e.user.Network.NewListNetworksParams())
		Expect(err).NotTo(HaveOccurred())
	})

	It("fails the next N deploys in a zone with an offering", func() {
		e.sim.FailNextDeploys(1, "zone-a", "medium")
		_, j := e.deploy("fail-small", "small")
		Expect(j.Jobstatus).To(Equal(1), "another offering is not affected")
		_, j = e.deploy("fail-medium", "medium")
		Expect(j.Jobstatus).To(Equal(2))
		code, _ := jobError(j)
		Expect(code).To(Equal(533))
		_, j = e.deploy("fail-medium-2", "medium")
		Expect(j.Jobstatus).To(Equal(1))
	})

	It("drops connections without a response", func() {
		e.sim.DropNextConnections(1)
		_, err := e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(HaveOccurred())
		var ne interface{ Timeout() bool }
		Expect(errors.As(err, &ne) || strings.Contains(err.Error(), "EOF")).To(BeTrue(), err.Error())
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).NotTo(HaveOccurred())
	})

	It("counts requests per command, queryAsyncJobResult included, as the client counted them", func() {
		// The client's own count of what it sent, per command: the expected values, independent of the simulator.
		sent := &countingTransport{next: http.DefaultTransport, counts: map[string]int64{}}
		client := csgo.NewClient(e.sim.URL(), userKey, userSecret, false, csgo.WithHTTPClient(&http.Client{Transport: sent}))
		params := e.deployParams("counted", "small") // its ID lookups go through another client: not counted below
		e.sim.ResetCounts()
		resp, err := client.VirtualMachine.DeployVirtualMachine(params)
		Expect(err).NotTo(HaveOccurred())
		waitJob(client, resp.JobID)
		counts := e.sim.Counts()
		Expect(sent.counts["deployVirtualMachine"]).To(Equal(int64(1)))
		Expect(sent.counts["queryAsyncJobResult"]).To(BeNumerically(">=", 1))
		Expect(counts).To(Equal(sent.snapshot()))
		var sum int64
		for _, n := range sent.snapshot() {
			sum += n
		}
		Expect(e.sim.TotalRequests()).To(Equal(sum))
		e.sim.ResetCounts()
		Expect(e.sim.Counts()).To(BeEmpty())
	})

	It("serves the admin endpoint", func() {
		srv := httptest.NewServer(e.sim.AdminHandler())
		DeferCleanup(srv.Close)
		resp, err := http.Post(srv.URL+"/faults", "application/json", strings.NewReader(`{"throttle":true,"errorRate":{"listNetworks":0}}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(200))
		_, err = e.user.Zone.ListZones(e.user.Zone.NewListZonesParams())
		Expect(err).To(MatchError(ContainSubstring("429")))
		resp, err = http.Post(srv.URL+"/faults", "application/json", strings.NewReader(`{"reset":true,"jobLatency":"0s"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(200))
		e.deploy("admin-vm", "small")
		resp, err = http.Get(srv.URL + "/counts")
		Expect(err).NotTo(HaveOccurred())
		var counts struct {
			Total    int64 `json:"total"`
			Commands map[string]struct {
				Count int64 `json:"count"`
			} `json:"commands"`
		}
		Expect(decodeJSON(resp, &counts)).To(Succeed())
		Expect(counts.Commands["deployVirtualMachine"].Count).To(Equal(int64(1)))
		resp, err = http.Get(srv.URL + "/vms")
		Expect(err).NotTo(HaveOccurred())
		var vms []simulator.VM
		Expect(decodeJSON(resp, &vms)).To(Succeed())
		Expect(vms).To(HaveLen(1))
		Expect(vms[0].Name).To(Equal("admin-vm"))
		resp, err = http.Post(srv.URL+"/faults", "application/json", strings.NewReader(`{"bogus":1}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(400))
	})
})

// countingTransport counts the requests a client sends, per command (the command parameter of a GET's query or a
// POST's form).
type countingTransport struct {
	next   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	command := r.URL.Query().Get("command")
	if command == "" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		command = form.Get("command")
	}
	t.mu.Lock()
	t.counts[command]++
	t.mu.Unlock()
	return t.next.RoundTrip(r)
}

func (t *countingTransport) snapshot() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts)
}
