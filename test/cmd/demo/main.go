// Command demo runs the whole product on this machine (`make demo`): a local control plane, the simulated
// CloudStack, simulated nodes and the real controller (test/pkg/environment). It applies the examples, scales the
// example Deployment up and shows Karpenter launching VMs for it as it happens, then scales it to zero and shows
// consolidation removing the VMs. Ctrl-C stops everything at any time.
//
//	go run ./test/cmd/demo [--replicas 10] [--non-interactive] [--timeout 15m]
//
// The one-time builds of a fresh machine (the control plane, 7-15 min on 2 cores; the controller, ~4 min) come first
// and are not part of --timeout, which bounds only the demo itself; they print progress with the elapsed time.
// With --non-interactive it exits when the scale-down is done, with status 0 only if every step succeeded (CI).
// Otherwise the cluster stays up at the end for exploring with kubectl until Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

func main() {
	replicas := flag.Int("replicas", 10, "replicas the example Deployment is scaled to")
	nonInteractive := flag.Bool("non-interactive", false, "exit when done, with a non-zero status on failure (for CI)")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long, not counting the one-time builds")
	jobLatency := flag.Duration("job-latency", 2*time.Second, "how long the simulated CloudStack takes for a VM deploy or destroy")
	keep := flag.Bool("keep-logs", false, "keep the working directory with every component's log")
	serve := flag.Bool("serve", false, "only bring the cluster up and keep it up until interrupted (for suites run against it, e.g. hack/core-suites.sh)")
	kubeconfigOut := flag.String("kubeconfig-out", "", "with --serve: write the admin kubeconfig's path to this file once the cluster is up")
	flag.Parse()
	// The environment's clients log through controller-runtime; the demo shows its own progress lines instead.
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{start: time.Now(), replicas: int32(*replicas), serve: *serve, kubeconfigOut: *kubeconfigOut}
	err := d.run(ctx, *timeout, *jobLatency, *keep, *nonInteractive)
	switch {
	case err == nil:
		d.say("demo finished")
	case errors.Is(err, context.Canceled):
		d.say("interrupted; everything the demo started has been stopped")
	default:
		d.say("FAILED: %v", err)
		os.Exit(1)
	}
}

type demo struct {
	start    time.Time
	replicas int32
	// serve only brings the cluster up (no demo scenario) and writes the kubeconfig path to kubeconfigOut.
	serve         bool
	kubeconfigOut string
	env           *environment.Environment
	last          string
}

func (d *demo) say(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context, timeout, jobLatency time.Duration, keep, nonInteractive bool) error {
	opts := environment.Options{ClusterName: "demo", JobLatency: jobLatency, KeepWorkDir: keep, Log: sayLogger(d)}
	d.say("one-time preparation: the control-plane binaries and the controller (10-20 min on a fresh 2-core machine, seconds after; not part of --timeout)")
	opts, err := environment.Prepare(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // Ctrl-C during the builds
		}
		return fmt.Errorf("preparing, %w", err)
	}
	d.say("prepared; the demo starts now and must finish within %s", timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d.say("starting etcd, kube-apiserver, kube-scheduler, kube-controller-manager, the CloudStack simulator, the node agent and the controller")
	env, err := environment.Start(ctx, opts)
	if err != nil {
		return err
	}
	d.env = env
	defer func() {
		d.say("stopping everything")
		env.Stop()
		if keep {
			d.say("logs kept in %s", env.WorkDir)
		}
	}()
	d.say("cluster up: export KUBECONFIG=%s  (logs: %s)", env.Kubeconfig, env.WorkDir)
	if d.serve {
		if d.kubeconfigOut != "" {
			if err := os.WriteFile(d.kubeconfigOut, []byte(env.Kubeconfig), 0o600); err != nil {
				return fmt.Errorf("writing --kubeconfig-out, %w", err)
			}
		}
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
		return ctx.Err()
	}

	if err := d.applyExamples(ctx); err != nil {
		return err
	}
	if err := d.waitNodeClassReady(ctx, "default"); err != nil {
		return err
	}
	d.say("scaling deployment/inflate to %d replicas (1 CPU, 1 GiB each)", d.replicas)
	if err := d.scale(ctx, d.replicas); err != nil {
		return err
	}
	if err := d.watch(ctx, d.scaledUp); err != nil {
		return fmt.Errorf("waiting for %d running pods on initialized nodes, %w", d.replicas, err)
	}
	if err := d.summary(ctx); err != nil {
		return err
	}
	d.say("scaling deployment/inflate to 0: the nodes become empty and consolidation (consolidateAfter in examples/nodepool.yaml) removes them")
	if err := d.scale(ctx, 0); err != nil {
		return err
	}
	if err := d.watch(ctx, d.scaledDown); err != nil {
		return fmt.Errorf("waiting for consolidation to remove every VM, %w", err)
	}
	d.say("every VM of the cluster is gone: nothing leaked")
	if nonInteractive {
		return nil
	}
	d.say("the cluster stays up for kubectl (KUBECONFIG above); press Ctrl-C to stop it")
	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	return ctx.Err()
}
