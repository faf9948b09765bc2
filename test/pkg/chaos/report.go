package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/samber/lo"
)

// Report is what one chaos run measured.
type Report struct {
	Date     time.Time
	Config   Config
	Duration time.Duration
	WorkDir  string
	Cycles   []CycleReport
	// LaunchesAttempted counts deployVirtualMachine requests, whatever their answer; VMsCreated the cluster's VMs
	// the simulator ever held (live and expunged).
	LaunchesAttempted int64
	VMsCreated        int
	// Leaked are the cluster's VMs still there at the end; Duplicates the NodeClaims for which more than one VM ran.
	Leaked     []string
	Duplicates []string
	// NodeClaims is how many the run saw; NeverReady how many never became Initialized (deleted as unneeded,
	// replaced after a failed launch, or removed by the scale-down before registering); Stuck those of them never
	// removed.
	NodeClaims, NeverReady int
	Stuck                  []string
	// LongestPendingPod is the longest time a pod waited from creation until it was bound.
	LongestPendingPod     time.Duration
	LongestPendingPodName string
	// Requests counts the simulator's answers by command and HTTP status (0 = connection closed unanswered).
	Requests  map[string]map[int]int64
	Kills     []Kill
	Restarts  int
	Exhausted []string
	Outage    *OutageReport
	// DriftReplacements is how many drift replacements the run waited for before scaling down.
	DriftReplacements int
	// Failures lists every property the run violated; empty means the run passed.
	Failures []string
}

// CycleReport is how long one cycle's phases took.
type CycleReport struct {
	Cycle           int
	Up, Drift, Down time.Duration
}

// OutageReport is the controller's behaviour while CloudStack was unreachable.
type OutageReport struct {
	Start, End         time.Time
	Duration           time.Duration
	PodsRunningAtStart int
	// UnreachableAfter is how long after the outage began the controller's karpenter_cloudstack_api_reachable gauge
	// first read 0 (0 = it never did while watched); ReachableAgainAfter how long after the outage ended it read 1.
	UnreachableAfter, ReachableAgainAfter time.Duration
	ReachableAgain                        bool
	// NotReady is whether /readyz ever failed during the outage; it should not: readiness does not follow
	// CloudStack, so an outage does not take every replica out of its Service at once.
	NotReady bool
	// NodeClaimsDeleted are NodeClaims whose deletion began during the outage (must be none).
	NodeClaimsDeleted []string
	// NodeClaimsDeletedAfter are those deleted in the 5 minutes after it, not by a disruption Karpenter chose: core's
	// launch timeout ends NodeClaims whose launch the outage held up.
	NodeClaimsDeletedAfter []string
	// AllPodsRunningAfter is how long after the outage every pod of the scale-up ran.
	AllPodsRunningAfter time.Duration
}

// Markdown renders the report as the section docs/reliability.md keeps per run.
func (r *Report) Markdown() string {
	var b strings.Builder
	c := r.Config
	verdict := "passed"
	if len(r.Failures) > 0 {
		verdict = fmt.Sprintf("FAILED (%d)", len(r.Failures))
	}
	fmt.Fprintf(&b, "### %s: %d nodes x %d cycles, %s, %s\n\n", r.Date.Format("2006-01-02 15:04 UTC"), c.Nodes, c.Cycles, r.Duration, verdict)
	fmt.Fprintf(&b, "Faults: %.0f %% 530, %.0f %% proxy 502/503, %.0f %% answers lost after the server acted (held %s), %.0f %% deployments failing, "+
		"latency %s + up to %s (createTags +%s), api limit %d/s, outage %s, %d random kill(s) per phase, drift %v (waited for %d replacements), exhaustion %v.\n\n",
		100*c.ErrorRate, 100*c.ProxyErrorRate, 100*c.DropRate, c.DropHang, 100*c.DeployFailureRate, c.Latency, c.Jitter, c.TagLatency,
		c.APILimit, c.Outage, c.RandomKills, c.Drift, r.DriftReplacements, c.Exhaust)
	rows := [][2]string{
		{"launches attempted (deployVirtualMachine requests)", fmt.Sprint(r.LaunchesAttempted)},
		{"VMs created", fmt.Sprint(r.VMsCreated)},
		{"VMs leaked at the end", fmt.Sprint(len(r.Leaked))},
		{"NodeClaims with more than one VM that ran", fmt.Sprint(len(r.Duplicates))},
		{"NodeClaims seen / never Initialized / never Ready nor removed", fmt.Sprintf("%d / %d / %d", r.NodeClaims, r.NeverReady, len(r.Stuck))},
		{"longest pending-pod wait", r.LongestPendingPod.Round(time.Second).String()},
		{"controller kills / restarts", fmt.Sprintf("%d / %d", len(r.Kills), r.Restarts)},
	}
	for _, cy := range r.Cycles {
		rows = append(rows, [2]string{fmt.Sprintf("cycle %d: scale-up / drift / scale-down", cy.Cycle), fmt.Sprintf("%s / %s / %s", cy.Up, cy.Drift, cy.Down)})
	}
	if o := r.Outage; o != nil {
		rows = append(rows,
			[2]string{"outage: NodeClaims deleted while unreachable", fmt.Sprint(len(o.NodeClaimsDeleted))},
			[2]string{"outage: NodeClaims deleted in the 5 minutes after it (Karpenter's launch timeout)", fmt.Sprint(len(o.NodeClaimsDeletedAfter))},
			[2]string{"outage: reachability gauge 0 after the start / 1 again after the end", fmt.Sprintf("%s / %s", never(o.UnreachableAfter), lo.Ternary(o.ReachableAgain, o.ReachableAgainAfter.String(), "not within 5m"))},
			[2]string{"outage: /readyz failed during it", fmt.Sprint(o.NotReady)},
			[2]string{"outage: every pod running after the end", o.AllPodsRunningAfter.String()},
		)
	}
	b.WriteString("| figure | value |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], row[1])
	}
	b.WriteString("\nRequests by command and result (0 = connection closed unanswered):\n\n| command | results |\n|---|---|\n")
	cmds := make([]string, 0, len(r.Requests))
	for cmd := range r.Requests {
		cmds = append(cmds, cmd)
	}
	sort.Strings(cmds)
	for _, cmd := range cmds {
		codes := make([]int, 0, len(r.Requests[cmd]))
		for code := range r.Requests[cmd] {
			codes = append(codes, code)
		}
		sort.Ints(codes)
		parts := make([]string, 0, len(codes))
		for _, code := range codes {
			parts = append(parts, fmt.Sprintf("%d: %d", code, r.Requests[cmd][code]))
		}
		fmt.Fprintf(&b, "| %s | %s |\n", cmd, strings.Join(parts, ", "))
	}
	b.WriteString("\nKills:\n\n")
	for i, k := range r.Kills {
		fmt.Fprintf(&b, "%d. %s — %s%s; ready again in %s%s\n", i+1, k.At.UTC().Format("15:04:05"), k.Kind, prefixed(": ", k.Note), k.Restart, prefixed("; error: ", k.Error))
	}
	if len(r.Exhausted) > 0 {
		fmt.Fprintf(&b, "\nExhausted: %s.\n", strings.Join(r.Exhausted, "; "))
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nFailures:\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

// never shows 0 as "never".
func never(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.String()
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
