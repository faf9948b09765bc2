package simulator

import (
	"fmt"
	"sync"
	"time"
)

// apiLimiter is the api-limit plugin (ApiRateLimitServiceImpl) when api.throttling.enabled is set: each account's
// requests are counted in a window of api.throttling.interval seconds that starts with the account's first request
// after the previous window expired; the request that makes the count exceed api.throttling.max, and every later one
// of the window, fails with 429. Refused requests count too (the plugin increments before it compares). Root admins
// are not throttled.
type apiLimiter struct {
	mu      sync.Mutex
	windows map[string]*limitWindow // by account name
}

type limitWindow struct {
	expires time.Time
	count   int
}

// rateLimit checks a request of the account against the catalog's limit; nil when it may proceed.
func (s *Server) rateLimit(acct *account) *apiError {
	set := s.cat.Settings
	if !set.APIThrottling || acct.RootAdmin {
		return nil
	}
	l := &s.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil {
		l.windows = map[string]*limitWindow{}
	}
	now := time.Now()
	w := l.windows[acct.Name]
	if w == nil || !now.Before(w.expires) {
		w = &limitWindow{expires: now.Add(time.Duration(set.APILimitInterval) * time.Second)}
		l.windows[acct.Name] = w
	}
	w.count++
	if w.count <= set.APILimitMax {
		return nil
	}
	return errThrottled(w.expires.Sub(now))
}

// errThrottled is the plugin's RequestLimitException, which ApiServer answers with 429 (API_LIMIT_EXCEED).
func errThrottled(retryAfter time.Duration) *apiError {
	return &apiError{code: 429, csCode: 4545, text: fmt.Sprintf(
		"The given user has reached his/her account api limit, please retry after %d ms.", retryAfter.Milliseconds())}
}
