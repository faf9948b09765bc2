package simulator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiPath is where a management server serves the API; the SDK is given http://host:port/client/api.
const apiPath = "/client/api"

// Server is a running simulated management server.
type Server struct {
	cat      *Catalog
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	scheme   string
	started  time.Time
	tlsCert  string
	tlsKey   string
	addr     string

	mu     sync.Mutex // guards the simulated cloud below
	closed bool
	st     *cloud
	// gen counts Resets: a job transition scheduled before a Reset must not act on the cloud built by it.
	gen uint64
	// pristine is the catalog as New received it (JSON), which Reset rebuilds the cloud from; initialJobLatency is
	// the job latency New was given.
	pristine          []byte
	initialJobLatency time.Duration

	faults  faults
	limiter apiLimiter
	chaos   chaos
	account accounting
}

// Option configures New.
type Option func(*Server)

// WithJobLatency sets how long an asynchronous job takes (default 2s; 0 completes jobs within the request).
func WithJobLatency(d time.Duration) Option {
	return func(s *Server) { s.faults.jobLatency.Store(int64(d)) }
}

// WithListenAddress serves on addr instead of 127.0.0.1:0.
func WithListenAddress(addr string) Option { return func(s *Server) { s.addr = addr } }

// WithTLS serves HTTPS with the given certificate and key files.
func WithTLS(certFile, keyFile string) Option {
	return func(s *Server) { s.tlsCert, s.tlsKey = certFile, keyFile }
}

// WithLogger logs every request at debug level (never the secret key or the signature).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New builds the simulated cloud from the catalog and starts serving it.
func New(c *Catalog, opts ...Option) (*Server, error) {
	if c == nil {
		return nil, errors.New("simulator needs a catalog")
	}
	s := &Server{cat: c, addr: "127.0.0.1:0", scheme: "http", started: time.Now(), log: slog.New(slog.DiscardHandler)}
	s.faults.init()
	s.chaos.init()
	s.faults.jobLatency.Store(int64(2 * time.Second))
	s.account.init()
	for _, o := range opts {
		o(s)
	}
	s.initialJobLatency = s.jobLatency()
	// newCloud keeps pointers into the catalog, and commands change the objects they point to: Reset needs a copy.
	pristine, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("copying the catalog: %w", err)
	}
	s.pristine = pristine
	st, err := newCloud(c)
	if err != nil {
		return nil, fmt.Errorf("building simulated cloud: %w", err)
	}
	s.st = st
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", s.addr, err)
	}
	if s.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("loading TLS key pair %q/%q: %w", s.tlsCert, s.tlsKey, err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		s.scheme = "https"
	}
	s.listener = ln
	mux := http.NewServeMux()
	mux.HandleFunc(apiPath, s.serveAPI)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the API endpoint to give the SDK, e.g. http://127.0.0.1:38211/client/api.
func (s *Server) URL() string { return s.scheme + "://" + s.listener.Addr().String() + apiPath }

// APIKey is the API key of the first account in the catalog.
func (s *Server) APIKey() string { return s.cat.Accounts[0].APIKey }

// SecretKey is the secret key of the first account in the catalog.
func (s *Server) SecretKey() string { return s.cat.Accounts[0].SecretKey }

// Close stops serving and cancels pending job transitions.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
}

// request is one parsed API call.
type request struct {
	command string // as sent, e.g. listVirtualMachines
	lc      string // lower case, as used in envelopes and error texts
	method  string
	params  url.Values
	acct    *account
	now     time.Time
}

func (r *request) get(name string) string { return r.params.Get(name) }

func (r *request) has(name string) bool {
	_, ok := r.params[name]
	return ok && r.params.Get(name) != ""
}

// apiError is an error response: HTTP status = errorcode.
type apiError struct {
	code   int
	csCode int
	text   string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.text) }

const (
	textUnauthorized = "unable to verify user credentials and/or request signature"
	csInvalidParam   = 4350
	csServerAPI      = 9999
)

func errParam(format string, args ...any) *apiError {
	return &apiError{code: 431, csCode: csInvalidParam, text: fmt.Sprintf(format, args...)}
}

// errInvalidID is the text ParamProcessWorker produces for a UUID it cannot resolve; the SDK's
// Get...ByID helpers look for it verbatim.
func errInvalidID(r *request, param, value string) *apiError {
	return &apiError{code: 431, csCode: csServerAPI, text: fmt.Sprintf("Unable to execute API command %s due to invalid value. "+
		"Invalid parameter %s value=%s due to incorrect long value format, or entity does not exist or due to incorrect "+
		"parameter annotation for the field in api cmd class.", r.lc, param, value)}
}

// errUnavailable is how the management server refuses a command the caller's role does not allow: HTTP 432
// (ApiErrorCode.UNSUPPORTED_ACTION_ERROR) with DynamicRoleBasedAPIAccessChecker's text, the command as sent.
func errUnavailable(command, account string) *apiError {
	return &apiError{code: 432, csCode: csServerAPI, text: fmt.Sprintf("The API [%s] does not exist or is not available for the account %s.", command, account)}
}

func errMissing(r *request, param string) *apiError {
	return &apiError{code: 431, csCode: csServerAPI, text: fmt.Sprintf("Unable to execute API command %s due to missing parameter %s", r.lc, param)}
}

// serveAPI authenticates, applies the fault knobs, dispatches and writes the envelope.
func (s *Server) serveAPI(w http.ResponseWriter, hr *http.Request) {
	start := time.Now()
	r := &request{method: hr.Method, now: start}
	if hr.Method != http.MethodGet && hr.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := hr.ParseForm(); err != nil {
		s.writeError(w, "errorresponse", &apiError{code: 430, csCode: csServerAPI, text: "malformed request: " + err.Error()})
		return
	}
	r.params = hr.Form
	r.command = r.get("command")
	r.lc = strings.ToLower(r.command)
	status := s.handle(w, hr, r)
	elapsed := time.Since(start)
	s.account.record(r.command, r.method, elapsed)
	s.recordResult(r.command, status)
	s.log.Debug("api request", "command", r.command, "method", r.method, "status", status, "duration", elapsed)
}

// handle returns the HTTP status it wrote (0 when the connection was dropped).
func (s *Server) handle(w http.ResponseWriter, hr *http.Request, r *request) int {
	if s.faults.takeDrop() || s.Down() {
		return dropConnection(w)
	}
	if s.proxyError() {
		return writeProxyError(w)
	}
	if d := s.faults.latencyFor(r.command); d > 0 {
		select {
		case <-time.After(d):
		case <-hr.Context().Done():
			return 0
		}
	}
	cmd, known := commands[r.lc]
	envelope := r.lc + "response"
	if !known {
		envelope = "errorresponse"
	}
	acct := s.authenticate(r)
	if acct == nil || !known || (cmd.rootAdmin && !acct.RootAdmin) {
		return s.writeError(w, envelope, &apiError{code: 401, text: textUnauthorized})
	}
	r.acct = acct
	if !acct.mayCall(r.lc) {
		// ApiServer.commandAvailable turns the checker's UnavailableCommandException into UNSUPPORTED_ACTION_ERROR.
		return s.writeError(w, envelope, errUnavailable(r.command, acct.Name))
	}
	if aerr := s.throttled(acct); aerr != nil {
		return s.writeError(w, envelope, aerr)
	}
	if s.faults.throttle.Load() {
		return s.writeError(w, envelope, errThrottled(time.Duration(s.cat.Settings.APILimitInterval)*time.Second))
	}
	if aerr := s.rateLimit(acct); aerr != nil {
		return s.writeError(w, envelope, aerr)
	}
	if s.faults.injectError(r.command) {
		return s.writeError(w, envelope, &apiError{code: 530, csCode: 4250,
			text: "Internal error executing command, please contact your system administrator"})
	}
	// Handlers return payloads that share no mutable state with the cloud, so they are serialized after
	// the lock is released and a large list does not hold up other requests.
	payload, aerr := s.runLocked(cmd, r)
	if aerr != nil {
		return s.writeError(w, envelope, aerr)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return s.writeError(w, envelope, &apiError{code: 530, csCode: 4250, text: "serializing response: " + err.Error()})
	}
	if drop, hang := s.dropAfterAction(r.command); drop {
		// The command took effect; only its answer is lost.
		select {
		case <-time.After(hang):
		case <-hr.Context().Done():
		}
		return dropConnection(w)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"` + envelope + `":`))
	_, _ = w.Write(body)
	_, _ = w.Write([]byte(`}`))
	return http.StatusOK
}

// dropConnection closes the request's connection without an answer, as a crashed or unreachable server leaves it.
func dropConnection(w http.ResponseWriter) int {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return 0
		}
	}
	panic(http.ErrAbortHandler)
}

type errorBody struct {
	UUIDList  []string `json:"uuidList"`
	ErrorCode int      `json:"errorcode"`
	CSCode    int      `json:"cserrorcode,omitempty"`
	ErrorText string   `json:"errortext"`
}

func (s *Server) writeError(w http.ResponseWriter, envelope string, e *apiError) int {
	body, _ := json.Marshal(map[string]errorBody{envelope: {UUIDList: []string{}, ErrorCode: e.code, CSCode: e.csCode, ErrorText: e.text}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-Description", e.text)
	w.WriteHeader(e.code)
	_, _ = w.Write(body)
	return e.code
}

// listBody is a list response: an empty list is `{}` (no count), and count is the total across pages.
func listBody[T any](key string, items []T, total int) any {
	if total == 0 {
		return struct{}{}
	}
	if len(items) == 0 {
		return map[string]any{"count": total}
	}
	return map[string]any{"count": total, key: items}
}

// paginate applies BaseListCmd's page/pagesize rules to n results and returns the slice bounds.
func (s *Server) paginate(r *request, n int) (int, int, *apiError) {
	pageS, sizeS := r.get("page"), r.get("pagesize")
	if pageS == "" && sizeS == "" {
		return 0, n, nil
	}
	if sizeS == "" {
		return 0, 0, errParam("\"pagesize\" parameter is required when \"page\" is specified")
	}
	size, err := strconv.Atoi(sizeS)
	if err != nil {
		return 0, 0, &apiError{code: 431, csCode: csServerAPI, text: fmt.Sprintf("Unable to execute API command %s due to invalid value. Invalid parameter pagesize value=%s due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.", r.lc, sizeS)}
	}
	if size == -1 {
		if pageS != "" {
			return 0, 0, errParam("Can't specify page parameter when pagesize is -1 (Unlimited)")
		}
		return 0, n, nil
	}
	if pageS == "" {
		return 0, 0, errParam("\"page\" parameter is required when \"pagesize\" is specified")
	}
	if size > s.cat.Settings.MaxPageSize {
		return 0, 0, errParam("Page size can't exceed max allowed page size value: %d", s.cat.Settings.MaxPageSize)
	}
	if size < 1 {
		return 0, 0, errParam("Page size must be greater than 0")
	}
	page, err := strconv.Atoi(pageS)
	if err != nil || page < 1 {
		return 0, 0, errParam("Page must be greater than 0")
	}
	start := min(size*(page-1), n)
	return start, min(start+size, n), nil
}

// pageOf returns the requested page of items plus the total, or the paging error.
func pageOf[T any](s *Server, r *request, items []T) ([]T, int, *apiError) {
	lo, hi, err := s.paginate(r, len(items))
	if err != nil {
		return nil, 0, err
	}
	return items[lo:hi], len(items), nil
}

func parseBool(r *request, name string) (bool, bool, *apiError) {
	v := r.get(name)
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false, &apiError{code: 431, csCode: csServerAPI, text: fmt.Sprintf("Unable to execute API command %s due to invalid value. Invalid parameter %s value=%s due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.", r.lc, name, v)}
	}
	return b, true, nil
}

// indexedMap reads parameters of the form name[i].key=value, as the SDK encodes maps, into one map per index.
func indexedMap(r *request, name string) map[int]map[string]string {
	out := map[int]map[string]string{}
	prefix := name + "["
	for k, vs := range r.params {
		if !strings.HasPrefix(strings.ToLower(k), prefix) || len(vs) == 0 {
			continue
		}
		rest := k[len(prefix):]
		close := strings.Index(rest, "].")
		if close < 0 {
			continue
		}
		i, err := strconv.Atoi(rest[:close])
		if err != nil {
			continue
		}
		if out[i] == nil {
			out[i] = map[string]string{}
		}
		out[i][rest[close+2:]] = vs[0]
	}
	return out
}

// tagPairs reads tags[i].key/value filters or arguments in index order.
func tagPairs(r *request) []tagPair {
	m := indexedMap(r, "tags")
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	out := make([]tagPair, 0, len(idx))
	for _, i := range idx {
		out = append(out, tagPair{key: m[i]["key"], value: m[i]["value"]})
	}
	return out
}

type tagPair struct{ key, value string }

func listParam(r *request, name string) []string {
	v := r.get(name)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containsFold(haystack, needle string) bool {
	return strings.Contains(strings.ToLower(haystack), strings.ToLower(needle))
}

// csTime is the date format of every CloudStack response.
func csTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-0700") }

// createdAt is the creation date of catalog objects: the moment the server started.
func (s *Server) createdAt() time.Time { return s.started }

// runLocked runs a command handler under the cloud's lock. The deferred unlock keeps a panicking handler (which
// net/http recovers from) from leaving the lock held and hanging every later request.
func (s *Server) runLocked(cmd *command, r *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cmd.handle(s, r)
}
