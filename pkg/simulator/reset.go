package simulator

import (
	"encoding/json"
	"fmt"
)

// Reset puts the simulator back to the state New left it in, without restarting the listener: the cloud is rebuilt
// from the catalog New was given (no VMs, jobs or tags other than the catalog's; the catalog's objects as declared),
// every fault and chaos knob is cleared, the job latency is New's again, the api-limit windows and the request
// accounting start empty. Job transitions scheduled before Reset never run. Tests share one simulator between specs
// and call Reset before each.
func (s *Server) Reset() error {
	c := &Catalog{}
	if err := json.Unmarshal(s.pristine, c); err != nil {
		return fmt.Errorf("restoring the catalog: %w", err)
	}
	st, err := newCloud(c)
	if err != nil {
		return fmt.Errorf("rebuilding the simulated cloud: %w", err)
	}
	s.mu.Lock()
	s.cat, s.st = c, st
	s.gen++
	s.mu.Unlock()
	s.ResetFaults()
	s.SetJobLatency(s.initialJobLatency)
	s.limiter.mu.Lock()
	s.limiter.windows = nil
	s.limiter.mu.Unlock()
	s.chaos.mu.Lock()
	s.chaos.results = map[string]map[int]int64{}
	s.chaos.mu.Unlock()
	s.ResetCounts()
	return nil
}
