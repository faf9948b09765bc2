// Package test wires the CloudStack provider's real parts for tests: an in-process CloudStack simulator reached
// through the real SDK over loopback, the client layer and every provider built as the operator builds them.
package test

import (
	"context"
	"fmt"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/samber/lo"

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

// Environment is a simulated CloudStack and the provider's parts wired to it.
type Environment struct {
	Simulator *simulator.Server
	API       *cloudstack.Client
	Options   *options.Options
	*operator.Operator
}

// NewEnvironment starts a simulator with the example catalog and wires the providers to it through the account
// UserAccount. Jobs take jobLatency, so pollers see pending jobs as with a real management server.
func NewEnvironment(jobLatency time.Duration) (*Environment, error) {
	cat, err := ExampleCatalog()
	if err != nil {
		return nil, err
	}
	return NewEnvironmentWithCatalog(cat, jobLatency)
}

// ExampleCatalog is the example catalog (test/catalog/catalog.yaml), for tests that extend it.
func ExampleCatalog() (*simulator.Catalog, error) {
	cat, err := simulator.ParseCatalog(catalog.YAML)
	if err != nil {
		return nil, fmt.Errorf("parsing the example catalog, %w", err)
	}
	return cat, nil
}

// NewEnvironmentWithCatalog is NewEnvironment with another catalog, which must have the account UserAccount.
func NewEnvironmentWithCatalog(cat *simulator.Catalog, jobLatency time.Duration) (*Environment, error) {
	sim, err := simulator.New(cat, simulator.WithJobLatency(jobLatency))
	if err != nil {
		return nil, fmt.Errorf("starting the simulator, %w", err)
	}
	var apiKey, secretKey string
	for _, a := range cat.Accounts {
		if a.Name == UserAccount {
			apiKey, secretKey = a.APIKey, a.SecretKey
		}
	}
	api, err := cloudstack.New(cloudstack.Options{
		APIURL: sim.URL(), APIKey: apiKey, SecretKey: secretKey,
		JobPollInterval: 10 * time.Millisecond, JobPollMaxInterval: 100 * time.Millisecond,
		QPS: 1000, Burst: 1000,
	})
	if err != nil {
		sim.Close()
		return nil, fmt.Errorf("building the CloudStack client, %w", err)
	}
	opts := Options()
	return &Environment{Simulator: sim, API: api, Options: opts, Operator: operator.New(nil, api, opts)}, nil
}

// Owner is the identity of the test cluster's VMs.
func Owner() instance.Owner { return instance.Owner{ClusterName: ClusterName, ClusterID: ClusterID} }

// Options are the provider options of test environments: the flags' defaults (options.Defaults), plus the test
// cluster's identity. The client's own settings (URL, keys, rate limit) are those of the environment's client.
func Options() *options.Options {
	o := options.Defaults()
	o.ClusterName, o.ClusterID = ClusterName, ClusterID
	return o
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
