package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/samber/lo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

const (
	namespace       = "chaos"
	name            = "chaos"
	clusterName     = "chaos"
	template        = "ubuntu-24.04-kube-v1.36"
	patchedTemplate = "ubuntu-24.04-kube-v1.36-patched"
	cheapest        = "k8s.tiny"
	exhaustedZone   = "zone-a"
	zoneCores       = 512
	zoneMemoryMiB   = 2097152
)

// userData follows the bootstrap contract (docs/bootstrap.md), as the e2e suite's does.
const userData = `#cloud-config
write_files:
  - path: /etc/default/kubelet
    content: |
      KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --provider-id={{ .ProviderIDPrefix }}@INSTANCE_ID@
runcmd:
  - sed -i "s|@INSTANCE_ID@|$(cloud-init query v1.instance_id)|" /etc/default/kubelet
`

// run is one chaos run in progress.
type run struct {
	cfg    Config
	env    *environment.Environment
	log    *slog.Logger
	obs    *observer
	killer *killer
	report *Report
	dep    *appsv1.Deployment
}

// Run starts a local environment, runs the chaos of cfg against it and returns what it measured. It returns an
// error only when the run could not be carried out (the environment did not start); a property the run violated is
// in the report (Report.Failures), so the caller sees every figure either way.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (*Report, error) {
	_, self, _, _ := runtime.Caller(0)
	env, err := environment.Start(ctx, environment.Options{
		ClusterName: clusterName, JobLatency: time.Second, Catalog: filepath.Join(filepath.Dir(self), "catalog.yaml"), Log: log,
		KeepWorkDir: os.Getenv("CHAOS_KEEP_LOGS") != "",
		Values: environment.ChartValues{
			"settings.batchIdleDuration":              "1s",
			"settings.batchMaxDuration":               "5s",
			"settings.gcGracePeriod":                  "30s",
			"settings.cacheTTLs.unavailableOfferings": "30s",
			"settings.cloudstack.apiQPS":              "50",
			"settings.cloudstack.apiBurst":            "100",
			"settings.kubeClientQPS":                  "200",
			"settings.kubeClientBurst":                "400",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the environment, %w", err)
	}
	defer env.Stop()
	// The harness's own log also goes beside the components' logs, where it can be read while the run goes on.
	if f, err := os.OpenFile(filepath.Join(env.WorkDir, "chaos.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		defer f.Close()
		log = slog.New(slog.NewTextHandler(io.MultiWriter(f, logWriter{log}), nil))
	}
	log.Info("environment up", "logs", env.WorkDir)
	r := &run{cfg: cfg, env: env, log: log, obs: newObserver(env.Client),
		report: &Report{Date: time.Now().UTC(), Config: cfg, WorkDir: env.WorkDir}}
	r.killer = &killer{env: env, log: log}
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	go r.obs.run(obsCtx)
	start := time.Now()
	r.execute(ctx)
	r.report.Duration = time.Since(start).Round(time.Second)
	r.finish(ctx)
	return r.report, nil
}

func (r *run) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.Error("chaos property violated", "failure", msg)
	r.report.Failures = append(r.report.Failures, msg)
}

func (r *run) execute(ctx context.Context) {
	if err := r.setUp(ctx); err != nil {
		r.fail("setting up: %v", err)
		return
	}
	if err := r.applyFaults(ctx); err != nil {
		r.fail("turning the faults on: %v", err)
		return
	}
	outageCycle := min(1, r.cfg.Cycles-1)
	for c := 0; c < r.cfg.Cycles; c++ {
		cr := CycleReport{Cycle: c + 1}
		began := time.Now()
		ok := r.scaleUp(ctx, c, c == outageCycle)
		cr.Up = time.Since(began).Round(time.Second)
		if ok && r.cfg.Drift && c == r.cfg.Cycles-1 {
			driftBegan := time.Now()
			r.drift(ctx)
			cr.Drift = time.Since(driftBegan).Round(time.Second)
		}
		r.endExhaustion(ctx)
		began = time.Now()
		r.scaleDown(ctx)
		cr.Down = time.Since(began).Round(time.Second)
		r.report.Cycles = append(r.report.Cycles, cr)
		r.log.Info("cycle done", "cycle", c+1, "up", cr.Up, "down", cr.Down)
		if len(r.report.Failures) > 0 {
			return
		}
	}
}

func (r *run) setUp(ctx context.Context) error {
	if err := r.env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	nc := &v1.CloudStackNodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1.CloudStackNodeClassSpec{
			ZoneSelectorTerms:            []v1.SelectorTerm{{Name: "zone-a"}, {Name: "zone-b"}},
			NetworkSelectorTerms:         []v1.SelectorTerm{{Tags: map[string]string{"k8s-role": "nodes"}}},
			ServiceOfferingSelectorTerms: []v1.SelectorTerm{{Name: cheapest}, {Name: "k8s.micro"}},
			TemplateSelectorTerms:        []v1.SelectorTerm{{Name: template}},
			UserData:                     lo.ToPtr(userData),
		},
	}
	np := &karpv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: karpv1.NodePoolSpec{
			Template: karpv1.NodeClaimTemplate{Spec: karpv1.NodeClaimTemplateSpec{
				NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: "CloudStackNodeClass", Name: name},
				Requirements: []karpv1.NodeSelectorRequirementWithMinValues{
					{Key: corev1.LabelArchStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}},
				},
				ExpireAfter: karpv1.MustParseNillableDuration("Never"),
			}},
			Disruption: karpv1.Disruption{
				ConsolidationPolicy: karpv1.ConsolidationPolicyWhenEmptyOrUnderutilized,
				ConsolidateAfter:    karpv1.MustParseNillableDuration("0s"),
				Budgets:             []karpv1.Budget{{Nodes: "100%"}},
			},
		},
	}
	labels := map[string]string{"app": name}
	r.dep = &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: lo.ToPtr[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: lo.ToPtr[int64](0),
				NodeSelector:                  map[string]string{karpv1.NodePoolLabelKey: name},
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
				}}}},
				Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				}}},
			}},
		},
	}
	for _, o := range []client.Object{nc, np, r.dep} {
		if err := r.env.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s, %w", o, o.GetName(), err)
		}
	}
	// The faults go on once the NodeClass resolved, so that a run measures launches, not the first discovery.
	return waitFor(ctx, 2*time.Minute, func() (bool, error) {
		if err := r.env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc); err != nil {
			return false, err
		}
		return nc.StatusConditions().Root().IsTrue(), nil
	})
}

func (r *run) applyFaults(ctx context.Context) error {
	c := r.cfg
	f := simulator.FaultSettings{
		CommandLatency: map[string]simulator.LatencySetting{
			"":           {Base: simulator.Duration{Duration: c.Latency}, Jitter: simulator.Duration{Duration: c.Jitter}},
			"createTags": {Base: simulator.Duration{Duration: c.Latency + c.TagLatency}, Jitter: simulator.Duration{Duration: c.Jitter}},
		},
		ErrorRate: map[string]float64{"": c.ErrorRate},
		ChaosSettings: simulator.ChaosSettings{
			ProxyErrorRate: &c.ProxyErrorRate, DropAfterAction: map[string]float64{"": c.DropRate}, DropAfterActionHang: &simulator.Duration{Duration: c.DropHang},
			DeployFailureRate: &c.DeployFailureRate,
		},
	}
	if c.APILimit > 0 {
		f.APILimit = &simulator.APILimitSetting{Max: c.APILimit, Interval: simulator.Duration{Duration: time.Second}}
	}
	return r.env.Simulator.ApplyFaults(ctx, f)
}

func (r *run) scale(ctx context.Context, n int) error {
	d := &appsv1.Deployment{}
	if err := r.env.Client.Get(ctx, client.ObjectKeyFromObject(r.dep), d); err != nil {
		return err
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = lo.ToPtr(int32(n))
	return r.env.Client.Patch(ctx, d, patch)
}

// podCounts returns the workload's pods and how many of them are bound and running.
func (r *run) podCounts(ctx context.Context) (total, running int, err error) {
	pods := &corev1.PodList{}
	if err := r.env.Client.List(ctx, pods, client.InNamespace(namespace)); err != nil {
		return 0, 0, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			running++
		}
	}
	return total, running, nil
}

// scaleUp scales the workload to cfg.Nodes and waits until every pod runs and every NodeClaim is Initialized,
// killing the controller on the way (between deploy and tag, and at random points of progress), exhausting a zone
// or an offering, and running the outage when asked.
func (r *run) scaleUp(ctx context.Context, cycle int, outage bool) bool {
	n := r.cfg.Nodes
	if err := r.scale(ctx, n); err != nil {
		r.fail("cycle %d: scaling to %d: %v", cycle+1, n, err)
		return false
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.killBetweenDeployAndTag(ctx, stop) }()
	killAt := randomThresholds(r.cfg.RandomKills, n)
	exhaustAt, outageAt := max(1, n/4), max(1, n/3)
	exhausted, outaged := !r.cfg.Exhaust, !outage || r.cfg.Outage == 0
	err := waitFor(ctx, r.cfg.Wait, func() (bool, error) {
		_, running, err := r.podCounts(ctx)
		if err != nil {
			return false, nil
		}
		for len(killAt) > 0 && running >= killAt[0] {
			killAt = killAt[1:]
			r.killer.kill(ctx, "random (scale-up)", fmt.Sprintf("cycle %d, %d/%d pods running", cycle+1, running, n))
		}
		if !exhausted && running >= exhaustAt {
			exhausted = true
			r.startExhaustion(ctx, cycle)
		}
		if !outaged && running >= outageAt {
			outaged = true
			r.runOutage(ctx, running)
		}
		return running == n && exhausted && outaged, nil
	})
	close(stop)
	wg.Wait()
	if o := r.report.Outage; outage && o != nil && !o.End.IsZero() && err == nil {
		o.AllPodsRunningAfter = time.Since(o.End).Round(time.Second)
	}
	if err != nil {
		total, running, _ := r.podCounts(ctx)
		r.fail("cycle %d: %d of %d pods running after %s (%d pods exist): %v", cycle+1, running, n, r.cfg.Wait, total, err)
		return false
	}
	if err := r.waitAllInitialized(ctx); err != nil {
		r.fail("cycle %d: %v", cycle+1, err)
		return false
	}
	return true
}

// waitAllInitialized waits until every NodeClaim is Initialized or gone: none is left half-launched.
func (r *run) waitAllInitialized(ctx context.Context) error {
	var pending []string
	err := waitFor(ctx, r.cfg.Wait, func() (bool, error) {
		claims := &karpv1.NodeClaimList{}
		if err := r.env.Client.List(ctx, claims); err != nil {
			return false, nil
		}
		pending = pending[:0]
		for _, c := range claims.Items {
			if c.DeletionTimestamp == nil && !c.StatusConditions().Get(karpv1.ConditionTypeInitialized).IsTrue() {
				pending = append(pending, c.Name)
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("NodeClaims never Initialized: %v, %w", pending, err)
	}
	return nil
}

func (r *run) scaleDown(ctx context.Context) {
	if err := r.scale(ctx, 0); err != nil {
		r.fail("scaling to 0: %v", err)
		return
	}
	start := 0
	if claims, err := r.nodeClaims(ctx); err == nil {
		start = len(claims)
	}
	killAt := randomThresholds(r.cfg.RandomKills, start)
	err := waitFor(ctx, r.cfg.Wait, func() (bool, error) {
		claims, err := r.nodeClaims(ctx)
		if err != nil {
			return false, nil
		}
		gone := start - len(claims)
		for len(killAt) > 0 && gone >= killAt[0] {
			killAt = killAt[1:]
			r.killer.kill(ctx, "random (scale-down)", fmt.Sprintf("%d of %d NodeClaims left", len(claims), start))
		}
		nodes := &corev1.NodeList{}
		if err := r.env.Client.List(ctx, nodes); err != nil {
			return false, nil
		}
		return len(claims) == 0 && len(nodes.Items) == 0, nil
	})
	if err != nil {
		claims, _ := r.nodeClaims(ctx)
		r.fail("scale-down: %d NodeClaims left after %s: %v", len(claims), r.cfg.Wait, err)
	}
}

func (r *run) nodeClaims(ctx context.Context) ([]karpv1.NodeClaim, error) {
	claims := &karpv1.NodeClaimList{}
	if err := r.env.Client.List(ctx, claims); err != nil {
		return nil, err
	}
	return claims.Items, nil
}

// randomThresholds returns k distinct-ish points of progress in [1, n-1], ascending.
func randomThresholds(k, n int) []int {
	if n < 2 {
		return nil
	}
	out := make([]int, k)
	for i := range out {
		out[i] = 1 + rand.IntN(n-1)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// killBetweenDeployAndTag kills the controller the moment the simulator holds a VM of this cluster that deploy
// created (it carries the instance group) but that carries no tags yet. If no such moment is seen before stop, it
// kills anyway, and the report says so.
func (r *run) killBetweenDeployAndTag(ctx context.Context, stop <-chan struct{}) {
	group := ""
	// Each poll reads every VM with its userData: polled much faster, at 200 VMs the simulator and this process
	// spend a core on JSON, starving the node agent (its leases lapse and the nodes go NotReady).
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			r.killer.kill(ctx, "between deploy and tag (not caught; at the end of the scale-up)", "")
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if group == "" {
			id, err := r.clusterID(ctx)
			if err != nil {
				continue
			}
			group = "karpenter-" + clusterName + "-" + id
		}
		vms, err := r.env.Simulator.VirtualMachines(ctx)
		if err != nil {
			continue
		}
		for _, vm := range vms {
			if vm.Group == group && len(vm.Tags) == 0 && (vm.State == simulator.StateStopped || vm.State == simulator.StateStarting) {
				r.killer.kill(ctx, "between deploy and tag", fmt.Sprintf("VM %s (%s) deployed, not tagged", vm.Name, vm.State))
				return
			}
		}
	}
}

func (r *run) clusterID(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{}
	if err := r.env.Client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", err
	}
	return string(ns.UID), nil
}

func (r *run) startExhaustion(ctx context.Context, cycle int) {
	var f simulator.FaultSettings
	what := ""
	if cycle%2 == 0 {
		f.ZoneCapacity = map[string]simulator.ZoneCapacitySpec{exhaustedZone: {CPUCores: 1, MemoryMiB: 1}}
		what = "zone " + exhaustedZone
	} else {
		f.ExhaustedOfferings = map[string]bool{cheapest: true}
		what = "offering " + cheapest
	}
	if err := r.env.Simulator.ApplyFaults(ctx, f); err != nil {
		r.fail("exhausting %s: %v", what, err)
		return
	}
	r.report.Exhausted = append(r.report.Exhausted, fmt.Sprintf("cycle %d: %s", cycle+1, what))
	r.log.Info("exhausted", "what", what)
}

func (r *run) endExhaustion(ctx context.Context) {
	_ = r.env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{
		ZoneCapacity:  map[string]simulator.ZoneCapacitySpec{exhaustedZone: {CPUCores: zoneCores, MemoryMiB: zoneMemoryMiB}},
		ChaosSettings: simulator.ChaosSettings{ExhaustedOfferings: map[string]bool{cheapest: false}},
	})
}

// runOutage makes the management server unreachable for cfg.Outage and watches the controller meanwhile: its
// reachability gauge, and any NodeClaim it deletes. It returns when the outage is over and the gauge reads 1 again
// (or 5 minutes after); recovery of the workload is measured by the caller.
//
// The gauge, not /readyz, is what follows CloudStack: readiness deliberately stays true while the cloud is down
// (pkg/operator/health.go), and the probe behind the gauge runs every 30 s, so the gauge drops within that of the
// outage's start and comes back within that of its end.
func (r *run) runOutage(ctx context.Context, running int) {
	o := &OutageReport{Duration: r.cfg.Outage, PodsRunningAtStart: running}
	r.report.Outage = o
	r.killer.pause()
	defer r.killer.resume()
	o.Start = time.Now()
	if err := r.env.Simulator.ApplyFaults(ctx, simulator.FaultSettings{ChaosSettings: simulator.ChaosSettings{Outage: &simulator.Duration{Duration: r.cfg.Outage}}}); err != nil {
		r.fail("starting the outage: %v", err)
		return
	}
	end := o.Start.Add(r.cfg.Outage)
	r.log.Info("outage", "until", end)
	for time.Now().Before(end) {
		if reachable, err := r.reachable(ctx); err == nil && !reachable && o.UnreachableAfter == 0 {
			o.UnreachableAfter = time.Since(o.Start).Round(100 * time.Millisecond)
		}
		if ready, err := r.readyz(ctx); err == nil && !ready {
			o.NotReady = true
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return
		}
	}
	o.End = time.Now()
	for {
		if reachable, err := r.reachable(ctx); err == nil && reachable {
			o.ReachableAgainAfter, o.ReachableAgain = time.Since(o.End).Round(100*time.Millisecond), true
			break
		}
		if time.Since(o.End) > 5*time.Minute || sleepCtx(ctx, 500*time.Millisecond) != nil {
			break
		}
	}
	o.NodeClaimsDeleted = r.obs.deletedBetween(o.Start, o.End)
	if len(o.NodeClaimsDeleted) > 0 {
		r.fail("NodeClaims deleted while CloudStack was unreachable: %v", o.NodeClaimsDeleted)
	}
}

// launchTimeout is Karpenter core's: a NodeClaim not launched within it is deleted (lifecycle.LaunchTimeout). After
// an outage, NodeClaims created shortly before it can reach it while their launches still retry.
const launchTimeout = 5 * time.Minute

// afterOutage fills in, once the run is over, the NodeClaims deleted in the launch timeout after the outage for
// another reason than a disruption Karpenter chose: a figure, not a property — core deletes a NodeClaim that did not
// launch in 5 minutes, outage or not, and the run checks that nothing leaked or stayed stuck because of it.
func (r *run) afterOutage() {
	if o := r.report.Outage; o != nil && !o.End.IsZero() {
		o.NodeClaimsDeletedAfter = r.obs.deletedBetween(o.End, o.End.Add(launchTimeout))
	}
}

// reachableGauge is the controller's gauge of whether CloudStack answers its probe (pkg/cloudstack/probe.go).
const reachableGauge = "karpenter_cloudstack_api_reachable"

// reachable reads the running controller's reachability gauge from its metrics endpoint; an error when the
// controller does not serve it (yet: it is set by the first probe).
func (r *run) reachable(ctx context.Context) (bool, error) {
	body, err := r.controllerGet(ctx, "settings.metricsPort", "/metrics")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(body, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == reachableGauge {
			return fields[1] == "1", nil
		}
	}
	return false, fmt.Errorf("no %s in the controller's metrics", reachableGauge)
}

// readyz asks the running controller's health endpoint.
func (r *run) readyz(ctx context.Context) (bool, error) {
	_, err := r.controllerGet(ctx, "settings.healthProbePort", "/readyz")
	var status statusError
	if errors.As(err, &status) {
		return false, nil
	}
	return err == nil, err
}

// statusError is an answer of the controller other than 200.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("HTTP %d", int(e)) }

// controllerGet reads path from the running controller's port named by the chart value port.
func (r *run) controllerGet(ctx context.Context, port, path string) (string, error) {
	_, values, _, err := r.env.RunningController()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+values[port]+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError(resp.StatusCode)
	}
	return string(body), nil
}

// drift rolls every node to the patched template and kills the controller while replacements are in flight.
func (r *run) drift(ctx context.Context) {
	nc := &v1.CloudStackNodeClass{}
	if err := r.env.Client.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
		r.fail("drift: %v", err)
		return
	}
	old := map[string]bool{}
	claims, _ := r.nodeClaims(ctx)
	for _, c := range claims {
		old[c.Name] = true
	}
	patch := client.MergeFrom(nc.DeepCopy())
	nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: patchedTemplate}}
	if err := r.env.Client.Patch(ctx, nc, patch); err != nil {
		r.fail("drift: patching the NodeClass: %v", err)
		return
	}
	killed := false
	want := r.cfg.Nodes
	if r.cfg.DriftReplacements > 0 {
		want = min(want, r.cfg.DriftReplacements)
	}
	r.report.DriftReplacements = want
	err := waitFor(ctx, r.cfg.Wait, func() (bool, error) {
		claims, err := r.nodeClaims(ctx)
		if err != nil {
			return false, nil
		}
		replacements, drifted := 0, 0
		for _, c := range claims {
			if !old[c.Name] {
				replacements++
			} else if c.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue() {
				drifted++
			}
		}
		if !killed && drifted > 0 && replacements > 0 {
			killed = true
			r.killer.kill(ctx, "during drift replacement", fmt.Sprintf("%d drifted, %d replacements", drifted, replacements))
		}
		if replacements < want {
			return false, nil
		}
		if want == r.cfg.Nodes && len(claims) != replacements {
			return false, nil
		}
		_, running, err := r.podCounts(ctx)
		return err == nil && running == r.cfg.Nodes, nil
	})
	if !killed {
		r.killer.kill(ctx, "during drift replacement (not caught; after it)", "")
	}
	if err != nil {
		claims, _ := r.nodeClaims(ctx)
		r.fail("drift: %d NodeClaims (old ones left: %d) after %s: %v", len(claims), len(lo.Filter(claims, func(c karpv1.NodeClaim, _ int) bool { return old[c.Name] })), r.cfg.Wait, err)
		return
	}
	if err := r.waitAllInitialized(ctx); err != nil {
		r.fail("drift: %v", err)
	}
}

// finish waits until the cluster's VMs are all gone (the garbage collector runs every 2 minutes, so a leak left by a
// kill takes up to its interval plus the grace period), then fills in the figures.
func (r *run) finish(ctx context.Context) {
	rep := r.report
	var live []simulator.VM
	_ = waitFor(ctx, r.cfg.Wait, func() (bool, error) {
		vms, err := r.env.ClusterVMs(ctx)
		if err != nil {
			return false, nil
		}
		live = vms
		return len(vms) == 0, nil
	})
	for _, vm := range live {
		rep.Leaked = append(rep.Leaked, fmt.Sprintf("%s (%s, %s)", vm.Name, vm.ID, vm.State))
	}
	if len(rep.Leaked) > 0 {
		r.fail("VMs leaked: %v", rep.Leaked)
	}
	if all, err := r.allClusterVMs(ctx); err != nil {
		r.fail("reading the VM history: %v", err)
	} else {
		rep.VMsCreated = len(all)
		started := map[string]int{}
		for _, vm := range all {
			if !vm.Started.IsZero() {
				started[nodeClaimOf(vm)]++
			}
		}
		for claim, n := range started {
			if n > 1 {
				rep.Duplicates = append(rep.Duplicates, fmt.Sprintf("%s: %d VMs ran", claim, n))
			}
		}
		if len(rep.Duplicates) > 0 {
			r.fail("NodeClaims with more than one VM that ran: %v", rep.Duplicates)
		}
	}
	r.afterOutage()
	rep.NodeClaims, rep.NeverReady, rep.Stuck = r.obs.claimSummary()
	if len(rep.Stuck) > 0 {
		r.fail("NodeClaims never Ready and never removed: %v", rep.Stuck)
	}
	rep.LongestPendingPod, rep.LongestPendingPodName = r.obs.longestPendingPod()
	if res, err := r.results(ctx); err == nil {
		rep.Requests = res
		for _, n := range res["deployVirtualMachine"] {
			rep.LaunchesAttempted += n
		}
	} else {
		r.fail("reading the simulator's results: %v", err)
	}
	rep.Kills, rep.Restarts = r.killer.history()
	if rep.Restarts != len(rep.Kills) {
		r.fail("%d kills but %d restarts", len(rep.Kills), rep.Restarts)
	}
}

// allClusterVMs is every VM of this cluster the simulator ever held: live ones and expunged ones.
func (r *run) allClusterVMs(ctx context.Context) ([]simulator.VM, error) {
	id, err := r.clusterID(ctx)
	if err != nil {
		return nil, err
	}
	live, err := r.env.Simulator.VirtualMachines(ctx)
	if err != nil {
		return nil, err
	}
	gone, err := r.env.Simulator.ExpungedVirtualMachines(ctx)
	if err != nil {
		return nil, err
	}
	group := "karpenter-" + clusterName + "-" + id
	return lo.Filter(append(live, gone...), func(vm simulator.VM, _ int) bool {
		return vm.Group == group || vm.Tags[v1.TagKeyClusterID] == id
	}), nil
}

// nodeClaimOf is the NodeClaim a VM was deployed for: its tag, else the display name deploy set.
func nodeClaimOf(vm simulator.VM) string {
	if n := vm.Tags[v1.TagKeyNodeClaim]; n != "" {
		return n
	}
	return vm.DisplayName
}

// results reads the simulator's answers by command and HTTP status.
func (r *run) results(ctx context.Context) (map[string]map[int]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.env.Simulator.URL+"/results", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]map[int]int64{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// logWriter passes text lines to the caller's logger.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(b)))
	return len(b), nil
}

// waitFor polls cond every second until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
