package instancetype_test

import (
	"context"
	"fmt"
	"testing"

	"sigs.k8s.io/yaml"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

const (
	benchOfferings = 1000
	benchZones     = 4
)

// benchCloud is a simulator with benchOfferings fixed offerings (sizes 1-64 vCPU, 1-8 GiB per vCPU) in benchZones
// zones, and a NodeClass that resolved all of them.
func benchCloud(b *testing.B) (*simulator.Server, cloudstack.API, *v1.CloudStackNodeClass) {
	b.Helper()
	cat := &simulator.Catalog{Accounts: []simulator.Account{{Name: "bench", APIKey: "k", SecretKey: "s"}}}
	nc := &v1.CloudStackNodeClass{}
	nc.Name = "bench"
	for z := 0; z < benchZones; z++ {
		name := fmt.Sprintf("zone-%d", z)
		cat.Zones = append(cat.Zones, simulator.Zone{Name: name})
		zid := simulator.StableID("zone", name)
		nc.Status.Zones = append(nc.Status.Zones, v1.Zone{ID: zid, Name: name})
		nc.Status.Networks = append(nc.Status.Networks, v1.Network{ID: "n" + zid, Name: "n", ZoneID: zid})
		nc.Status.Templates = append(nc.Status.Templates, v1.Template{ID: "t" + zid, Name: "t", ZoneID: zid, Architecture: "amd64"})
	}
	for i := 0; i < benchOfferings; i++ {
		name := fmt.Sprintf("offering-%04d", i)
		cpu := 1 << (i % 7)
		cat.ServiceOfferings = append(cat.ServiceOfferings, simulator.ServiceOffering{Name: name, CPUNumber: cpu, CPUSpeed: 2000,
			MemoryMiB: cpu * 1024 * (1 + i%8), Tags: map[string]string{"bench": "true"}})
		nc.Status.ServiceOfferings = append(nc.Status.ServiceOfferings, v1.ServiceOffering{ID: simulator.StableID("serviceoffering", name), Name: name})
	}
	// Round-trip through YAML so the simulator fills in IDs and defaults as it does for catalog files.
	data, err := yaml.Marshal(cat)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := simulator.ParseCatalog(data)
	if err != nil {
		b.Fatal(err)
	}
	e, err := test.NewEnvironment(test.WithCatalog(parsed), test.WithAccount("bench"), test.WithJobLatency(0),
		test.WithOptions(func(o *options.Options) { o.APIQPS, o.APIBurst = 1e6, 1e6 }))
	if err != nil {
		b.Fatal(err)
	}
	return e.Simulator, e.API, nc
}

// BenchmarkInstanceTypesList measures List over 1000 offerings x 4 zones: cold (a new provider reads the catalog and
// computes every instance type), computed (catalog cached, instance types recomputed because the unavailable-offerings
// sequence number moved) and warm (cached result).
func BenchmarkInstanceTypesList(b *testing.B) {
	sim, api, nc := benchCloud(b)
	defer sim.Close()
	ctx := context.Background()
	report := func(b *testing.B, before int64) {
		b.ReportMetric(float64(sim.TotalRequests()-before)/float64(b.N), "requests/op")
	}
	check := func(b *testing.B, p *instancetype.DefaultProvider) {
		its, err := p.List(ctx, nc)
		if err != nil {
			b.Fatal(err)
		}
		if len(its) != benchOfferings || len(its[0].Offerings) != benchZones {
			b.Fatalf("got %d instance types with %d offerings", len(its), len(its[0].Offerings))
		}
	}

	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		before := sim.TotalRequests()
		for i := 0; i < b.N; i++ {
			check(b, instancetype.NewDefaultProvider(api, cache.NewUnavailableOfferings(), nil))
		}
		report(b, before)
	})
	b.Run("computed", func(b *testing.B) {
		unavailable := cache.NewUnavailableOfferings()
		p := instancetype.NewDefaultProvider(api, unavailable, nil)
		check(b, p)
		b.ReportAllocs()
		b.ResetTimer()
		before := sim.TotalRequests()
		for i := 0; i < b.N; i++ {
			unavailable.MarkUnavailable(ctx, "bench", fmt.Sprintf("offering-%04d", i%benchOfferings), "zone-0")
			check(b, p)
		}
		report(b, before)
	})
	b.Run("warm", func(b *testing.B) {
		p := instancetype.NewDefaultProvider(api, cache.NewUnavailableOfferings(), nil)
		check(b, p)
		b.ReportAllocs()
		b.ResetTimer()
		before := sim.TotalRequests()
		for i := 0; i < b.N; i++ {
			check(b, p)
		}
		report(b, before)
	})
}
