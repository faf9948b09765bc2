package simulator

import (
	"sync"
	"time"
)

// CommandStats is what the simulator has seen of one command since the last reset.
type CommandStats struct {
	Count int64         `json:"count"`
	GET   int64         `json:"get"`
	POST  int64         `json:"post"`
	Total time.Duration `json:"totalNanos"`
	Max   time.Duration `json:"maxNanos"`
}

// Mean is the average time the simulator took to answer.
func (c CommandStats) Mean() time.Duration {
	if c.Count == 0 {
		return 0
	}
	return c.Total / time.Duration(c.Count)
}

type accounting struct {
	mu    sync.Mutex
	stats map[string]*CommandStats
	total int64
}

func (a *accounting) init() { a.stats = map[string]*CommandStats{} }

func (a *accounting) record(cmd, method string, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total++
	if cmd == "" {
		return
	}
	c := a.stats[cmd]
	if c == nil {
		c = &CommandStats{}
		a.stats[cmd] = c
	}
	c.Count++
	if method == "POST" {
		c.POST++
	} else {
		c.GET++
	}
	c.Total += d
	c.Max = max(c.Max, d)
}

// Counts returns the number of requests per command (as sent, e.g. "queryAsyncJobResult").
func (s *Server) Counts() map[string]int64 {
	s.account.mu.Lock()
	defer s.account.mu.Unlock()
	out := make(map[string]int64, len(s.account.stats))
	for k, v := range s.account.stats {
		out[k] = v.Count
	}
	return out
}

// Stats returns counts, HTTP methods and latencies per command.
func (s *Server) Stats() map[string]CommandStats {
	s.account.mu.Lock()
	defer s.account.mu.Unlock()
	out := make(map[string]CommandStats, len(s.account.stats))
	for k, v := range s.account.stats {
		out[k] = *v
	}
	return out
}

// TotalRequests counts every request to the API path, including ones without a command.
func (s *Server) TotalRequests() int64 {
	s.account.mu.Lock()
	defer s.account.mu.Unlock()
	return s.account.total
}

// ResetCounts clears the accounting.
func (s *Server) ResetCounts() {
	s.account.mu.Lock()
	defer s.account.mu.Unlock()
	s.account.stats = map[string]*CommandStats{}
	s.account.total = 0
}
