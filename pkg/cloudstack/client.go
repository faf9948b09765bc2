package cloudstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"sync/atomic"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// Client is the CloudStack API client of the provider. It is safe for concurrent use.
type Client struct {
	// sdk signs with the current keys; SetCredentials swaps it, so a rotated key applies to the next request.
	sdk     atomic.Pointer[csgo.CloudStackClient]
	http    *http.Client
	opts    Options
	limiter *rate.Limiter
	// queue admits one request that is not Urgent at a time to the limiter, so the limiter never holds more than one
	// of their reservations and an Urgent request waits for at most that one (see waitForRateLimit).
	queue   chan struct{}
	metrics *metrics
	// jobs maps the ID of each job an async command started to that command, until WaitForJob sees the job end.
	jobs sync.Map
	// pageSize starts at Options.PageSize and drops to the server's default.page.size when the server refuses it.
	pageSize atomic.Int64
	// project is the resolved ID of Options.Project (project.go); nil until resolved, and again after the server
	// refused it.
	project atomic.Pointer[string]
}

var _ API = (*Client)(nil)

// New builds a client. It makes no request; callers check connectivity with Capabilities. The options are those
// pkg/operator/options validated (ClientOptions); New only fails when it cannot build the client at all.
func New(o Options) (*Client, error) {
	o = o.withDefaults()
	hc, err := httpClient(o)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering CloudStack API metrics, %w", err)
	}
	c := &Client{
		http:    hc,
		opts:    o,
		limiter: rate.NewLimiter(rate.Limit(o.QPS), o.Burst),
		queue:   make(chan struct{}, 1),
		metrics: m,
	}
	c.sdk.Store(c.newSDK(o.APIKey, o.SecretKey))
	c.pageSize.Store(int64(o.PageSize))
	return c, nil
}

// newSDK is the non-blocking SDK client: async calls return their job ID at once and our poller waits with a
// context. Every SDK client of this Client shares one HTTP client, so a key rotation keeps the connections.
func (c *Client) newSDK(apiKey, secretKey string) *csgo.CloudStackClient {
	return csgo.NewClient(c.opts.APIURL, apiKey, secretKey, c.opts.VerifySSL, csgo.WithHTTPClient(c.http))
}

// SetCredentials makes later requests sign with a new API key and secret key, for a key rotated in the mounted
// credentials Secret. Requests already sent finish with the old key.
func (c *Client) SetCredentials(apiKey, secretKey string) error {
	if apiKey == "" || secretKey == "" {
		return fmt.Errorf("setting CloudStack credentials: the API key and the secret key are required")
	}
	c.sdk.Store(c.newSDK(apiKey, secretKey))
	return nil
}

func httpClient(o Options) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !o.VerifySSL} //nolint:gosec // opt-out is explicit in the options
	if len(o.CABundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(o.CABundle) {
			return nil, fmt.Errorf("reading the CA bundle: no PEM certificate found")
		}
		tlsConfig.RootCAs = pool
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP cookie jar, %w", err)
	}
	return &http.Client{
		Jar:     jar,
		Timeout: o.HTTPTimeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   100,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}, nil
}

// do runs an SDK call (see doOnce), sending it again for as long as the server throttles it and ctx lasts.
func do[T any](ctx context.Context, c *Client, command string, fn func() (T, error)) (T, error) {
	delay := c.opts.RetryBaseDelay
	start := time.Now()
	for {
		v, err := doOnce(ctx, c, command, fn)
		if err == nil || !cserrors.IsThrottled(err) {
			return v, err
		}
		// The api-limit plugin refuses a request before it runs, so even a deploy is safe to send again. The server
		// says when its window ends; waiting for it (with jitter, so that requests refused together do not return
		// together) keeps a burst from failing launches.
		c.metrics.throttled.WithLabelValues(command).Inc()
		wait := delay
		if after := cserrors.RetryAfter(err); after > 0 {
			wait = after
		}
		if time.Since(start)+wait > c.opts.ThrottleRetryTimeout {
			return v, err
		}
		log.FromContext(ctx).V(1).Info("the management server throttled the request; retrying", "command", command, "after", wait.String())
		if serr := sleep(ctx, wait+rand.N(wait/2+1)); serr != nil {
			return v, fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
		delay = min(2*delay, c.opts.RetryMaxDelay)
	}
}

// doOnce runs one SDK call under the rate limit, records its metrics, and returns as soon as ctx ends. The SDK call
// itself cannot be cancelled; it finishes in the background within the HTTP timeout.
func doOnce[T any](ctx context.Context, c *Client, command string, fn func() (T, error)) (T, error) {
	var zero T
	if err := c.waitForRateLimit(ctx); err != nil {
		return zero, fmt.Errorf("waiting for the client-side rate limit before %s, %w", command, err)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		v, err := fn()
		done <- result{v, cserrors.Parse(redact(err))}
	}()
	select {
	case r := <-done:
		c.metrics.requests.WithLabelValues(command, resultCode(r.err, false)).Inc()
		c.metrics.duration.WithLabelValues(command).Observe(time.Since(start).Seconds())
		if (r.err != nil && !cserrors.IsThrottled(r.err)) || (r.err == nil && !asyncCommands[command]) {
			// An accepted async command has no result yet: WaitForJob records it. A throttled one is sent again.
			c.metrics.results.WithLabelValues(command, resultCode(r.err, false)).Inc()
		}
		if cserrors.IsTLSVerification(r.err) {
			return zero, fmt.Errorf("calling %s: %w (%s)", command, r.err, tlsVerificationHint)
		}
		if r.err != nil {
			return zero, fmt.Errorf("calling %s, %w", command, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		c.metrics.requests.WithLabelValues(command, resultCode(nil, true)).Inc()
		c.metrics.results.WithLabelValues(command, resultCode(nil, true)).Inc()
		return zero, fmt.Errorf("calling %s, %w", command, context.Cause(ctx))
	}
}

// tlsVerificationHint tells the operator how to fix a management server certificate the client could not verify.
const tlsVerificationHint = "the management server's certificate is not trusted for this URL: give the CA that signed it with " +
	"--cloudstack-ca-bundle (chart: settings.cloudstack.caBundle), make the API URL use a name or IP address the certificate " +
	"is issued for, or turn verify-ssl off for test installations only"

// waitForRateLimit waits for a token until ctx ends. Unlike rate.Limiter.Wait it does not fail early when the wait
// would pass the deadline, so callers see their context's cause (for example the job timeout) rather than the
// limiter's guess.
//
// Requests that are not Urgent take their turn one at a time, each holding the turn until its token is due. The
// limiter reserves tokens in the order they are asked for: when a burst of 250 deploys reserved its tokens up
// front, the poll that would have told the first launches their VMs run got a token only after the last deploy,
// 10 s later at 20 requests per second, so every launch of the burst ended at once. Now an Urgent request waits for
// at most the one reservation ahead of it. The rate is the limiter's either way.
func (c *Client) waitForRateLimit(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if !isUrgent(ctx) {
		select {
		case c.queue <- struct{}{}:
			defer func() { <-c.queue }()
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	r := c.limiter.Reserve()
	if !r.OK() {
		return fmt.Errorf("the rate limit burst of %d admits no request", c.opts.Burst)
	}
	if err := sleep(ctx, r.Delay()); err != nil {
		r.Cancel()
		return context.Cause(ctx)
	}
	return nil
}

type urgentKey struct{}

// Urgent marks the requests made with ctx as finishing work CloudStack has already accepted, such as the polls that
// tell launches in flight that their VMs run: they pass requests still queued for the client-side rate limit.
func Urgent(ctx context.Context) context.Context { return context.WithValue(ctx, urgentKey{}, true) }

func isUrgent(ctx context.Context) bool { v, _ := ctx.Value(urgentKey{}).(bool); return v }

// read is do with retries for idempotent calls (list*, query*): throttling, internal errors and transport failures
// are retried with exponential backoff and jitter. Writes are never retried, because a deploy whose response was
// lost may still have created a VM.
func read[T any](ctx context.Context, c *Client, command string, fn func() (T, error)) (T, error) {
	delay := c.opts.RetryBaseDelay
	for attempt := 1; ; attempt++ {
		v, err := do(ctx, c, command, fn)
		if err == nil || attempt >= c.opts.RetryMaxAttempts || !retryable(err) {
			return v, err
		}
		// Full jitter keeps many controllers that failed together from retrying together.
		if serr := sleep(ctx, delay/2+rand.N(delay/2+1)); serr != nil {
			return v, fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
		delay = min(2*delay, c.opts.RetryMaxDelay)
	}
}

func retryable(err error) bool { return cserrors.IsThrottled(err) || cserrors.IsServerError(err) }

// sleep waits for d or until ctx ends, returning ctx's error in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// page is one page of a list call: its items and the server's count, the total across all pages.
type page[T any] struct {
	items []T
	count int
}

// listAll fetches every page of a list call. CloudStack's count is the total, so paging stops once count items
// arrived, or earlier when a page comes back short (the set shrank while we paged). A server whose default.page.size
// is below the configured page size refuses the size with 431 and names its limit; the listing then restarts with
// that limit, which every later list call of the client uses.
func listAll[T any](ctx context.Context, c *Client, command string, fetch func(pageNo, pageSize int) (page[T], error)) ([]T, error) {
	var out []T
	size := int(c.pageSize.Load())
	for n := 1; ; n++ {
		p, err := read(ctx, c, command, func() (page[T], error) { return fetch(n, size) })
		if limit := cserrors.PageSizeLimit(err); limit > 0 && limit < size {
			log.FromContext(ctx).Info("the management server refused the page size; using its default.page.size",
				"command", command, "pageSize", size, "serverLimit", limit)
			c.pageSize.CompareAndSwap(int64(size), int64(limit))
			out, size, n = nil, limit, 0
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p.items...)
		if len(p.items) < size || len(out) >= p.count {
			return out, nil
		}
	}
}
