package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Requests and authentication", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("accepts requests the SDK signs, with values that need escaping", func() {
		p := e.user.VirtualMachine.NewListVirtualMachinesParams()
		p.SetKeyword("a b*c+d!'()é/[x]")
		l, err := e.user.VirtualMachine.ListVirtualMachines(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(0))
	})

	It("rejects a '~' in a value with 401, because Java's URLEncoder escapes it and Go's does not", func() {
		p := e.user.VirtualMachine.NewListVirtualMachinesParams()
		p.SetKeyword("node~1")
		_, err := e.user.VirtualMachine.ListVirtualMachines(p)
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 401")))
		Expect(err).To(MatchError(ContainSubstring("unable to verify user credentials and/or request signature")))
	})

	DescribeTable("answers 401 to any authentication failure",
		func(key, secret string, mutate func(url.Values)) {
			params := url.Values{"command": {"listZones"}}
			mutate(params)
			code, body := rawCall(e.sim, http.MethodGet, key, secret, params)
			Expect(code).To(Equal(401))
			Expect(body).To(HaveKey("listzonesresponse"))
			var inner map[string]any
			Expect(json.Unmarshal(body["listzonesresponse"], &inner)).To(Succeed())
			Expect(inner).To(HaveKeyWithValue("errorcode", BeNumerically("==", 401)))
			Expect(inner).To(HaveKeyWithValue("errortext", "unable to verify user credentials and/or request signature"))
			Expect(inner).NotTo(HaveKey("cserrorcode"))
		},
		Entry("wrong secret", userKey, "not-the-secret", func(url.Values) {}),
		Entry("unknown API key", "no-such-key", userSecret, func(url.Values) {}),
		Entry("expired request", userKey, userSecret, func(p url.Values) {
			p.Set("expires", time.Now().UTC().Add(-time.Minute).Format(time.RFC3339))
		}),
		Entry("unparsable expires", userKey, userSecret, func(p url.Values) { p.Set("expires", "tomorrow") }),
	)

	It("answers an unknown command with 401 in errorresponse", func() {
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listUnicorns"}})
		Expect(code).To(Equal(401))
		Expect(body).To(HaveLen(1))
		Expect(body).To(HaveKey("errorresponse"))
	})

	It("answers 401 to root-admin-only commands for a user account, and serves them to the root admin", func() {
		_, err := e.user.SystemCapacity.ListCapacity(e.user.SystemCapacity.NewListCapacityParams())
		Expect(err).To(MatchError(ContainSubstring("CloudStack API error 401")))
		l, err := e.admin.SystemCapacity.ListCapacity(e.admin.SystemCapacity.NewListCapacityParams())
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(6))
	})

	It("receives list and query calls as GET and the rest as form POST from the SDK", func() {
		id, _ := e.deploy("method-check", "small")
		_, err := e.user.VirtualMachine.RebootVirtualMachine(e.user.VirtualMachine.NewRebootVirtualMachineParams(id))
		Expect(err).NotTo(HaveOccurred())
		st := e.sim.Stats()
		for _, c := range []string{"listZones", "listServiceOfferings", "listTemplates", "listNetworks", "queryAsyncJobResult"} {
			Expect(st[c].GET).To(BeNumerically(">", 0), c)
			Expect(st[c].POST).To(BeZero(), c)
		}
		for _, c := range []string{"deployVirtualMachine", "rebootVirtualMachine"} {
			Expect(st[c].POST).To(Equal(int64(1)), c)
			Expect(st[c].GET).To(BeZero(), c)
		}
	})

	It("also accepts a POST for a list call and a GET for deploy, as the real server does", func() {
		code, _ := rawCall(e.sim, http.MethodPost, userKey, userSecret, url.Values{"command": {"listZones"}})
		Expect(code).To(Equal(200))
		e.user.HTTPGETOnly = true
		_, job := e.deploy("via-get", "small")
		Expect(job.Jobstatus).To(Equal(1))
	})
})

var _ = Describe("Responses", func() {
	var e *env
	BeforeEach(func() { e = newEnv(nil) })

	It("wraps a response in exactly one <command>response key", func() {
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listZones"}})
		Expect(code).To(Equal(200))
		Expect(body).To(HaveLen(1))
		Expect(body).To(HaveKey("listzonesresponse"))
	})

	It("answers an empty list with {}", func() {
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listVirtualMachines"}})
		Expect(code).To(Equal(200))
		Expect(string(body["listvirtualmachinesresponse"])).To(Equal("{}"))
	})

	It("reports the total in count on every page", func() {
		var seen []string
		for page := 1; page <= 3; page++ {
			p := e.user.ServiceOffering.NewListServiceOfferingsParams()
			p.SetPage(page)
			p.SetPagesize(2)
			l, err := e.user.ServiceOffering.ListServiceOfferings(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(l.Count).To(Equal(6), "the system offering is not listed without issystem")
			Expect(l.ServiceOfferings).To(HaveLen(2))
			for _, o := range l.ServiceOfferings {
				seen = append(seen, o.Name)
			}
		}
		Expect(seen).To(ConsistOf("small", "medium", "large", "xlarge-local", "custom-constrained", "gpu-t4"))
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, url.Values{"command": {"listServiceOfferings"}, "page": {"9"}, "pagesize": {"2"}})
		Expect(code).To(Equal(200))
		Expect(string(body["listserviceofferingsresponse"])).To(Equal(`{"count":6}`))
	})

	DescribeTable("rejects bad paging with 431",
		func(params url.Values, text string) {
			params.Set("command", "listZones")
			code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, params)
			Expect(code).To(Equal(431))
			Expect(string(body["listzonesresponse"])).To(ContainSubstring(text))
		},
		Entry("pagesize without page", url.Values{"pagesize": {"10"}}, `\"page\" parameter is required when \"pagesize\" is specified`),
		Entry("page without pagesize", url.Values{"page": {"1"}}, `\"pagesize\" parameter is required when \"page\" is specified`),
		Entry("pagesize over the maximum", url.Values{"page": {"1"}, "pagesize": {"501"}}, "Page size can't exceed max allowed page size value: 500"),
		Entry("unlimited pagesize with page", url.Values{"page": {"1"}, "pagesize": {"-1"}}, "Can't specify page parameter when pagesize is -1"),
	)

	It("lists system offerings only with issystem=true, and only to admins", func() {
		p := e.admin.ServiceOffering.NewListServiceOfferingsParams()
		p.SetIssystem(true)
		l, err := e.admin.ServiceOffering.ListServiceOfferings(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(1))
		Expect(l.ServiceOfferings[0].Name).To(Equal("system-router"))
		Expect(l.ServiceOfferings[0].Issystem).To(BeTrue())
	})

	It("lists a template once per zone and reports readiness and arch", func() {
		p := e.user.Template.NewListTemplatesParams("executable")
		l, err := e.user.Template.ListTemplates(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.Count).To(Equal(4))
		byZone := map[string]*csgo.Template{}
		for _, t := range l.Templates {
			byZone[t.Name+"/"+t.Zonename] = t
		}
		Expect(byZone).To(HaveKey("ubuntu-24.04-kube-v1.36-amd64/zone-a"))
		Expect(byZone).To(HaveKey("ubuntu-24.04-kube-v1.36-amd64/zone-b"))
		Expect(byZone["ubuntu-24.04-kube-v1.37-amd64/zone-a"].Isready).To(BeFalse())
		Expect(byZone["ubuntu-24.04-kube-v1.36-arm64/zone-b"].Arch).To(Equal("aarch64"))
		_, err = e.user.Template.ListTemplates(&csgo.ListTemplatesParams{})
		Expect(err).To(MatchError(ContainSubstring("due to missing parameter templatefilter")))
	})

	It("reports customized offering bounds in serviceofferingdetails and GPU fields", func() {
		o, _, err := e.user.ServiceOffering.GetServiceOfferingByName("custom-constrained")
		Expect(err).NotTo(HaveOccurred())
		Expect(o.Iscustomized).To(BeTrue())
		Expect(o.Cpunumber).To(BeZero())
		Expect(o.Serviceofferingdetails).To(Equal(map[string]string{"mincpunumber": "1", "maxcpunumber": "16", "minmemory": "1024", "maxmemory": "65536"}))
		g, _, err := e.user.ServiceOffering.GetServiceOfferingByName("gpu-t4")
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Gpucardname).To(Equal("Tesla T4"))
		Expect(g.Gpucount).To(Equal(1))
		Expect(g.Zoneid).To(Equal(e.zoneID("zone-a")))
	})

	It("serves capabilities and resource limits", func() {
		c, err := e.user.Configuration.ListCapabilities(e.user.Configuration.NewListCapabilitiesParams())
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Capabilities.Cloudstackversion).To(Equal("4.20.1.0"))
		Expect(c.Capabilities.Allowuserexpungerecovervm).To(BeTrue())
		l, err := e.user.Limit.ListResourceLimits(e.user.Limit.NewListResourceLimitsParams())
		Expect(err).NotTo(HaveOccurred())
		limits := map[string]int64{}
		for _, r := range l.ResourceLimits {
			limits[r.Resourcetypename] = r.Max
		}
		Expect(limits).To(Equal(map[string]int64{"user_vm": 40, "cpu": 160, "memory": 655360}))
	})

	It("keeps IDs stable across runs and lets tests find objects by name", func() {
		other := newEnv(nil)
		Expect(other.zoneID("zone-b")).To(Equal(e.zoneID("zone-b")))
		Expect(e.zoneID("zone-b")).To(MatchRegexp(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`))
		Expect(strings.ToLower(e.networkID("shared-b"))).To(Equal(e.networkID("shared-b")))
	})
})
