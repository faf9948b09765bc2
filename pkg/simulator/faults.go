package simulator

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// faults holds the test knobs. They have their own lock so that they can be changed while requests run.
type faults struct {
	jobLatency atomic.Int64
	throttle   atomic.Bool
	drops      atomic.Int64
	tagJobs    atomic.Int64 // how many more createTags jobs fail

	mu        sync.Mutex
	latency   map[string]latencyKnob // by lower-case command; "" applies to every command
	errorRate map[string]float64
	failNext  map[string]int // by lower-case command: how many more requests fail
	deploys   []deployFailure
}

type latencyKnob struct{ base, jitter time.Duration }

type deployFailure struct {
	remaining      int
	zone, offering string
}

func (f *faults) init() {
	f.latency = map[string]latencyKnob{}
	f.errorRate = map[string]float64{}
	f.failNext = map[string]int{}
}

func (f *faults) takeDrop() bool { return takeOne(&f.drops) }

// takeOne consumes one of a knob's remaining scripted faults, if any is left.
func takeOne(n *atomic.Int64) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

func (f *faults) latencyFor(cmd string) time.Duration {
	f.mu.Lock()
	k, ok := f.latency[strings.ToLower(cmd)]
	if !ok {
		k = f.latency[""]
	}
	f.mu.Unlock()
	d := k.base
	if k.jitter > 0 {
		d += rand.N(k.jitter)
	}
	return d
}

func (f *faults) injectError(cmd string) bool {
	f.mu.Lock()
	if n := f.failNext[strings.ToLower(cmd)]; n > 0 {
		f.failNext[strings.ToLower(cmd)] = n - 1
		f.mu.Unlock()
		return true
	}
	p, ok := f.errorRate[strings.ToLower(cmd)]
	if !ok {
		p = f.errorRate[""]
	}
	f.mu.Unlock()
	return p > 0 && rand.Float64() < p
}

// takeTagJobFailure consumes one scripted createTags job failure.
func (f *faults) takeTagJobFailure() bool { return takeOne(&f.tagJobs) }

// takeDeployFailure consumes one scripted failure that matches the zone and offering (by name or UUID).
func (f *faults) takeDeployFailure(z *zone, o *ServiceOffering) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.deploys {
		d := &f.deploys[i]
		if d.remaining > 0 && (d.zone == "" || d.zone == z.Name || d.zone == z.ID) &&
			(d.offering == "" || d.offering == o.Name || d.offering == o.ID) {
			d.remaining--
			return true
		}
	}
	return false
}

// SetJobLatency changes how long asynchronous jobs started from now on take.
func (s *Server) SetJobLatency(d time.Duration) { s.faults.jobLatency.Store(int64(d)) }

// SetCommandLatency delays every request of a command (case-insensitive; "" = all commands without their
// own setting) by base plus a uniformly random share of jitter. Zero base and jitter remove the setting.
func (s *Server) SetCommandLatency(command string, base, jitter time.Duration) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if base == 0 && jitter == 0 {
		delete(s.faults.latency, strings.ToLower(command))
		return
	}
	s.faults.latency[strings.ToLower(command)] = latencyKnob{base: base, jitter: jitter}
}

// SetErrorRate makes a share of a command's requests ("" = all commands without their own setting) fail
// with HTTP 530 and the management server's generic internal-error text.
func (s *Server) SetErrorRate(command string, probability float64) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if probability <= 0 {
		delete(s.faults.errorRate, strings.ToLower(command))
		return
	}
	s.faults.errorRate[strings.ToLower(command)] = probability
}

// FailNextCommands makes the next n requests of a command (case-insensitive) fail with HTTP 530 and the generic
// internal-error text, as SetErrorRate does at random; n <= 0 removes the setting.
func (s *Server) FailNextCommands(command string, n int) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	if n <= 0 {
		delete(s.faults.failNext, strings.ToLower(command))
		return
	}
	s.faults.failNext[strings.ToLower(command)] = n
}

// FailNextDeploys makes the next n deployments (and starts) in the zone with the offering fail inside the
// job with 533, leaving the VM in Error. zone and offering are names or UUIDs; "" matches any.
func (s *Server) FailNextDeploys(n int, zone, offering string) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.deploys = append(s.faults.deploys, deployFailure{remaining: n, zone: zone, offering: offering})
}

// FailNextTagJobs makes the next n createTags jobs fail inside the job with 530 and the generic internal-error text,
// after the request was accepted: TaggedResourceManagerImpl creates all of a call's tags in one transaction, so a
// failed job leaves none of them.
func (s *Server) FailNextTagJobs(n int) { s.faults.tagJobs.Store(int64(n)) }

// SetThrottle makes every request fail with 429, as the api-limit plugin does for an account over its limit.
func (s *Server) SetThrottle(on bool) { s.faults.throttle.Store(on) }

// DropNextConnections closes the connection of the next n requests without writing a response.
func (s *Server) DropNextConnections(n int) { s.faults.drops.Add(int64(n)) }

// SetZoneDisabled sets a zone's (name or UUID) allocation state, as an operator does with updateZone
// allocationstate=Disabled for maintenance: non-root-admins no longer list it and cannot deploy in it; VMs running in
// it keep running.
func (s *Server) SetZoneDisabled(zone string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.st.zoneByRef(zone); z != nil {
		z.Disabled = disabled
	}
}

// SetZoneCapacity changes a zone's (name or UUID) total capacity; zero means unlimited. VMs already running
// keep their share even if the zone is now over capacity.
func (s *Server) SetZoneCapacity(zone string, cpuCores int, memoryMiB int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.st.zoneByRef(zone); z != nil {
		z.Capacity.CPUCores, z.Capacity.MemoryMiB = cpuCores, memoryMiB
	}
}

// ResetFaults clears every fault knob (latency, error rates, scripted failures, throttling, drops).
func (s *Server) ResetFaults() {
	s.faults.mu.Lock()
	s.faults.latency = map[string]latencyKnob{}
	s.faults.errorRate = map[string]float64{}
	s.faults.failNext = map[string]int{}
	s.faults.deploys = nil
	s.faults.mu.Unlock()
	s.faults.throttle.Store(false)
	s.faults.drops.Store(0)
	s.faults.tagJobs.Store(0)
	s.resetChaos()
}
