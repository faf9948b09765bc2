package simulator

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// chaos holds the fault knobs of chaos runs: failures at random rates, responses lost after the server acted, the
// api-limit plugin's per-account throttling, a management server that cannot be reached for a while, and exhausted
// offerings. It also counts every answer by command and result, the figures a chaos run reports. It has its own
// lock, apart from the cloud's and from the simpler knobs in faults.go.
type chaos struct {
	mu sync.Mutex
	// proxyErrorRate is the share of requests a reverse proxy in front of the management servers answers 502/503.
	proxyErrorRate float64
	// dropAfter is the share of requests whose response is lost after the server acted, by lower-case command
	// ("" = every command without its own); dropAfterHang is how long the connection stays open, answerless, before
	// it is closed (longer than the client's timeout makes the client see a timeout).
	dropAfter     map[string]float64
	dropAfterHang time.Duration
	// deployFailureRate is the share of deployments that fail (see deployFailure).
	deployFailureRate float64
	// apiLimit is the api-limit plugin: at most apiLimitMax requests per account and apiLimitInterval.
	apiLimitMax      int
	apiLimitInterval time.Duration
	windows          map[string]*apiWindow
	// downUntil is the end of the current outage: until then every connection is closed without an answer.
	downUntil time.Time
	// exhausted lists offerings (name or UUID, with an optional "@zone" suffix) no host has room for.
	exhausted map[string]bool
	// results counts the answers per command and HTTP status; 0 = no answer (connection closed).
	results map[string]map[int]int64
}

type apiWindow struct {
	start time.Time
	count int
}

func (c *chaos) init() {
	c.windows = map[string]*apiWindow{}
	c.dropAfter = map[string]float64{}
	c.exhausted = map[string]bool{}
	c.results = map[string]map[int]int64{}
}

// ChaosSettings are the chaos knobs of POST /faults (embedded in FaultSettings); absent fields leave a knob as it is.
type ChaosSettings struct {
	// ProxyErrorRate is the share of API requests that a reverse proxy in front of the management servers answers
	// with 502 or 503 and an HTML body, as when a management server behind it restarts.
	ProxyErrorRate *float64 `json:"proxyErrorRate,omitempty"`
	// DropAfterAction is the share of a command's requests ("" = every command without its own share) that the
	// server carries out and whose response is then lost: the client sees its connection closed, or times out when
	// DropAfterActionHang is longer than its HTTP timeout, while the deploy, tag or destroy did happen. A share of 0
	// removes the command's setting.
	DropAfterAction     map[string]float64 `json:"dropAfterAction,omitempty"`
	DropAfterActionHang *Duration          `json:"dropAfterActionHang,omitempty"`
	// DeployFailureRate is the share of deployments that fail, in three ways a management server fails them: a
	// synchronous 533 before any VM exists, a job failing with 533 (no host had room), or a job failing with 530
	// (the start failed on the hypervisor). Both job failures leave the VM in Error.
	DeployFailureRate *float64 `json:"deployFailureRate,omitempty"`
	// APILimit turns on the api-limit plugin (api.throttling.enabled): at most Max requests per account per
	// Interval; more are answered 429. Max 0 turns it off. Root admins are exempt, as on a real server.
	APILimit *APILimitSetting `json:"apiLimit,omitempty"`
	// Outage makes the management server unreachable for this long from now: connections are closed without an
	// answer. Zero ends a running outage.
	Outage *Duration `json:"outage,omitempty"`
	// ExhaustedOfferings marks offerings (name or UUID, optionally "name@zone") out of capacity (true) or not
	// (false): deployments of them fail inside the job with 533 and leave the VM in Error.
	ExhaustedOfferings map[string]bool `json:"exhaustedOfferings,omitempty"`
}

// APILimitSetting is api.throttling.max and api.throttling.interval.
type APILimitSetting struct {
	Max      int      `json:"max"`
	Interval Duration `json:"interval"`
}

// ApplyChaos sets the chaos knobs named in c.
func (s *Server) ApplyChaos(c ChaosSettings) {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	if c.ProxyErrorRate != nil {
		s.chaos.proxyErrorRate = *c.ProxyErrorRate
	}
	for cmd, p := range c.DropAfterAction {
		if p <= 0 {
			delete(s.chaos.dropAfter, strings.ToLower(cmd))
		} else {
			s.chaos.dropAfter[strings.ToLower(cmd)] = p
		}
	}
	if c.DropAfterActionHang != nil {
		s.chaos.dropAfterHang = c.DropAfterActionHang.Duration
	}
	if c.DeployFailureRate != nil {
		s.chaos.deployFailureRate = *c.DeployFailureRate
	}
	if c.APILimit != nil {
		s.chaos.apiLimitMax, s.chaos.apiLimitInterval = c.APILimit.Max, c.APILimit.Interval.Duration
		if s.chaos.apiLimitInterval <= 0 {
			s.chaos.apiLimitInterval = time.Duration(max(1, s.cat.Settings.APILimitInterval)) * time.Second
		}
		s.chaos.windows = map[string]*apiWindow{}
	}
	if c.Outage != nil {
		s.chaos.downUntil = time.Now().Add(c.Outage.Duration)
	}
	for o, on := range c.ExhaustedOfferings {
		if on {
			s.chaos.exhausted[o] = true
		} else {
			delete(s.chaos.exhausted, o)
		}
	}
}

// resetChaos clears every chaos knob; the result counts stay.
func (s *Server) resetChaos() {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	s.chaos.proxyErrorRate, s.chaos.dropAfterHang, s.chaos.deployFailureRate = 0, 0, 0
	s.chaos.dropAfter = map[string]float64{}
	s.chaos.apiLimitMax, s.chaos.downUntil = 0, time.Time{}
	s.chaos.windows, s.chaos.exhausted = map[string]*apiWindow{}, map[string]bool{}
}

// Down reports whether the management server is in an outage.
func (s *Server) Down() bool {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	return time.Now().Before(s.chaos.downUntil)
}

// Results returns how many requests of each command were answered with each HTTP status (0 = connection closed
// without an answer) since the server started.
func (s *Server) Results() map[string]map[int]int64 {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	out := make(map[string]map[int]int64, len(s.chaos.results))
	for cmd, byCode := range s.chaos.results {
		out[cmd] = make(map[int]int64, len(byCode))
		for code, n := range byCode {
			out[cmd][code] = n
		}
	}
	return out
}

func (s *Server) recordResult(command string, status int) {
	if command == "" {
		command = "(none)"
	}
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	if s.chaos.results[command] == nil {
		s.chaos.results[command] = map[int]int64{}
	}
	s.chaos.results[command][status]++
}

func (c *chaos) chance(p float64) bool { return p > 0 && rand.Float64() < p }

// proxyError reports whether a reverse proxy with no healthy management server behind it answers this request.
func (s *Server) proxyError() bool {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	return s.chaos.chance(s.chaos.proxyErrorRate)
}

// writeProxyError answers as nginx or HAProxy do: an HTML body, not CloudStack's JSON envelope.
func writeProxyError(w http.ResponseWriter) int {
	code := http.StatusServiceUnavailable
	if rand.IntN(2) == 0 {
		code = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1>The server is temporarily unable to service your request.</body></html>\n", code, http.StatusText(code))
	return code
}

// throttled applies the api-limit plugin (ApiRateLimitServiceImpl): a fixed window per account, root admins exempt.
func (s *Server) throttled(acct *account) *apiError {
	if acct == nil || acct.RootAdmin {
		return nil
	}
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	if s.chaos.apiLimitMax <= 0 {
		return nil
	}
	now := time.Now()
	w := s.chaos.windows[acct.ID]
	if w == nil || now.Sub(w.start) >= s.chaos.apiLimitInterval {
		w = &apiWindow{start: now}
		s.chaos.windows[acct.ID] = w
	}
	w.count++
	if w.count <= s.chaos.apiLimitMax {
		return nil
	}
	retry := w.start.Add(s.chaos.apiLimitInterval).Sub(now).Milliseconds()
	return &apiError{code: 429, csCode: 4545, text: fmt.Sprintf("The given user has reached his/her account api limit, please retry after %d ms.", max(retry, 1))}
}

// dropAfterAction reports whether this request's answer is to be lost after the server acted, and for how long to
// hold the connection before closing it.
func (s *Server) dropAfterAction(command string) (bool, time.Duration) {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	p, ok := s.chaos.dropAfter[strings.ToLower(command)]
	if !ok {
		p = s.chaos.dropAfter[""]
	}
	return s.chaos.chance(p), s.chaos.dropAfterHang
}

// Ways a deployment fails under DeployFailureRate.
const (
	deployOK = iota
	deployRefused
	deployJobCapacity
	deployJobInternal
)

// deployFailure draws how this deployment fails, if it does: an exhausted offering always fails in the job with
// 533; otherwise DeployFailureRate picks one of the three failures evenly.
func (s *Server) deployFailure(z *zone, o *ServiceOffering) int {
	s.chaos.mu.Lock()
	defer s.chaos.mu.Unlock()
	for _, key := range []string{o.Name, o.ID, o.Name + "@" + z.Name, o.ID + "@" + z.Name, o.Name + "@" + z.ID} {
		if s.chaos.exhausted[key] {
			return deployJobCapacity
		}
	}
	if !s.chaos.chance(s.chaos.deployFailureRate) {
		return deployOK
	}
	return deployRefused + rand.IntN(3)
}

// errDeployRefused is DeployVMCmd.create's answer when an InsufficientCapacityException is raised before the VM is
// written: 533, with the generic text ApiServer shows every caller but root admins.
func errDeployRefused() *apiError {
	return &apiError{code: 533, csCode: 4335, text: "Internal error executing command, please contact your system administrator"}
}

// deployInternalFailureText is a failed start on the hypervisor, which the job reports as an internal error.
func deployInternalFailureText(v *vm) string {
	return fmt.Sprintf("Unable to start VM[User|%s] due to error in finalizeStart, not retrying", v.instanceName)
}
