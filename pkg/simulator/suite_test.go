package simulator_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

func TestSimulator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Simulator")
}

const (
	catalogPath = "../../test/catalog/catalog.yaml"
	userKey     = "sim-user-api-key"
	userSecret  = "sim-user-secret-key"
	testLatency = 40 * time.Millisecond
)

// env is one simulator with SDK clients for the root admin and the user account.
type env struct {
	sim   *simulator.Server
	admin *csgo.CloudStackClient
	user  *csgo.CloudStackClient
}

func loadCatalog() *simulator.Catalog {
	c, err := simulator.LoadCatalog(catalogPath)
	Expect(err).NotTo(HaveOccurred())
	c.Settings.ExpungeDelay = simulator.Duration{Duration: 300 * time.Millisecond}
	// The simulator's own specs drive commands beyond the provider's role (stop, start, expunge, resource limits)
	// with the user key, so the user holds its built-in role here; role_test.go gives it the catalog's role.
	for i := range c.Accounts {
		c.Accounts[i].Role = ""
	}
	return c
}

func newEnv(c *simulator.Catalog, opts ...simulator.Option) *env {
	if c == nil {
		c = loadCatalog()
	}
	sim, err := simulator.New(c, append([]simulator.Option{simulator.WithJobLatency(testLatency)}, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Close)
	return &env{
		sim:   sim,
		admin: csgo.NewClient(sim.URL(), sim.APIKey(), sim.SecretKey(), false),
		user:  csgo.NewClient(sim.URL(), userKey, userSecret, false),
	}
}

// id finds a catalog object's ID the way tests are meant to: by name, through the SDK.
func (e *env) zoneID(name string) string {
	id, _, err := e.user.Zone.GetZoneID(name)
	Expect(err).NotTo(HaveOccurred())
	return id
}

func (e *env) offeringID(name string) string {
	id, _, err := e.user.ServiceOffering.GetServiceOfferingID(name)
	Expect(err).NotTo(HaveOccurred())
	return id
}

func (e *env) templateID(name, zone string) string {
	id, _, err := e.user.Template.GetTemplateID(name, "executable", e.zoneID(zone))
	Expect(err).NotTo(HaveOccurred())
	return id
}

func (e *env) networkID(name string) string {
	id, _, err := e.user.Network.GetNetworkID(name)
	Expect(err).NotTo(HaveOccurred())
	return id
}

// deployParams builds a deploy of a fixed offering in zone-a on the user's isolated network.
func (e *env) deployParams(name, offering string) *csgo.DeployVirtualMachineParams {
	p := e.user.VirtualMachine.NewDeployVirtualMachineParams(e.offeringID(offering), e.templateID("ubuntu-24.04-kube-v1.36-amd64", "zone-a"), e.zoneID("zone-a"))
	p.SetName(name)
	p.SetNetworkids([]string{e.networkID("isolated-a")})
	p.SetUserdata(base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")))
	return p
}

// waitJob polls queryAsyncJobResult through the SDK until the job leaves jobstatus 0.
func waitJob(cs *csgo.CloudStackClient, jobID string) *csgo.QueryAsyncJobResultResponse {
	var r *csgo.QueryAsyncJobResultResponse
	Eventually(func(g Gomega) int {
		var err error
		r, err = cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(jobID))
		g.Expect(err).NotTo(HaveOccurred())
		return r.Jobstatus
	}).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).ShouldNot(Equal(0))
	return r
}

// deploy deploys and waits for the job; it returns the VM id and the final job.
func (e *env) deploy(name, offering string) (string, *csgo.QueryAsyncJobResultResponse) {
	resp, err := e.user.VirtualMachine.DeployVirtualMachine(e.deployParams(name, offering))
	Expect(err).NotTo(HaveOccurred())
	return resp.Id, waitJob(e.user, resp.JobID)
}

func (e *env) vmState(cs *csgo.CloudStackClient, id string) string {
	p := cs.VirtualMachine.NewListVirtualMachinesParams()
	p.SetId(id)
	p.SetListall(true)
	l, err := cs.VirtualMachine.ListVirtualMachines(p)
	Expect(err).NotTo(HaveOccurred())
	if l.Count == 0 {
		return "gone"
	}
	return l.VirtualMachines[0].State
}

// rawCall sends a request signed exactly as the SDK signs it, for what the SDK cannot express (unknown
// commands, tampered parameters) and to read the raw envelope.
func rawCall(sim *simulator.Server, method, key, secret string, params url.Values) (int, map[string]json.RawMessage) {
	if params.Get("apiKey") == "" {
		params.Set("apiKey", key)
	}
	params.Set("response", "json")
	if params.Get("signatureversion") == "" {
		params.Set("signatureversion", "3")
	}
	if params.Get("expires") == "" {
		params.Set("expires", time.Now().UTC().Add(15*time.Minute).Format(time.RFC3339))
	}
	s := csgo.EncodeValues(params)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(strings.ToLower(s)))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(sim.URL() + "?" + s + "&signature=" + url.QueryEscape(sig))
	} else {
		params.Set("signature", sig)
		resp, err = http.PostForm(sim.URL(), params)
	}
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	var body map[string]json.RawMessage
	Expect(json.Unmarshal(b, &body)).To(Succeed(), string(b))
	return resp.StatusCode, body
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
