package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// maxChangesWait bounds how long GET /vms/changes holds a request open waiting for a change.
const maxChangesWait = time.Minute

// FaultSettings is the body of POST /faults on the admin endpoint; absent fields leave a knob unchanged.
type FaultSettings struct {
	JobLatency          *Duration                   `json:"jobLatency,omitempty"`
	CommandLatency      map[string]LatencySetting   `json:"commandLatency,omitempty"`
	ErrorRate           map[string]float64          `json:"errorRate,omitempty"`
	FailNext            map[string]int              `json:"failNext,omitempty"`
	FailNextDeploys     *DeployFailureSetting       `json:"failNextDeploys,omitempty"`
	Throttle            *bool                       `json:"throttle,omitempty"`
	DropNextConnections int                         `json:"dropNextConnections,omitempty"`
	ZoneCapacity        map[string]ZoneCapacitySpec `json:"zoneCapacity,omitempty"`
	ZoneDisabled        map[string]bool             `json:"zoneDisabled,omitempty"`
	Reset               bool                        `json:"reset,omitempty"`
	// ChaosSettings are the knobs of chaos runs (chaos.go).
	ChaosSettings
}

// LatencySetting is one command's added latency.
type LatencySetting struct {
	Base   Duration `json:"base"`
	Jitter Duration `json:"jitter,omitempty"`
}

// DeployFailureSetting scripts deploy failures.
type DeployFailureSetting struct {
	Count    int    `json:"count"`
	Zone     string `json:"zone,omitempty"`
	Offering string `json:"offering,omitempty"`
}

// ZoneCapacitySpec is a zone's new capacity.
type ZoneCapacitySpec struct {
	CPUCores  int   `json:"cpuCores"`
	MemoryMiB int64 `json:"memoryMiB"`
}

// ApplyFaults sets every knob named in f (Reset first clears them all).
func (s *Server) ApplyFaults(f FaultSettings) {
	if f.Reset {
		s.ResetFaults()
	}
	if f.JobLatency != nil {
		s.SetJobLatency(f.JobLatency.Duration)
	}
	for cmd, l := range f.CommandLatency {
		s.SetCommandLatency(cmd, l.Base.Duration, l.Jitter.Duration)
	}
	for cmd, n := range f.FailNext {
		s.FailNextCommands(cmd, n)
	}
	for cmd, p := range f.ErrorRate {
		s.SetErrorRate(cmd, p)
	}
	if d := f.FailNextDeploys; d != nil {
		s.FailNextDeploys(d.Count, d.Zone, d.Offering)
	}
	if f.Throttle != nil {
		s.SetThrottle(*f.Throttle)
	}
	if f.DropNextConnections > 0 {
		s.DropNextConnections(f.DropNextConnections)
	}
	for z, c := range f.ZoneCapacity {
		s.SetZoneCapacity(z, c.CPUCores, c.MemoryMiB)
	}
	for z, d := range f.ZoneDisabled {
		s.SetZoneDisabled(z, d)
	}
	s.ApplyChaos(f.ChaosSettings)
}

type countsBody struct {
	Total    int64                       `json:"total"`
	Commands map[string]commandStatsBody `json:"commands"`
}

type commandStatsBody struct {
	Count      int64   `json:"count"`
	GET        int64   `json:"get"`
	POST       int64   `json:"post"`
	MeanMillis float64 `json:"meanMillis"`
	MaxMillis  float64 `json:"maxMillis"`
}

// AdminHandler serves the admin endpoint the standalone binary exposes on its own port:
// GET /counts, POST /reset-counts, POST /faults, GET /results, GET /vms, GET /vms/changes, GET /vms/expunged (see
// docs/simulator.md).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) {
		body := countsBody{Total: s.TotalRequests(), Commands: map[string]commandStatsBody{}}
		for cmd, st := range s.Stats() {
			body.Commands[cmd] = commandStatsBody{Count: st.Count, GET: st.GET, POST: st.POST,
				MeanMillis: float64(st.Mean()) / float64(time.Millisecond), MaxMillis: float64(st.Max) / float64(time.Millisecond)}
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("POST /reset-counts", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounts()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var f FaultSettings
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("decoding fault settings: %v", err)})
			return
		}
		s.ApplyFaults(f)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /results", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Results())
	})
	mux.HandleFunc("GET /vms", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.VirtualMachines())
	})
	mux.HandleFunc("GET /vms/changes", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var since uint64
		var wait time.Duration
		if v := q.Get("since"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("since=%q is not a revision", v)})
				return
			}
			since = n
		}
		if v := q.Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > maxChangesWait {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("wait=%q is not a duration up to %s", v, maxChangesWait)})
				return
			}
			wait = d
		}
		writeJSON(w, http.StatusOK, s.VirtualMachineChanges(r.Context(), q.Get("epoch"), since, wait))
	})
	mux.HandleFunc("GET /vms/expunged", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.ExpungedVirtualMachines())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
