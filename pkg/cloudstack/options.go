package cloudstack

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options. They favour a management server shared with other tenants: a modest request rate, and a
// first job poll soon enough that a fast capacity failure reaches Karpenter within a second.
const (
	DefaultHTTPTimeout        = 30 * time.Second
	DefaultQPS                = 20
	DefaultBurst              = 40
	DefaultJobPollInterval    = 250 * time.Millisecond
	DefaultJobPollMaxInterval = 5 * time.Second
	DefaultJobTimeout         = 15 * time.Minute
	// DefaultPageSize is CloudStack's default.page.size, the largest page a stock management server returns.
	DefaultPageSize         = 500
	DefaultRetryMaxAttempts = 4
	DefaultRetryBaseDelay   = 250 * time.Millisecond
	DefaultRetryMaxDelay    = 5 * time.Second
	// DefaultThrottleRetryTimeout bounds how long one request is sent again while the server throttles it: long
	// enough for many api.throttling windows (1 s by default), so a burst never fails a launch, short enough that a
	// server that throttles for good surfaces as an error.
	DefaultThrottleRetryTimeout = 2 * time.Minute
	// serverLimitShare is the share of the server's api.throttling rate the client uses when it advertises one: the
	// limit counts per account, and other clients of the account need room too.
	serverLimitShare = 0.8
)

// Options configure a Client. Zero values take the defaults above, except VerifySSL, which the operator's options
// default to true. The operator's options (pkg/operator/options) validate what a user sets, with messages naming the
// flags; New does not validate them a second time.
type Options struct {
	// APIURL is the management server's API endpoint, for example https://cloud.example.com/client/api.
	APIURL string
	// APIKey and SecretKey are the credentials requests are signed with. The secret is never logged.
	APIKey, SecretKey string
	// VerifySSL verifies the server certificate; turn it off only for test installations.
	VerifySSL bool
	// CABundle is an optional PEM bundle trusted in addition to the system roots.
	CABundle []byte
	// HTTPTimeout bounds one HTTP request, including a request abandoned after its context was cancelled.
	HTTPTimeout time.Duration
	// QPS and Burst are the client-side rate limit shared by all calls, polls included. When the server advertises
	// api.throttling in listCapabilities, the client keeps under it (see Client.Capabilities); QPS and Burst stay
	// the ceiling.
	QPS   float64
	Burst int
	// JobPollInterval is the delay before the first job poll; later polls back off by 2x up to JobPollMaxInterval.
	JobPollInterval    time.Duration
	JobPollMaxInterval time.Duration
	// JobTimeout is the poller's own bound on waiting for one job; callers usually bound it sooner with their ctx.
	JobTimeout time.Duration
	// PageSize is the pagesize of list calls; it must not exceed the server's default.page.size.
	PageSize int
	// RetryMaxAttempts bounds the attempts of a read call that fails with 429, 530 or a transport error; the
	// delay between attempts starts at RetryBaseDelay and doubles up to RetryMaxDelay. Writes are never retried.
	RetryMaxAttempts int
	RetryBaseDelay   time.Duration
	RetryMaxDelay    time.Duration
	// ThrottleRetryTimeout bounds sending one request again while the server answers 429 (any command: the api-limit
	// plugin refuses a request before it runs).
	ThrottleRetryTimeout time.Duration
	// Project is the name or ID of the CloudStack project every VM is launched and looked for in; empty = the API
	// key's own account. Every call that takes a projectid sends the resolved project's ID (project.go).
	Project string
	// Registerer receives the client's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

func (o Options) withDefaults() Options {
	setDefault(&o.HTTPTimeout, DefaultHTTPTimeout)
	setDefault(&o.QPS, DefaultQPS)
	setDefault(&o.Burst, DefaultBurst)
	setDefault(&o.JobPollInterval, DefaultJobPollInterval)
	setDefault(&o.JobPollMaxInterval, DefaultJobPollMaxInterval)
	setDefault(&o.JobTimeout, DefaultJobTimeout)
	setDefault(&o.PageSize, DefaultPageSize)
	setDefault(&o.RetryMaxAttempts, DefaultRetryMaxAttempts)
	setDefault(&o.RetryBaseDelay, DefaultRetryBaseDelay)
	setDefault(&o.RetryMaxDelay, DefaultRetryMaxDelay)
	setDefault(&o.ThrottleRetryTimeout, DefaultThrottleRetryTimeout)
	return o
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
