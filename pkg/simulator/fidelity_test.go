package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// sdkDir is the SDK module in the module cache; its recorded fixtures and listApis.json are read in place.
// The version comes from the test binary's build info, so no go command (and no toolchain switch) is needed.
func sdkDir() string {
	const module = "github.com/apache/cloudstack-go/v2"
	info, ok := debug.ReadBuildInfo()
	Expect(ok).To(BeTrue())
	version := ""
	for _, d := range info.Deps {
		if d.Path == module {
			version = d.Version
			if d.Replace != nil {
				version = d.Replace.Version
			}
		}
	}
	Expect(version).NotTo(BeEmpty(), "the test binary links %s", module)
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			Expect(err).NotTo(HaveOccurred())
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	return filepath.Join(cache, module+"@"+version)
}

// findObject returns the first object stored under key anywhere in a JSON document (the first element
// when the value is a list).
func findObject(v any, key string) map[string]any {
	switch t := v.(type) {
	case map[string]any:
		if x, ok := t[key]; ok {
			switch y := x.(type) {
			case map[string]any:
				return y
			case []any:
				if len(y) > 0 {
					if m, ok := y[0].(map[string]any); ok {
						return m
					}
				}
			}
		}
		for _, x := range t {
			if m := findObject(x, key); m != nil {
				return m
			}
		}
	case []any:
		for _, x := range t {
			if m := findObject(x, key); m != nil {
				return m
			}
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// compareKinds checks every field both objects have, recursively, and returns the mismatches.
func compareKinds(path string, ours, theirs map[string]any) []string {
	var bad []string
	for k, ov := range ours {
		tv, ok := theirs[k]
		if !ok || tv == nil {
			continue
		}
		if jsonKind(ov) != jsonKind(tv) {
			bad = append(bad, fmt.Sprintf("%s.%s: simulator %s, SDK fixture %s", path, k, jsonKind(ov), jsonKind(tv)))
			continue
		}
		switch o := ov.(type) {
		case map[string]any:
			bad = append(bad, compareKinds(path+"."+k, o, tv.(map[string]any))...)
		case []any:
			t := tv.([]any)
			if len(o) > 0 && len(t) > 0 {
				om, ok1 := o[0].(map[string]any)
				tm, ok2 := t[0].(map[string]any)
				if ok1 && ok2 {
					bad = append(bad, compareKinds(path+"."+k+"[0]", om, tm)...)
				}
			}
		}
	}
	return bad
}

type listAPI struct {
	Name   string `json:"name"`
	Params []struct {
		Name string `json:"name"`
	} `json:"params"`
	Response []struct {
		Name string `json:"name"`
	} `json:"response"`
}

var _ = Describe("Fidelity to the SDK and to listApis", Ordered, func() {
	var e *env
	var apis map[string]listAPI
	BeforeAll(func() {
		b, err := os.ReadFile(filepath.Join(sdkDir(), "generate", "listApis.json"))
		Expect(err).NotTo(HaveOccurred())
		var doc struct {
			API []listAPI `json:"api"`
		}
		Expect(json.Unmarshal(b, &doc)).To(Succeed())
		apis = map[string]listAPI{}
		for _, a := range doc.API {
			apis[a.Name] = a
		}
	})
	BeforeEach(func() {
		e = newEnv(nil)
		e.sim.SetJobLatency(0)
		id, _ := e.deploy("fidelity", "gpu-t4")
		tag(e.user, id, map[string]string{"karpenter.sh/nodepool": "default"})
	})

	DescribeTable("emits list objects that decode strictly into the SDK struct, with the fixture's JSON types and listApis' names",
		func(command string, params url.Values, objName string, sdkType func() any, fixtureFile, fixtureKey string) {
			params.Set("command", command)
			code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, params)
			Expect(code).To(Equal(200))
			var inner map[string]json.RawMessage
			Expect(json.Unmarshal(body[strings.ToLower(command)+"response"], &inner)).To(Succeed())
			var objs []json.RawMessage
			Expect(json.Unmarshal(inner[objName], &objs)).To(Succeed())
			Expect(objs).NotTo(BeEmpty())

			var fixture map[string]any
			if fixtureFile != "" {
				b, err := os.ReadFile(filepath.Join(sdkDir(), "test", "testdata", fixtureFile))
				Expect(err).NotTo(HaveOccurred())
				var doc any
				Expect(json.Unmarshal(b, &doc)).To(Succeed())
				fixture = findObject(doc, fixtureKey)
				Expect(fixture).NotTo(BeNil(), "fixture %s has no %q", fixtureFile, fixtureKey)
			}
			responseNames := map[string]bool{}
			for _, r := range apis[command].Response {
				responseNames[strings.ToLower(r.Name)] = true
			}
			Expect(responseNames).NotTo(BeEmpty(), "listApis knows %s", command)
			for _, raw := range objs {
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				Expect(dec.Decode(sdkType())).To(Succeed(), string(raw))
				var generic map[string]any
				Expect(json.Unmarshal(raw, &generic)).To(Succeed())
				if fixture != nil {
					Expect(compareKinds(objName, generic, fixture)).To(BeEmpty())
				}
				for k := range generic {
					Expect(responseNames).To(HaveKey(strings.ToLower(k)), "listApis has no response field %s for %s", k, command)
				}
			}
		},
		Entry("virtual machines", "listVirtualMachines", url.Values{}, "virtualmachine", func() any { return &csgo.VirtualMachine{} }, "VirtualMachineService.json", "virtualmachine"),
		Entry("networks", "listNetworks", url.Values{}, "network", func() any { return &csgo.Network{} }, "NetworkService.json", "network"),
		Entry("templates", "listTemplates", url.Values{"templatefilter": {"all"}}, "template", func() any { return &csgo.Template{} }, "TemplateService.json", "template"),
		Entry("service offerings", "listServiceOfferings", url.Values{}, "serviceoffering", func() any { return &csgo.ServiceOffering{} }, "ServiceOfferingService.json", "serviceoffering"),
		Entry("tags", "listTags", url.Values{}, "tag", func() any { return &csgo.Tag{} }, "", ""),
		Entry("zones", "listZones", url.Values{}, "zone", func() any { return &csgo.Zone{} }, "", ""),
		Entry("affinity groups", "listAffinityGroups", url.Values{}, "affinitygroup", func() any { return &csgo.AffinityGroup{} }, "AffinityGroupService.json", "affinitygroup"),
		Entry("ssh key pairs", "listSSHKeyPairs", url.Values{}, "sshkeypair", func() any { return &csgo.SSHKeyPair{} }, "SSHService.json", "sshkeypair"),
		Entry("security groups", "listSecurityGroups", url.Values{}, "securitygroup", func() any { return &csgo.SecurityGroup{} }, "", ""),
		Entry("projects", "listProjects", url.Values{}, "project", func() any { return &csgo.Project{} }, "ProjectService.json", "project"),
	)

	It("decodes a finished deploy job like the SDK's recorded deployVirtualMachine job", func() {
		resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams("fidelity-job", "small"))
		Expect(err).NotTo(HaveOccurred())
		params := url.Values{"command": {"queryAsyncJobResult"}, "jobid": {resp.JobID}}
		code, body := rawCall(e.sim, http.MethodGet, userKey, userSecret, params)
		Expect(code).To(Equal(200))
		var ours map[string]any
		Expect(json.Unmarshal(body["queryasyncjobresultresponse"], &ours)).To(Succeed())
		b, err := os.ReadFile(filepath.Join(sdkDir(), "test", "testdata", "VirtualMachineService.json"))
		Expect(err).NotTo(HaveOccurred())
		var doc map[string]map[string]any
		Expect(json.Unmarshal(b, &doc)).To(Succeed())
		Expect(compareKinds("job", ours, doc["deployVirtualMachine"]["deployvirtualmachineresponse"].(map[string]any))).To(BeEmpty())
		dec := json.NewDecoder(bytes.NewReader(body["queryasyncjobresultresponse"]))
		dec.DisallowUnknownFields()
		Expect(dec.Decode(&csgo.QueryAsyncJobResultResponse{})).To(Succeed())
	})

	It("interprets only parameters that listApis documents for each command", func() {
		for _, c := range simulator.Commands() {
			a, ok := apis[c.Name]
			Expect(ok).To(BeTrue(), "listApis has no command %s", c.Name)
			known := map[string]bool{}
			for _, p := range a.Params {
				known[p.Name] = true
			}
			for _, p := range c.Params {
				Expect(known).To(HaveKey(p), "%s has no parameter %s in listApis", c.Name, p)
			}
		}
	})
})
