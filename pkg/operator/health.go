package operator

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// reachabilityInterval is how often every replica probes CloudStack: often enough that the gauge and the log show an
// outage within a minute, rare enough that probes of every replica are no noticeable share of the API traffic.
const reachabilityInterval = 30 * time.Second

// reachabilityTimeout bounds one probe, below the interval.
const reachabilityTimeout = 10 * time.Second

// reachability probes CloudStack on every replica and reports the result as the karpenter_cloudstack_api_reachable
// gauge and a log line on every change. It is deliberately not a readiness check: while CloudStack is down every
// replica would turn unready at once, the metrics Service would lose its endpoints and the controller's
// PodDisruptionBudget would block node drains, although nothing about the process is wrong and it resumes by itself.
type reachability struct {
	probe    func(context.Context) error
	interval time.Duration
	timeout  time.Duration
	// reachable is the last outcome; nil before the first probe.
	reachable *bool
}

func newReachability(probe func(context.Context) error) *reachability {
	return &reachability{probe: probe, interval: reachabilityInterval, timeout: reachabilityTimeout}
}

// Start probes until ctx ends.
func (r *reachability) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("cloudstack-reachability")
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.once(ctx, logger)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection is false: standby replicas report reachability too, so a fail-over target's state is known.
func (r *reachability) NeedLeaderElection() bool { return false }

func (r *reachability) once(ctx context.Context, logger logr.Logger) {
	probeCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.probe(probeCtx)
	if ctx.Err() != nil {
		return
	}
	ok := err == nil
	if r.reachable != nil && *r.reachable == ok {
		return
	}
	switch {
	case !ok:
		// The client's errors carry no signature or key (pkg/cloudstack/redact.go).
		logger.Error(err, "CloudStack API is unreachable or refuses the credentials; launches and deletions wait until it answers")
	case r.reachable != nil:
		logger.Info("CloudStack API answers again")
	default:
		logger.Info("CloudStack API answers")
	}
	r.reachable = &ok
}
