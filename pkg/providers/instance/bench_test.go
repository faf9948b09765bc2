package instance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/test"
)

// BenchmarkInstanceCreate launches VMs against the simulator with jobs that finish at once and reports the API
// requests each launch costs (the floor is deploy + one job poll; tagging adds createTags and its poll).
func BenchmarkInstanceCreate(b *testing.B) {
	ctx := context.Background()
	e, p, nc, types := benchEnvironment(b, 0, false)
	b.ReportAllocs()
	b.ResetTimer()
	before := e.Simulator.TotalRequests()
	for i := 0; i < b.N; i++ {
		if _, err := p.Create(ctx, nc, nodeClaim(fmt.Sprintf("bench-%d", i)), types, userData); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.Simulator.TotalRequests()-before)/float64(b.N), "requests/vm")
}

// benchEnvironment is the suite's catalog served with jobs of jobLatency, the provider built as the operator builds
// it, a NodeClass resolved in both zones and its instance types. production keeps the flags' rate limit and the
// client's job polling, as a controller runs; otherwise requests are not limited and a job is first polled
// after a millisecond, so that only the provider's own requests are measured.
func benchEnvironment(b *testing.B, jobLatency time.Duration, production bool) (*test.Environment, *instance.DefaultProvider,
	*v1.CloudStackNodeClass, []*cloudprovider.InstanceType) {
	b.Helper()
	cat, err := simulator.ParseCatalog([]byte(catalogYAML))
	if err != nil {
		b.Fatal(err)
	}
	opts := []test.EnvironmentOption{test.WithCatalog(cat), test.WithJobLatency(jobLatency)}
	if production {
		defaults := options.Defaults()
		opts = append(opts, test.WithOptions(func(o *options.Options) { o.APIQPS, o.APIBurst = defaults.APIQPS, defaults.APIBurst }),
			test.WithClientOptions(func(o *cloudstack.Options) {
				o.JobPollInterval, o.JobPollMaxInterval = cloudstack.DefaultJobPollInterval, cloudstack.DefaultJobPollMaxInterval
			}))
	} else {
		opts = append(opts, test.WithOptions(func(o *options.Options) { o.APIQPS, o.APIBurst = 1e6, 1e6 }),
			test.WithClientOptions(func(o *cloudstack.Options) {
				o.JobPollInterval, o.JobPollMaxInterval = time.Millisecond, cloudstack.DefaultJobPollMaxInterval
			}))
	}
	e, err := test.NewEnvironment(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	nc := nodeClass()
	nc.Status.AffinityGroups = nil // anti-affinity would cap the VMs per zone at the simulated host count
	types, err := e.InstanceTypeProvider.List(context.Background(), nc)
	if err != nil {
		b.Fatal(err)
	}
	return e, e.InstanceProvider.(*instance.DefaultProvider), nc, types
}
