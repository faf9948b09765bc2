package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// measurement is what `make scale` reports for one scale-up and scale-down of the example Deployment: how long until
// every NodeClaim is Launched, Registered and Initialized and every pod runs, the CloudStack requests per node by
// command (the simulator's /counts), the requests per minute of an idle cluster, and the controller's peak RSS and CPU.
type measurement struct {
	start time.Time
	// first is when each milestone was first observed, by name; counts are observed once a second.
	first map[string]time.Duration
	// series are the observations of the scale-up, for milestones whose target is known only at the end.
	series []observation
}

type observation struct {
	at                                      time.Duration
	launched, registered, initialized, pods int
}

// record keeps an observation of the scale-up.
func (m *measurement) record(s *snapshot) {
	m.series = append(m.series, observation{at: time.Since(m.start), launched: s.launched, registered: s.registered,
		initialized: s.initialized, pods: s.running})
}

// milestone is when a count first reached target.
func (m *measurement) milestone(target int, count func(observation) int) string {
	for _, o := range m.series {
		if count(o) >= target {
			return fmt.Sprintf("%.1f s", o.at.Seconds())
		}
	}
	return "-"
}

// measure scales the example Deployment up and down once and prints the figures.
func (d *demo) measure(ctx context.Context, idle time.Duration) error {
	pid, _, _, err := d.env.RunningController()
	if err != nil {
		return err
	}
	cpuStart, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	if err := d.env.Simulator.ResetCounts(ctx); err != nil {
		return err
	}
	m := &measurement{start: time.Now()}
	d.say("measuring: scaling deployment/inflate to %d replicas", d.replicas)
	if err := d.scale(ctx, d.replicas); err != nil {
		return err
	}
	d.recorder = m
	if err := d.watch(ctx, d.scaledUp); err != nil {
		return fmt.Errorf("waiting for %d running pods on initialized nodes, %w", d.replicas, err)
	}
	d.recorder = nil
	upTime := time.Since(m.start)
	s, err := d.observe(ctx)
	if err != nil {
		return err
	}
	nodes := s.claims
	upCounts, err := d.env.Simulator.Counts(ctx)
	if err != nil {
		return err
	}
	cpuUp, err := cpuSeconds(pid)
	if err != nil {
		return err
	}

	d.say("measuring: %s idle", idle)
	if err := d.env.Simulator.ResetCounts(ctx); err != nil {
		return err
	}
	if err := sleep(ctx, idle); err != nil {
		return err
	}
	idleCounts, err := d.env.Simulator.Counts(ctx)
	if err != nil {
		return err
	}

	d.say("measuring: scaling to 0")
	if err := d.env.Simulator.ResetCounts(ctx); err != nil {
		return err
	}
	downStart := time.Now()
	if err := d.scale(ctx, 0); err != nil {
		return err
	}
	if err := d.watch(ctx, d.scaledDown); err != nil {
		return fmt.Errorf("waiting for every VM to go, %w", err)
	}
	downTime := time.Since(downStart)
	downCounts, err := d.env.Simulator.Counts(ctx)
	if err != nil {
		return err
	}
	cpuEnd, err := cpuSeconds(pid)
	if err != nil {
		return err
	}
	peak, err := peakRSS(pid)
	if err != nil {
		return err
	}

	per := func(c *environment.Counts, n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f (%s)", float64(c.Total)/float64(n), byCommand(c, float64(n)))
	}
	fmt.Printf("\n| pods | nodes | job latency | all Launched | all Registered | all Initialized | all pods running | requests per launched node | idle requests per minute | scale to 0 | requests per deleted node | controller peak RSS | controller CPU (up / down) |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %s | %s | %s | %s | %.1f s | %s | %s | %.1f s | %s | %d MiB | %.1f s / %.1f s |\n\n",
		d.replicas, nodes, d.jobLatency,
		m.milestone(nodes, func(o observation) int { return o.launched }),
		m.milestone(nodes, func(o observation) int { return o.registered }),
		m.milestone(nodes, func(o observation) int { return o.initialized }),
		upTime.Seconds(), per(upCounts, nodes),
		fmt.Sprintf("%.1f (%s)", float64(idleCounts.Total)/idle.Minutes(), byCommand(idleCounts, idle.Minutes())),
		downTime.Seconds(), per(downCounts, nodes), peak>>20, cpuUp-cpuStart, cpuEnd-cpuUp)
	return nil
}

// byCommand lists a count per command divided by n, largest first.
func byCommand(c *environment.Counts, n float64) string {
	type kv struct {
		cmd string
		n   int64
	}
	var all []kv
	for cmd, st := range c.Commands {
		all = append(all, kv{cmd, st.Count})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].cmd < all[j].cmd })
	parts := make([]string, 0, len(all))
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.cmd, float64(e.n)/n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// cpuSeconds is a process's user plus system CPU time (/proc/<pid>/stat fields 14 and 15, in clock ticks of 1/100 s
// on Linux).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the controller's CPU time, %w", err)
	}
	// The command name (field 2) may contain spaces; the fields after it start behind its closing parenthesis.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("reading the controller's CPU time: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading the controller's CPU time: unparseable /proc/%d/stat", pid)
	}
	return (utime + stime) / 100, nil
}

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the controller's peak RSS, %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading the controller's peak RSS: %q, %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("reading the controller's peak RSS: no VmHWM in /proc/%d/status", pid)
}
