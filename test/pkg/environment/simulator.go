package environment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// SimulatorAdmin is a client of the simulator binary's admin endpoint (docs/simulator.md).
type SimulatorAdmin struct {
	// URL is the admin endpoint, e.g. http://127.0.0.1:40123.
	URL string
	hc  *http.Client
}

// NewSimulatorAdmin returns a client of the admin endpoint at url.
func NewSimulatorAdmin(url string) *SimulatorAdmin {
	return &SimulatorAdmin{URL: url, hc: &http.Client{Timeout: 10 * time.Second}}
}

// VirtualMachines returns every VM that has not been expunged, of every account, with its userData.
func (s *SimulatorAdmin) VirtualMachines(ctx context.Context) ([]simulator.VM, error) {
	var vms []simulator.VM
	return vms, s.do(ctx, http.MethodGet, "/vms", nil, &vms)
}

// VirtualMachineChanges returns what changed among the VMs since revision since of epoch, waiting up to wait for a
// change (GET /vms/changes): the node agent's view of the VMs follows it.
func (s *SimulatorAdmin) VirtualMachineChanges(ctx context.Context, epoch string, since uint64, wait time.Duration) (simulator.VMChanges, error) {
	var ch simulator.VMChanges
	q := url.Values{"epoch": {epoch}, "since": {strconv.FormatUint(since, 10)}, "wait": {wait.String()}}
	return ch, s.do(ctx, http.MethodGet, "/vms/changes?"+q.Encode(), nil, &ch)
}

// ExpungedVirtualMachines returns every VM that was expunged, as it was when it went.
func (s *SimulatorAdmin) ExpungedVirtualMachines(ctx context.Context) ([]simulator.VM, error) {
	var vms []simulator.VM
	return vms, s.do(ctx, http.MethodGet, "/vms/expunged", nil, &vms)
}

// Counts is the body of GET /counts.
type Counts struct {
	Total    int64 `json:"total"`
	Commands map[string]struct {
		Count int64 `json:"count"`
	} `json:"commands"`
}

// Counts returns the request counts per command since the last ResetCounts.
func (s *SimulatorAdmin) Counts(ctx context.Context) (*Counts, error) {
	c := &Counts{}
	return c, s.do(ctx, http.MethodGet, "/counts", nil, c)
}

// ResetCounts clears the request counts.
func (s *SimulatorAdmin) ResetCounts(ctx context.Context) error {
	return s.do(ctx, http.MethodPost, "/reset-counts", nil, nil)
}

// ApplyFaults sets the fault-injection knobs named in f.
func (s *SimulatorAdmin) ApplyFaults(ctx context.Context, f simulator.FaultSettings) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encoding fault settings, %w", err)
	}
	return s.do(ctx, http.MethodPost, "/faults", body, nil)
}

func (s *SimulatorAdmin) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("calling the simulator admin endpoint %s %s, %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading %s %s, %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulator admin endpoint %s %s answered %s: %s", method, path, resp.Status, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding %s %s, %w", method, path, err)
	}
	return nil
}
