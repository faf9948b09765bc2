package instance_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/karpenter/pkg/cloudprovider"
)

// fleetSize is how many VMs one iteration of BenchmarkFleetRequests launches at once, as a burst of pending pods does.
const fleetSize = 50

// BenchmarkFleetRequests measures the CloudStack requests a fleet of VMs costs over its life, per VM and by command,
// with deploy jobs that take as long as BENCH_JOB_LATENCY (default 2s; tag and destroy jobs a tenth of it in the
// simulator, as on a real server). Each iteration:
//   - launch: fleetSize concurrent Creates (Karpenter launches a burst of NodeClaims in parallel);
//   - reads: what Karpenter core asks of a running fleet, per VM 10 drift checks (IsDrifted's VM lookup), 2 Gets
//     (node termination) and one List per 10 VMs (NodeClaim garbage collection);
//   - delete: every VM's Delete repeated until NodeClaimNotFound, as core's termination controller requeues it.
//
// Run: go test -run '^$' -bench BenchmarkFleetRequests -benchtime 1x ./pkg/providers/instance/
func BenchmarkFleetRequests(b *testing.B) {
	latency := 2 * time.Second
	if v := os.Getenv("BENCH_JOB_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		latency = d
	}
	ctx := context.Background()
	// The flags' rate limit and the client's job polling, as a production controller runs.
	e, p, nc, types := benchEnvironment(b, latency, true)
	s := e.Simulator
	phases := map[string]map[string]int64{}
	measure := func(phase string, fn func()) {
		before := s.Counts()
		fn()
		after := s.Counts()
		if phases[phase] == nil {
			phases[phase] = map[string]int64{}
		}
		for cmd, n := range after {
			if d := n - before[cmd]; d > 0 {
				phases[phase][cmd] += d
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids := make([]string, fleetSize)
		measure("launch", func() {
			parallel(fleetSize, func(j int) {
				inst, err := p.Create(ctx, nc, nodeClaim(fmt.Sprintf("fleet-%d-%d", i, j)), types, userData)
				if err != nil {
					b.Error(err)
					return
				}
				ids[j] = inst.ID
			})
		})
		measure("reads", func() {
			parallel(fleetSize, func(j int) {
				for k := 0; k < 10; k++ {
					if _, err := p.GetForDrift(ctx, ids[j]); err != nil {
						b.Error(err)
					}
				}
				for k := 0; k < 2; k++ {
					if _, err := p.Get(ctx, ids[j]); err != nil {
						b.Error(err)
					}
				}
				if j%10 == 0 {
					if _, err := p.List(ctx); err != nil {
						b.Error(err)
					}
				}
			})
		})
		measure("delete", func() {
			parallel(fleetSize, func(j int) {
				for {
					err := p.Delete(ctx, ids[j])
					if cloudprovider.IsNodeClaimNotFoundError(err) {
						return
					}
					if err != nil {
						b.Error(err)
						return
					}
					time.Sleep(latency / 4) // core requeues a Delete that did not report the VM gone
				}
			})
		})
	}
	b.StopTimer()
	vms := float64(b.N * fleetSize)
	for _, phase := range []string{"launch", "reads", "delete"} {
		total := int64(0)
		var parts []string
		for cmd, n := range phases[phase] {
			total += n
			parts = append(parts, fmt.Sprintf("%s %.2f", cmd, float64(n)/vms))
		}
		sort.Strings(parts)
		b.ReportMetric(float64(total)/vms, phase+"-requests/vm")
		b.Logf("%s: %.2f requests/vm (%s)", phase, float64(total)/vms, strings.Join(parts, ", "))
	}
}

func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}
