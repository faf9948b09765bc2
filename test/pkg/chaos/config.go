package chaos

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Config is one chaos run. Small runs the make-test spec; Large is what `make chaos` runs (docs/reliability.md).
type Config struct {
	// Nodes is how many one-per-node pods (hence nodes) each cycle scales up to.
	Nodes int
	// Cycles is how many times the workload goes from 0 to Nodes and back.
	Cycles int
	// Outage is how long the management server is unreachable, once, in the scale-up of the second cycle (the first
	// when there is one cycle), starting when a third of the pods are bound. 0 = none.
	Outage time.Duration
	// RandomKills is how many times per scale-up and per scale-down the controller is SIGKILLed at a random point
	// of progress, besides the kill between deploy and tag of each scale-up and the kill during the drift.
	RandomKills int
	// Drift rolls the nodes to the other template at the top of the last cycle, killing the controller during the
	// replacement; the run waits for DriftReplacements replacements (0 = every node) before it scales down, with
	// the rest of the roll still going. Karpenter replaces drifted nodes a few at a time, so a full roll of 200
	// nodes takes about an hour.
	Drift             bool
	DriftReplacements int
	// Exhaust runs zone-a out of capacity in even cycles and the cheapest offering in odd ones, from a quarter of
	// the scale-up until the cycle's scale-down.
	Exhaust bool
	// ErrorRate is the share of requests answered 530 by the management server; ProxyErrorRate the share a proxy
	// answers 502/503; DropRate the share whose answer is lost after the server acted, the connection held for
	// DropHang first; DeployFailureRate the share of deployments that fail.
	ErrorRate, ProxyErrorRate, DropRate, DeployFailureRate float64
	DropHang                                               time.Duration
	// Latency and Jitter are added to every request; TagLatency more to createTags, which widens the window
	// between deploy and tag that one kill per scale-up aims at.
	Latency, Jitter, TagLatency time.Duration
	// APILimit is the api-limit plugin's requests per second per account; 0 = off.
	APILimit int
	// Wait bounds each wait for the cluster to converge (all pods bound, or empty).
	Wait time.Duration
}

// Small is the version inside `make test`: a few nodes, an outage just long enough for the 30 s reachability probe
// to see it, a couple of kills, every fault on at
// rates low enough that the run ends in minutes. Its assertions are properties only, never timings.
func Small() Config {
	return Config{Nodes: 4, Cycles: 1, Outage: 40 * time.Second, RandomKills: 1, Drift: false, Exhaust: true,
		ErrorRate: 0.05, ProxyErrorRate: 0.03, DropRate: 0.02, DeployFailureRate: 0.1,
		Latency: 5 * time.Millisecond, Jitter: 100 * time.Millisecond, TagLatency: 500 * time.Millisecond,
		APILimit: 25, Wait: 10 * time.Minute}
}

// Large is the run: 200 nodes, two cycles, 20 % of requests failing 530/5xx, 5 % of answers lost after
// the server acted (half of them held past the controller's 30 s HTTP timeout), 10 % of deployments failing, a
// 2-minute outage, 15 kills (per cycle one between deploy and tag and three random ones in each phase, plus one
// during the drift), a drift replacement, zone then offering exhaustion, api limit on.
func Large() Config {
	return Config{Nodes: 200, Cycles: 2, Outage: 2 * time.Minute, RandomKills: 3, Drift: true, DriftReplacements: 5, Exhaust: true,
		ErrorRate: 0.12, ProxyErrorRate: 0.08, DropRate: 0.05, DropHang: 35 * time.Second, DeployFailureRate: 0.1,
		Latency: 10 * time.Millisecond, Jitter: 300 * time.Millisecond, TagLatency: 500 * time.Millisecond,
		APILimit: 25, Wait: 60 * time.Minute}
}

// FromEnv starts from Small, or from Large when CHAOS=large, and applies CHAOS_NODES, CHAOS_CYCLES, CHAOS_OUTAGE,
// CHAOS_RANDOM_KILLS, CHAOS_DRIFT, CHAOS_DRIFT_REPLACEMENTS and CHAOS_WAIT.
func FromEnv() (Config, error) {
	c := Small()
	if os.Getenv("CHAOS") == "large" {
		c = Large()
	}
	ints := map[string]*int{"CHAOS_NODES": &c.Nodes, "CHAOS_CYCLES": &c.Cycles, "CHAOS_RANDOM_KILLS": &c.RandomKills,
		"CHAOS_DRIFT_REPLACEMENTS": &c.DriftReplacements}
	for name, p := range ints {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return c, fmt.Errorf("%s=%q: want a non-negative integer", name, v)
			}
			*p = n
		}
	}
	durations := map[string]*time.Duration{"CHAOS_OUTAGE": &c.Outage, "CHAOS_WAIT": &c.Wait}
	for name, p := range durations {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s=%q: want a duration such as 2m, %w", name, v, err)
			}
			*p = d
		}
	}
	if v := os.Getenv("CHAOS_DRIFT"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("CHAOS_DRIFT=%q: want true or false", v)
		}
		c.Drift = b
	}
	if c.Nodes < 1 || c.Cycles < 1 {
		return c, fmt.Errorf("a chaos run needs at least one node and one cycle, got %d and %d", c.Nodes, c.Cycles)
	}
	return c, nil
}
