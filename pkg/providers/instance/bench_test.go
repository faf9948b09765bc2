package instance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// BenchmarkInstanceCreate launches VMs against the simulator with jobs that finish at once and reports the API
// requests each launch costs (the floor is deploy + one job poll; tagging adds createTags and its poll).
func BenchmarkInstanceCreate(b *testing.B) {
	ctx := context.Background()
	cat, err := simulator.ParseCatalog([]byte(catalogYAML))
	if err != nil {
		b.Fatal(err)
	}
	s, err := simulator.New(cat, simulator.WithJobLatency(0))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	client, err := cloudstack.New(cloudstack.Options{APIURL: s.URL(), APIKey: s.APIKey(), SecretKey: s.SecretKey(), QPS: 1e6, Burst: 1e6,
		JobPollInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	unavailable := cache.NewUnavailableOfferings()
	its := instancetype.NewDefaultProvider(client, unavailable, nil)
	p := instance.NewDefaultProvider(client, unavailable, owner, instance.WithServiceOfferings(its))
	nc := nodeClass()
	nc.Status.AffinityGroups = nil // anti-affinity would cap the VMs per zone at the simulated host count
	types, err := its.List(ctx, nc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := s.TotalRequests()
	for i := 0; i < b.N; i++ {
		if _, err := p.Create(ctx, nc, nodeClaim(fmt.Sprintf("bench-%d", i)), types, userData); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.TotalRequests()-before)/float64(b.N), "requests/vm")
}
