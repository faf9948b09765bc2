package cloudstack

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

const metricsNamespace = "karpenter_cloudstack"

// metrics are per command and result code. The code label is the CloudStack errorcode (200 for success),
// "transport" for failures below the API, and "canceled" when the caller's context ended first.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// results count outcomes rather than requests: an async command's result is its job's, which arrives in a
	// queryAsyncJobResult response (a 533 capacity error among them), yet is labelled with the command itself.
	results *prometheus.CounterVec
	// reachable is the outcome of the last Probe.
	reachable prometheus.Gauge
	// throttled counts requests the server refused with 429 (api.throttling), which the client sent again.
	throttled *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "api", Name: "requests_total",
			Help: "CloudStack API requests by command and result code (200, the CloudStack errorcode, transport or canceled).",
		}, []string{"command", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Duration of CloudStack API requests by command.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"command"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "api", Name: "results_total",
			Help: "Outcomes of CloudStack API operations by command and result code. For async commands (deployVirtualMachine, " +
				"destroyVirtualMachine, rebootVirtualMachine, createTags, deleteTags) the code is the job's result, whichever " +
				"request carried it: a deploy refused at once and a deploy whose job failed with 533 both count under deployVirtualMachine.",
		}, []string{"command", "code"}),
		reachable: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "api", Name: "reachable",
			Help: "1 when CloudStack answered the last probe (listCapabilities, every 30 s on every replica) with the " +
				"controller's credentials, 0 when it was unreachable or refused them. Readiness does not depend on it.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "api", Name: "throttled_total",
			Help: "CloudStack API requests the management server refused with 429 (api.throttling.max reached), by command. " +
				"The client waits for the server's window and sends them again; a steady rate means the client limit is above the server's.",
		}, []string{"command"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.results, err = register(reg, m.results); err != nil {
		return nil, err
	}
	if m.reachable, err = register(reg, m.reachable); err != nil {
		return nil, err
	}
	if m.throttled, err = register(reg, m.throttled); err != nil {
		return nil, err
	}
	return m, nil
}

// register reuses an already registered collector, so that several clients (tests, a re-created operator client)
// may share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func resultCode(err error, canceled bool) string {
	switch {
	case canceled:
		return "canceled"
	case err == nil:
		return "200"
	}
	if code := cserrors.Code(err); code != 0 {
		return strconv.Itoa(code)
	}
	return "transport"
}
