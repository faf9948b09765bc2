// Package test wires the CloudStack provider's real parts for tests: an in-process CloudStack simulator reached
// through the real SDK over loopback, the client layer and every provider built as the operator builds them.
package test

import (
	"context"
	"fmt"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

// ClusterName and ClusterID identify the cluster test environments launch VMs for.
const (
	ClusterName = "test-cluster"
	ClusterID   = "7d1c4a52-0b6e-4c55-9a36-2f4a1c0b9e11"
)

// UserAccount is the catalog account the provider uses: a non-admin account, as in a real installation.
const UserAccount = "karpenter"

// Environment is a simulated CloudStack and the provider's parts wired to it by pkg/operator, as the binary wires
// them. A suite builds one in BeforeSuite and calls Reset before each spec.
type Environment struct {
	Simulator *simulator.Server
	// API is the provider's CloudStack client, built by operator.Build from Options.
	API *cloudstack.Client
	// Options are the provider's options with ClusterID set (see Options).
	Options *options.Options
	*operator.Operator

	accounts   []simulator.Account
	clientOpts []func(*cloudstack.Options)
}

// EnvironmentOption changes what NewEnvironment builds.
type EnvironmentOption func(*environmentConfig)

type environmentConfig struct {
	catalog    *simulator.Catalog
	account    string
	jobLatency time.Duration
	options    []func(*options.Options)
	clientOpts []func(*cloudstack.Options)
}

// WithCatalog serves another catalog than the example one (test/catalog/catalog.yaml).
func WithCatalog(cat *simulator.Catalog) EnvironmentOption {
	return func(c *environmentConfig) { c.catalog = cat }
}

// WithAccount makes the provider use the keys of another account of the catalog than UserAccount.
func WithAccount(name string) EnvironmentOption {
	return func(c *environmentConfig) { c.account = name }
}

// WithJobLatency makes the simulator's jobs take d (default 20 ms, so that pollers see pending jobs as with a real
// management server; 0 completes a job within the request that started it).
func WithJobLatency(d time.Duration) EnvironmentOption {
	return func(c *environmentConfig) { c.jobLatency = d }
}

// WithOptions overrides provider options (flags) after the defaults of Options are set.
func WithOptions(f func(*options.Options)) EnvironmentOption {
	return func(c *environmentConfig) { c.options = append(c.options, f) }
}

// WithClientOptions overrides settings of every CloudStack client of the environment that are not flags (retries,
// job polling), after the test defaults of ClientOptions.
func WithClientOptions(f func(*cloudstack.Options)) EnvironmentOption {
	return func(c *environmentConfig) { c.clientOpts = append(c.clientOpts, f) }
}

// NewEnvironment starts a simulator (by default with the example catalog) and builds the provider through
// operator.Build, with the keys of the account UserAccount and the cluster identity of ClusterName and ClusterID.
func NewEnvironment(opts ...EnvironmentOption) (*Environment, error) {
	cfg := environmentConfig{account: UserAccount, jobLatency: 20 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.catalog == nil {
		cat, err := ExampleCatalog()
		if err != nil {
			return nil, err
		}
		cfg.catalog = cat
	}
	acct, ok := lo.Find(cfg.catalog.Accounts, func(a simulator.Account) bool { return a.Name == cfg.account })
	if !ok {
		return nil, fmt.Errorf("the catalog has no account %q", cfg.account)
	}
	sim, err := simulator.New(cfg.catalog, simulator.WithJobLatency(cfg.jobLatency))
	if err != nil {
		return nil, fmt.Errorf("starting the simulator, %w", err)
	}
	opt := Options()
	opt.APIURL, opt.APIKey, opt.SecretKey = sim.URL(), acct.APIKey, acct.SecretKey
	for _, f := range cfg.options {
		f(opt)
	}
	e := &Environment{Simulator: sim, accounts: cfg.catalog.Accounts, clientOpts: append([]func(*cloudstack.Options){ClientOptions}, cfg.clientOpts...)}
	// The cluster's identity is read from kube-system as in a cluster; the environment needs no API server for it.
	namespaces := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceSystem, UID: ClusterID}}).CoreV1()
	op, err := operator.Build(context.Background(), nil, opt, namespaces, prometheus.NewRegistry(),
		operator.WithClientOptions(e.applyClientOptions))
	if err != nil {
		sim.Close()
		return nil, fmt.Errorf("building the provider, %w", err)
	}
	e.Operator, e.Options, e.API = op, op.Options, op.CloudStack.(*cloudstack.Client)
	return e, nil
}

// ExampleCatalog is the example catalog (test/catalog/catalog.yaml), for tests that extend it.
func ExampleCatalog() (*simulator.Catalog, error) {
	cat, err := simulator.ParseCatalog(catalog.YAML)
	if err != nil {
		return nil, fmt.Errorf("parsing the example catalog, %w", err)
	}
	return cat, nil
}

// Owner is the identity of the test cluster's VMs.
func Owner() instance.Owner { return instance.Owner{ClusterName: ClusterName, ClusterID: ClusterID} }

// Options are the provider options of test environments: the flags' defaults (options.Defaults) with the test
// cluster's identity, and one override: APIQPS and APIBurst are raised from 20/40 to 1000, because specs launch and
// delete many VMs in a row against a local simulator and a real server's rate limit would only make them slow
// (the rate limiter's own specs are in pkg/cloudstack). NewEnvironment sets the simulator's URL and keys.
func Options() *options.Options {
	o := options.Defaults()
	o.ClusterName, o.ClusterID = ClusterName, ClusterID
	o.APIQPS, o.APIBurst = 1000, 1000
	return o
}

// ClientOptions are the test settings of a CloudStack client that are not flags: jobs are polled every 10 ms
// (backing off to 100 ms) instead of 250 ms (up to 5 s), because the simulator's jobs take milliseconds.
func ClientOptions(o *cloudstack.Options) {
	o.JobPollInterval, o.JobPollMaxInterval = 10*time.Millisecond, 100*time.Millisecond
}

func (e *Environment) applyClientOptions(o *cloudstack.Options) {
	for _, f := range e.clientOpts {
		f(o)
	}
}

// Client is a client of the simulator signed with another account's keys (an administrator's, another tenant's),
// with the environment's client settings and then mods.
func (e *Environment) Client(account string, mods ...func(*cloudstack.Options)) (*cloudstack.Client, error) {
	key, secret := e.Keys(account)
	return e.ClientWithKeys(key, secret, mods...)
}

// ClientWithKeys is a client of the simulator signed with the given keys, with the environment's client settings and
// then mods. It is the one place tests build a CloudStack client (the provider's own is built by operator.Build).
func (e *Environment) ClientWithKeys(key, secret string, mods ...func(*cloudstack.Options)) (*cloudstack.Client, error) {
	o := e.Options.ClientOptions()
	o.APIKey, o.SecretKey = key, secret
	e.applyClientOptions(&o)
	for _, f := range mods {
		f(&o)
	}
	c, err := cloudstack.New(o)
	if err != nil {
		return nil, fmt.Errorf("building a CloudStack client, %w", err)
	}
	return c, nil
}

// Keys are the API key and secret key of a catalog account.
func (e *Environment) Keys(account string) (string, string) {
	acct, ok := lo.Find(e.accounts, func(a simulator.Account) bool { return a.Name == account })
	if !ok {
		panic(fmt.Sprintf("the catalog has no account %q", account))
	}
	return acct.APIKey, acct.SecretKey
}

// Restarted is the environment as a controller that restarted sees it: the same simulator, client and options, and
// every provider and cache built anew by operator.New, so nothing is remembered from before.
func (e *Environment) Restarted() *Environment {
	restarted := *e
	restarted.Operator = operator.New(e.Operator.Operator, e.API, e.Options)
	return &restarted
}

// Reset prepares the environment for the next spec: the simulator is back to its catalog (no VMs, no faults, no
// counts), and the providers are built anew by operator.New over the same client, so every cache and every other
// memory of a provider (the VM view, the jobs it follows) starts empty. Rebuilding is cheaper than it sounds (no
// request is made) and cannot miss a cache added later. Kube objects are the suite's: core's ExpectCleanedUp.
func (e *Environment) Reset() error {
	if err := e.Simulator.Reset(); err != nil {
		return err
	}
	e.Operator = e.Restarted().Operator
	return nil
}

// Close stops the simulator.
func (e *Environment) Close() { e.Simulator.Close() }

// DeployVM deploys a VM of the "small" offering from the first ready template of the zone through the provider's
// own account, bypassing the provider, tags it with tags (none: a VM the provider must never touch) and waits for
// the deploy job. It returns the VM's ID.
func DeployVM(e *Environment, name, zoneName string, tags map[string]string) string {
	ctx := context.Background()
	zones := lo.Must(e.API.ListZones(ctx))
	z, ok := lo.Find(zones, func(z *csgo.Zone) bool { return z.Name == zoneName })
	if !ok {
		panic(fmt.Sprintf("zone %q not in the catalog", zoneName))
	}
	offerings := lo.Must(e.API.ListServiceOfferings(ctx))
	o, _ := lo.Find(offerings, func(o *csgo.ServiceOffering) bool { return o.Name == "small" })
	templates := lo.Must(e.API.ListTemplates(ctx, z.Id))
	t, _ := lo.Find(templates, func(t *csgo.Template) bool { return t.Isready })
	networks := lo.Must(e.API.ListNetworks(ctx, z.Id))
	p := &csgo.DeployVirtualMachineParams{}
	p.SetZoneid(z.Id)
	p.SetServiceofferingid(o.Id)
	p.SetTemplateid(t.Id)
	p.SetNetworkids([]string{networks[0].Id})
	p.SetName(name)
	id, jobID := lo.Must2(e.API.DeployVM(ctx, p))
	if len(tags) > 0 {
		lo.Must0(e.API.CreateTags(ctx, []string{id}, cloudstack.ResourceTypeUserVM, tags))
	}
	// A deploy made to fail (Simulator.FailNextDeploys) leaves its VM in Error, as CloudStack does.
	_, _ = e.API.WaitForJob(ctx, jobID)
	return id
}
