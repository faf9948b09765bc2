// Command scale measures one burst of pods on the local environment (test/pkg/environment: etcd, kube-apiserver,
// kube-scheduler, kube-controller-manager, the simulated CloudStack, the node agent) with this provider, with
// Karpenter's own kwok provider (sigs.k8s.io/karpenter/kwok, built from the karpenter module this project depends
// on, no cloud at all) on the same control plane and the same workload, or with both back to back for a ratio
// (`make scale`, `make scale-kwok`; docs/performance.md).
//
//	go run ./test/cmd/scale [--provider cloudstack|kwok|both] [--replicas 100] [--job-latency 0s] [--runs 1] [--idle 1m]
//
// Each run starts a fresh environment, applies a NodeClass and a NodePool of 4-vCPU nodes, creates a Deployment of
// --replicas pods of 1.5 CPU (two per node), and prints: the time until every NodeClaim is Launched, Registered and
// Initialized and every pod is bound (when the kube-apiserver stored it, from its audit log) and running (observed
// once a second); the CloudStack requests per launched node by command (the simulator's /counts); the requests per minute of the idle scaled-up cluster; the time to scale to
// zero (consolidateAfter set to 0s when the Deployment goes to 0) and the requests per deleted node; the
// controller's peak RSS and CPU. With --provider both each run measures kwok first, then this provider, and the
// table ends with the medians and the ratios ours ÷ kwok.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

const (
	providerCloudStack = "cloudstack"
	providerKWOK       = "kwok"
	clusterName        = "scale"
	workloadName       = "burst"
	workloadNamespace  = "default"
)

func main() {
	provider := flag.String("provider", providerCloudStack, "cloudstack, kwok (Karpenter's own kwok provider) or both (kwok, then cloudstack, in each run)")
	replicas := flag.Int("replicas", 100, "pods of the burst (1.5 CPU each, two per 4-vCPU node)")
	jobLatency := flag.Duration("job-latency", 0, "how long the simulated CloudStack takes for a VM deploy or destroy (0: at once)")
	runs := flag.Int("runs", 1, "runs of each provider; the table ends with the medians")
	idle := flag.Duration("idle", time.Minute, "how long the scaled-up cluster is left idle to count its CloudStack requests per minute (not for kwok, which sends none)")
	timeout := flag.Duration("timeout", 45*time.Minute, "give up after this long, not counting the one-time builds")
	bootDelay := flag.Duration("boot-delay", 0, "how long after its VM runs (kwok: after its Node is created) a node registers or turns Ready")
	keep := flag.Bool("keep-logs", false, "keep each run's working directory with every component's log")
	apiQPS := flag.Int("cloudstack-api-qps", 0, "the controller's --cloudstack-api-qps, with a burst of twice that (0: the controller's defaults, 20 and 40)")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	var providers []string
	switch *provider {
	case providerCloudStack, providerKWOK:
		providers = []string{*provider}
	case "both":
		providers = []string{providerKWOK, providerCloudStack}
	default:
		fmt.Fprintf(os.Stderr, "--provider=%s: want cloudstack, kwok or both\n", *provider)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{start: time.Now(), replicas: int32(*replicas), jobLatency: *jobLatency, idle: *idle, keep: *keep, bootDelay: *bootDelay, apiQPS: *apiQPS}
	if err := b.prepare(ctx, providers); err != nil {
		b.say("FAILED: %v", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var results []result
	for i := 0; i < *runs; i++ {
		for _, p := range providers {
			b.say("run %d of %d: %s, %d pods, job latency %s", i+1, *runs, p, *replicas, *jobLatency)
			r, err := b.run(ctx, p)
			if err != nil {
				b.say("FAILED: %s run %d: %v", p, i+1, err)
				printTable(results)
				os.Exit(1)
			}
			results = append(results, r)
			printTable([]result{r})
		}
	}
	fmt.Printf("\nscale: %d pods, job latency %s, %d run(s), %s\n", *replicas, *jobLatency, *runs, time.Now().UTC().Format(time.RFC3339))
	printTable(results)
	printSummary(results, providers)
}

type bench struct {
	start      time.Time
	replicas   int32
	jobLatency time.Duration
	idle       time.Duration
	keep       bool
	bootDelay  time.Duration
	apiQPS     int
	opts       environment.Options
	kwokBin    string
	kwokCRDs   string
}

func (b *bench) say(format string, args ...any) {
	fmt.Printf("[%7.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// prepare makes the one-time builds: the control plane, the controller and the simulator (environment.Prepare), and
// for kwok runs Karpenter's kwok provider from the karpenter module in the module cache.
func (b *bench) prepare(ctx context.Context, providers []string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	latency := b.jobLatency
	if latency == 0 {
		// The environment's zero means its default (1 s); a job of 1 ms finishes before its first poll.
		latency = time.Millisecond
	}
	b.opts = environment.Options{ClusterName: clusterName, Catalog: filepath.Join(wd, "test", "cmd", "scale", "catalog.yaml"),
		JobLatency: latency, KeepWorkDir: b.keep, BootDelay: b.bootDelay, AuditMilestones: true}
	if b.apiQPS > 0 {
		b.opts.Values = environment.ChartValues{"settings.cloudstack.apiQPS": strconv.Itoa(b.apiQPS), "settings.cloudstack.apiBurst": strconv.Itoa(2 * b.apiQPS)}
	}
	b.say("one-time preparation: control plane, controller and simulator builds")
	if b.opts, err = environment.Prepare(ctx, b.opts); err != nil {
		return fmt.Errorf("preparing, %w", err)
	}
	for _, p := range providers {
		if p == providerKWOK {
			b.say("building Karpenter's kwok provider (sigs.k8s.io/karpenter/kwok)")
			if b.kwokBin, b.kwokCRDs, err = buildKWOK(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildKWOK builds sigs.k8s.io/karpenter/kwok at the karpenter version go.mod pins into the user cache, and finds
// its KWOKNodeClass CRD in that module.
func buildKWOK(ctx context.Context) (bin, crds string, err error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/karpenter").Output()
	if err != nil {
		return "", "", fmt.Errorf("locating the karpenter module (go list -m sigs.k8s.io/karpenter), %w", err)
	}
	crds = filepath.Join(strings.TrimSpace(string(out)), "kwok", "apis", "crds")
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin = filepath.Join(cache, "karpenter-cloudstack", "kwok-bin", "karpenter-kwok")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "sigs.k8s.io/karpenter/kwok")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build sigs.k8s.io/karpenter/kwok, %w\n%s", err, out)
	}
	return bin, crds, nil
}

// result is one run's figures.
type result struct {
	provider                                          string
	pods, nodes                                       int
	launched, registered, initialized, bound, running time.Duration
	upCounts, idleCounts, downCounts                  *environment.Counts
	idle, down                                        time.Duration
	peakRSS                                           int64
	cpuUp, cpuIdle, cpuDown                           float64
	// agentCPU is this process's CPU during the scale-up: the node agent (in process) and the once-a-second
	// observation, the same for both providers.
	agentCPU float64
}

// run measures one burst on a fresh environment.
func (b *bench) run(ctx context.Context, provider string) (result, error) {
	r := result{provider: provider, pods: int(b.replicas), idle: b.idle}
	opts := b.opts
	if provider == providerKWOK {
		bin := b.kwokBin
		opts.ControllerCommand = func(string) (string, []string, error) { return bin, nil, nil }
		opts.CRDDirectories = []string{b.kwokCRDs}
		opts.KWOKNodes = true
	}
	env, err := environment.Start(ctx, opts)
	if err != nil {
		return r, err
	}
	defer func() {
		env.Stop()
		if b.keep {
			b.say("logs kept in %s", env.WorkDir)
		}
	}()
	if err := b.applyNodeClassAndPool(ctx, env, provider); err != nil {
		return r, err
	}
	pid, _, _, err := env.RunningController()
	if err != nil {
		return r, err
	}
	cpu0, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	self0, err := cpuSeconds(os.Getpid())
	if err != nil {
		return r, err
	}
	if err := env.Simulator.ResetCounts(ctx); err != nil {
		return r, err
	}

	metricsBefore, err := scrapeController(ctx, env)
	if err != nil {
		return r, err
	}
	apiBefore, err := scrapeAPIServer(ctx, env)
	if err != nil {
		return r, err
	}
	b.say("creating %d pods", b.replicas)
	began := time.Now()
	if err := env.Client.Create(ctx, workload(b.replicas)); err != nil {
		return r, fmt.Errorf("creating the workload, %w", err)
	}
	var series []observation
	last := ""
	for {
		o, err := b.observe(ctx, env)
		if err != nil {
			return r, err
		}
		o.at = time.Since(began)
		series = append(series, o)
		if line := o.String(); line != last {
			b.say("%s", line)
			last = line
		}
		if o.running == int(b.replicas) && o.claims > 0 && o.initialized == o.claims {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return r, fmt.Errorf("waiting for %d running pods, %w", b.replicas, err)
		}
	}
	r.nodes = series[len(series)-1].claims
	r.running = series[len(series)-1].at
	if err := b.stamp(ctx, env, began, &r); err != nil {
		return r, err
	}
	if r.upCounts, err = env.Simulator.Counts(ctx); err != nil {
		return r, err
	}
	if metricsAfter, err := scrapeController(ctx, env); err != nil {
		b.say("%v", err)
	} else {
		b.sayControllerMetrics(metricsBefore, metricsAfter)
	}
	if apiAfter, err := scrapeAPIServer(ctx, env); err != nil {
		b.say("%v", err)
	} else {
		b.sayAPIServerMetrics(apiBefore, apiAfter)
	}
	cpu1, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	self1, err := cpuSeconds(os.Getpid())
	if err != nil {
		return r, err
	}
	r.agentCPU = self1 - self0

	if provider == providerKWOK {
		// kwok sends no CloudStack request, idle or not: its idle window would only lengthen the run.
		r.idle = 0
	} else {
		b.say("%s idle", b.idle)
		if err := env.Simulator.ResetCounts(ctx); err != nil {
			return r, err
		}
		if err := sleep(ctx, b.idle); err != nil {
			return r, err
		}
		if r.idleCounts, err = env.Simulator.Counts(ctx); err != nil {
			return r, err
		}
	}

	cpuIdleEnd, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	b.say("scaling to 0 (consolidateAfter 0s)")
	if err := env.Simulator.ResetCounts(ctx); err != nil {
		return r, err
	}
	downBegan := time.Now()
	if err := consolidateAtOnce(ctx, env); err != nil {
		return r, err
	}
	if err := scaleWorkload(ctx, env, 0); err != nil {
		return r, err
	}
	for {
		o, err := b.observe(ctx, env)
		if err != nil {
			return r, err
		}
		if line := o.String(); line != last {
			b.say("%s", line)
			last = line
		}
		if o.claims == 0 && o.nodes == 0 && o.liveVMs == 0 {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return r, fmt.Errorf("waiting for every node and VM to go, %w", err)
		}
	}
	r.down = time.Since(downBegan)
	if r.downCounts, err = env.Simulator.Counts(ctx); err != nil {
		return r, err
	}
	cpu2, err := cpuSeconds(pid)
	if err != nil {
		return r, err
	}
	if r.peakRSS, err = peakRSS(pid); err != nil {
		return r, err
	}
	r.cpuUp, r.cpuIdle, r.cpuDown = cpu1-cpu0, cpuIdleEnd-cpu1, cpu2-cpuIdleEnd
	return r, nil
}

// The NodeClasses and NodePools of the two providers: 4-vCPU, 8 GiB on-demand amd64 nodes, no limits, no
// consolidation until the scale-down (consolidateAtOnce), and then of every empty node at once.
const cloudstackNodeClass = `apiVersion: karpenter.k8s.cloudstack/v1
kind: CloudStackNodeClass
metadata:
  name: scale
spec:
  zone: zone-a
  networkSelectorTerms: [{name: k8s-nodes}]
  serviceOfferingSelectorTerms: [{name: k8s.medium}]
  templateSelectorTerms: [{name: ubuntu-24.04-kube-v1.36}]
  userData: |
    #cloud-config
    write_files:
      - path: /etc/default/kubelet
        content: |
          KUBELET_EXTRA_ARGS={{ .KubeletArgs }} --provider-id={{ .ProviderIDPrefix }}@INSTANCE_ID@
`

const kwokNodeClass = `apiVersion: karpenter.kwok.sh/v1alpha1
kind: KWOKNodeClass
metadata:
  name: scale
`

const nodePool = `apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: scale
spec:
  template:
    spec:
      nodeClassRef: {group: %s, kind: %s, name: scale}
      requirements:
        - {key: kubernetes.io/arch, operator: In, values: [amd64]}
        - {key: kubernetes.io/os, operator: In, values: [linux]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: %s, operator: In, values: ["4"]}
%s      expireAfter: Never
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: Never
    # The default budget (10%% of the nodes at a time) would make the scale to zero a queue of one-node steps.
    budgets: [{nodes: "100%%"}]
`

func (b *bench) applyNodeClassAndPool(ctx context.Context, env *environment.Environment, provider string) error {
	class, pool := cloudstackNodeClass, fmt.Sprintf(nodePool, "karpenter.k8s.cloudstack", "CloudStackNodeClass", "karpenter.k8s.cloudstack/instance-cpu", "")
	if provider == providerKWOK {
		// kwok's c family has 2 GiB per vCPU: c-4x is 4 vCPUs and 8 GiB, the shape of k8s.medium.
		class, pool = kwokNodeClass, fmt.Sprintf(nodePool, "karpenter.kwok.sh", "KWOKNodeClass", "karpenter.kwok.sh/instance-cpu",
			"        - {key: karpenter.kwok.sh/instance-family, operator: In, values: [c]}\n")
	}
	for _, doc := range []string{class, pool} {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return fmt.Errorf("decoding the benchmark's %s, %w", provider, err)
		}
		if err := env.Client.Create(ctx, u); err != nil {
			return fmt.Errorf("creating %s %s, %w", u.GetKind(), u.GetName(), err)
		}
	}
	if provider == providerKWOK {
		// The kwok provider has no NodeClass controller; Karpenter's own tests mark its NodeClass Ready the same way.
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("karpenter.kwok.sh/v1alpha1")
		u.SetKind("KWOKNodeClass")
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "scale"}, u); err != nil {
			return err
		}
		now := metav1.Now().UTC().Format(time.RFC3339)
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready",
			"message": "", "lastTransitionTime": now, "observedGeneration": u.GetGeneration()}}, "status", "conditions")
		if err := env.Client.Status().Update(ctx, u); err != nil {
			return fmt.Errorf("marking the KWOKNodeClass Ready, %w", err)
		}
	}
	// The provisioner only uses a Ready NodePool (its NodeClass Ready).
	for {
		np := &karpv1.NodePool{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "scale"}, np); err != nil {
			return err
		}
		if c := np.StatusConditions().Root(); c != nil && c.IsTrue() {
			b.say("nodepool/scale is Ready")
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("waiting for nodepool/scale to be Ready, %w", err)
		}
	}
}

func workload(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": workloadName}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: workloadName, Namespace: workloadNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}},
				},
			},
		},
	}
}

func scaleWorkload(ctx context.Context, env *environment.Environment, replicas int32) error {
	dep := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: workloadNamespace, Name: workloadName}, dep); err != nil {
		return err
	}
	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Replicas = &replicas
	return env.Client.Patch(ctx, dep, patch)
}

// consolidateAtOnce sets the NodePool's consolidateAfter to 0s, so the scale-down measures the providers' deletes,
// not a wait both would share.
func consolidateAtOnce(ctx context.Context, env *environment.Environment) error {
	np := &karpv1.NodePool{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "scale"}, np); err != nil {
		return err
	}
	patch := client.MergeFrom(np.DeepCopy())
	np.Spec.Disruption.ConsolidateAfter = karpv1.MustParseNillableDuration("0s")
	return env.Client.Patch(ctx, np, patch)
}

// observation is what the harness sees once a second.
type observation struct {
	at                                               time.Duration
	pending, bound, running                          int
	claims, launched, registered, initialized, nodes int
	liveVMs                                          int
}

func (o observation) String() string {
	return fmt.Sprintf("pods pending=%d bound=%d running=%d | nodeclaims %d (launched %d, registered %d, initialized %d) | nodes %d | live VMs %d",
		o.pending, o.bound, o.running, o.claims, o.launched, o.registered, o.initialized, o.nodes, o.liveVMs)
}

// observe observes again after a failed read, until ctx ends: on a loaded machine the API server answers a list
// with a timeout now and then, which says nothing about either provider.
func (b *bench) observe(ctx context.Context, env *environment.Environment) (observation, error) {
	for {
		o, err := observeOnce(ctx, env)
		if err == nil || ctx.Err() != nil {
			return o, err
		}
		b.say("observing failed, observing again: %v", err)
		if err := sleep(ctx, time.Second); err != nil {
			return o, err
		}
	}
}

func observeOnce(ctx context.Context, env *environment.Environment) (observation, error) {
	var o observation
	pods := &corev1.PodList{}
	if err := env.Client.List(ctx, pods, client.InNamespace(workloadNamespace), client.MatchingLabels{"app": workloadName}); err != nil {
		return o, err
	}
	for _, p := range pods.Items {
		switch {
		case p.Spec.NodeName == "":
			o.pending++
		case p.Status.Phase == corev1.PodRunning:
			o.running++
		default:
			o.bound++
		}
	}
	claims := &karpv1.NodeClaimList{}
	if err := env.Client.List(ctx, claims); err != nil {
		return o, err
	}
	for i := range claims.Items {
		o.claims++
		for cond, n := range map[string]*int{karpv1.ConditionTypeLaunched: &o.launched, karpv1.ConditionTypeRegistered: &o.registered,
			karpv1.ConditionTypeInitialized: &o.initialized} {
			if c := claims.Items[i].StatusConditions().Get(cond); c != nil && c.IsTrue() {
				*n++
			}
		}
	}
	nodes := &corev1.NodeList{}
	if err := env.Client.List(ctx, nodes); err != nil {
		return o, err
	}
	o.nodes = len(nodes.Items)
	vms, err := env.Simulator.VirtualMachines(ctx)
	if err != nil {
		return o, err
	}
	for _, vm := range vms {
		if strings.HasPrefix(vm.Group, instance.GroupPrefix(clusterName)+"-") && vm.State != simulator.StateDestroyed &&
			vm.State != simulator.StateExpunging && vm.State != simulator.StateError {
			o.liveVMs++
		}
	}
	return o, nil
}

// metricSample is one line of the controller's Prometheus text exposition.
type metricSample struct {
	name, labels string
	value        float64
}

// scrapeController reads the controller's metrics endpoint.
func scrapeController(ctx context.Context, env *environment.Environment) ([]metricSample, error) {
	_, values, _, err := env.RunningController()
	if err != nil {
		return nil, err
	}
	samples, err := scrape(ctx, http.DefaultClient, "http://127.0.0.1:"+values["settings.metricsPort"]+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading the controller's metrics, %w", err)
	}
	return samples, nil
}

// scrapeAPIServer reads the kube-apiserver's metrics endpoint.
func scrapeAPIServer(ctx context.Context, env *environment.Environment) ([]metricSample, error) {
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		return nil, err
	}
	samples, err := scrape(ctx, hc, strings.TrimSuffix(env.Config.Host, "/")+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading the kube-apiserver's metrics, %w", err)
	}
	return samples, nil
}

// scrape parses a Prometheus text exposition.
func scrape(ctx context.Context, hc *http.Client, url string) ([]metricSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var out []metricSample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sep := strings.LastIndexByte(line, ' ')
		if sep < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sep+1:], 64)
		if err != nil {
			continue
		}
		m := metricSample{name: line[:sep], value: v}
		if i := strings.IndexByte(m.name, '{'); i >= 0 {
			m.name, m.labels = m.name[:i], m.name[i:]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// metricLabel is the value of one label of a sample's label set.
func metricLabel(labels, key string) string {
	i := strings.Index(labels, key+`="`)
	if i < 0 || (i > 0 && labels[i-1] != '{' && labels[i-1] != ',') {
		return ""
	}
	rest := labels[i+len(key)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// metricSums adds up, for each value of by (several labels: their values joined by "/"), the samples named name (of
// after, minus before) whose labels contain every one of match.
func metricSums(before, after []metricSample, name, by string, match ...string) map[string]float64 {
	sums := map[string]float64{}
	for sign, samples := range map[float64][]metricSample{-1: before, 1: after} {
	next:
		for _, m := range samples {
			if m.name != name {
				continue
			}
			for _, want := range match {
				if !strings.Contains(m.labels, want) {
					continue next
				}
			}
			var key []string
			for _, l := range strings.Split(by, ",") {
				key = append(key, metricLabel(m.labels, l))
			}
			sums[strings.Join(key, "/")] += sign * m.value
		}
	}
	return sums
}

// sayAPIServerMetrics prints what the kube-apiserver did during the scale-up (after minus before): its requests by
// resource and verb, and how long the writes core's launches wait on took.
func (b *bench) sayAPIServerMetrics(before, after []metricSample) {
	b.say("kube-apiserver requests: %s", topSums(metricSums(before, after, "apiserver_request_total", "resource,verb"), 12))
	counts := metricSums(before, after, "apiserver_request_duration_seconds_count", "resource,verb")
	sums := metricSums(before, after, "apiserver_request_duration_seconds_sum", "resource,verb")
	var parts []string
	for _, k := range []string{"nodeclaims/PATCH", "nodes/PATCH", "nodes/PUT", "pods/PUT", "pods/PATCH", "pods/POST", "events/POST", "leases/PUT"} {
		if counts[k] >= 1 {
			parts = append(parts, fmt.Sprintf("%s %.0f ms", k, 1000*sums[k]/counts[k]))
		}
	}
	b.say("kube-apiserver mean request time: %s", strings.Join(parts, ", "))
	if t := topSums(metricSums(before, after, "apiserver_terminated_watchers_total", "resource"), 5); t != "" {
		b.say("kube-apiserver ended watches that fell behind: %s", t)
	}
}

// topSums formats the largest sums, at most n of them.
func topSums(sums map[string]float64, n int) string {
	keys := make([]string, 0, len(sums))
	for k, v := range sums {
		if v >= 0.5 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return sums[keys[i]] > sums[keys[j]] })
	var parts []string
	for i, k := range keys {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", k, sums[k]))
	}
	return strings.Join(parts, ", ")
}

// sayControllerMetrics prints what the controller's own metrics say about the scale-up (after minus before): core's
// histogram of CloudProvider.Create durations (its buckets end at 10 s), which is how long the provider held each
// launch apart from what core did before and after; its reconciles by controller and the nodeclaim lifecycle
// queue's wait, which show where core's own writes wait.
func (b *bench) sayControllerMetrics(before, after []metricSample) {
	count := metricSums(before, after, "karpenter_cloudprovider_duration_seconds_count", "method", `method="Create"`)["Create"]
	sum := metricSums(before, after, "karpenter_cloudprovider_duration_seconds_sum", "method", `method="Create"`)["Create"]
	within10 := metricSums(before, after, "karpenter_cloudprovider_duration_seconds_bucket", "method", `method="Create"`, `le="10"`)["Create"]
	if count > 0 {
		b.say("CloudProvider.Create (core's histogram): %.0f calls, mean %.1f s, %.0f took over 10 s", count, sum/count, count-within10)
	}
	b.say("reconciles by controller: %s", topSums(metricSums(before, after, "controller_runtime_reconcile_total", "controller"), 8))
	b.say("reconciles that failed or asked to requeue: %s", topSums(metricSums(before, after, "controller_runtime_reconcile_total", "controller", `result="error"`), 4)+
		"; requeued: "+topSums(metricSums(before, after, "controller_runtime_reconcile_total", "controller", `result="requeue"`), 4))
	waits := metricSums(before, after, "workqueue_queue_duration_seconds_sum", "name", `name="nodeclaim.lifecycle"`)["nodeclaim.lifecycle"]
	adds := metricSums(before, after, "workqueue_queue_duration_seconds_count", "name", `name="nodeclaim.lifecycle"`)["nodeclaim.lifecycle"]
	work := metricSums(before, after, "workqueue_work_duration_seconds_sum", "name", `name="nodeclaim.lifecycle"`)["nodeclaim.lifecycle"]
	if adds > 0 {
		b.say("nodeclaim.lifecycle queue: %.0f reconciles, mean wait %.2f s, mean work %.2f s, retries %.0f", adds, waits/adds, work/adds,
			metricSums(before, after, "workqueue_retries_total", "name", `name="nodeclaim.lifecycle"`)["nodeclaim.lifecycle"])
	}
}

// claimMilestones are the NodeClaim conditions whose first time the audit log records.
var claimMilestones = []string{karpv1.ConditionTypeLaunched, karpv1.ConditionTypeRegistered, karpv1.ConditionTypeInitialized}

// stored is when the kube-apiserver stored each NodeClaim's first write of its Launched, Registered and Initialized
// conditions as True and each pod's binding, from its audit log (environment.Options.AuditMilestones). No client
// sees that reliably during a burst: the once-a-second observation's lists come back seconds late; core sets a
// condition again, with a new lastTransitionTime, whenever a reconcile reads a NodeClaim from a cache that has not
// caught up with its own write; and a watch sees a change only once it catches up, which during a 500-pod burst
// on 2 cores meant the API server ended the harness's watches (15 times in one run, 44 NodeClaim watches of all
// clients) and a third of the NodeClaims were first seen Launched 10-30 s after core had stored it.
type stored struct {
	claims map[string]map[string]time.Time // NodeClaim → condition → first stored true
	bound  map[string]time.Time
}

func (s *stored) complete(claims []karpv1.NodeClaim, pods int) bool {
	for i := range claims {
		if len(s.claims[claims[i].Name]) < len(claimMilestones) {
			return false
		}
	}
	return len(s.bound) >= pods
}

// auditEvent is what readAudit needs of an audit.k8s.io/v1 Event.
type auditEvent struct {
	Stage          string    `json:"stage"`
	StageTimestamp time.Time `json:"stageTimestamp"`
	ObjectRef      struct {
		Resource, Subresource, Namespace, Name string
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject struct {
		Status struct {
			Conditions []struct {
				Type, Status string
			} `json:"conditions"`
		} `json:"status"`
	} `json:"requestObject"`
}

// readAudit reads the milestones of the audit log written so far. A status write carries the whole conditions list
// (a JSON merge patch replaces lists), so the first successful write with a condition True is when it was stored.
func readAudit(path string) (*stored, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the kube-apiserver's audit log, %w", err)
	}
	defer f.Close()
	s := &stored{claims: map[string]map[string]time.Time{}, bound: map[string]time.Time{}}
	first := func(into map[string]time.Time, key string, at time.Time) {
		if t, ok := into[key]; !ok || at.Before(t) {
			into[key] = at
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Stage != "ResponseComplete" || ev.ResponseStatus.Code/100 != 2 {
			continue
		}
		switch ref := ev.ObjectRef; {
		case ref.Resource == "nodeclaims" && ref.Subresource == "status":
			for _, c := range ev.RequestObject.Status.Conditions {
				if c.Status == string(metav1.ConditionTrue) && slices.Contains(claimMilestones, c.Type) {
					if s.claims[ref.Name] == nil {
						s.claims[ref.Name] = map[string]time.Time{}
					}
					first(s.claims[ref.Name], c.Type, ev.StageTimestamp)
				}
			}
		case ref.Resource == "pods" && ref.Subresource == "binding" && ref.Namespace == workloadNamespace && strings.HasPrefix(ref.Name, workloadName+"-"):
			first(s.bound, ref.Name, ev.StageTimestamp)
		}
	}
	return s, sc.Err()
}

// stamp sets the Launched, Registered, Initialized and bound times from when the API server stored them, and says when the
// provisioner created the NodeClaims (its waves) and how long their launches took, which is what sets the Launched
// time: core schedules no new wave while a NodeClaim of the last one has no provider ID.
func (b *bench) stamp(ctx context.Context, env *environment.Environment, began time.Time, r *result) error {
	claims := &karpv1.NodeClaimList{}
	if err := env.Client.List(ctx, claims); err != nil {
		return fmt.Errorf("listing NodeClaims, %w", err)
	}
	// The API server writes its audit log in batches, at least once a second.
	var s *stored
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if s, err = readAudit(env.AuditLog); err != nil {
			return err
		}
		if s.complete(claims.Items, r.pods) || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	latest := map[string]time.Duration{}
	type wave struct {
		claims    int
		maxLaunch time.Duration
	}
	waves := map[time.Duration]*wave{}
	for i := range claims.Items {
		nc := &claims.Items[i]
		for _, cond := range claimMilestones {
			at, ok := s.claims[nc.Name][cond]
			if !ok {
				return fmt.Errorf("the audit log has no write of NodeClaim %s %s", nc.Name, cond)
			}
			latest[cond] = max(latest[cond], at.Sub(began))
		}
		created := nc.CreationTimestamp.Sub(began.Truncate(time.Second)).Truncate(time.Second)
		w := waves[created]
		if w == nil {
			w = &wave{}
			waves[created] = w
		}
		w.claims++
		// The creation time has whole seconds: the launch took at most this long.
		w.maxLaunch = max(w.maxLaunch, s.claims[nc.Name][karpv1.ConditionTypeLaunched].Sub(nc.CreationTimestamp.Time))
	}
	r.launched, r.registered, r.initialized = latest[karpv1.ConditionTypeLaunched], latest[karpv1.ConditionTypeRegistered], latest[karpv1.ConditionTypeInitialized]
	if b.keep {
		// Each NodeClaim's milestones, to set beside the controller's log lines of the same NodeClaim.
		var rows []string
		for i := range claims.Items {
			nc := &claims.Items[i]
			row := []string{nc.Name, nc.Status.ProviderID, seconds(nc.CreationTimestamp.Sub(began))}
			for _, cond := range claimMilestones {
				row = append(row, seconds(s.claims[nc.Name][cond].Sub(began)))
			}
			if c := nc.StatusConditions().Get(karpv1.ConditionTypeLaunched); c != nil {
				row = append(row, seconds(c.LastTransitionTime.Sub(began)))
			}
			rows = append(rows, strings.Join(row, "\t"))
		}
		sort.Strings(rows)
		header := "nodeclaim\tprovider ID\tcreated\t" + strings.Join(claimMilestones, "\t") + "\tLaunched lastTransitionTime (seconds since the pods were created at " + began.UTC().Format(time.RFC3339Nano) + ", as the kube-apiserver stored them)\n"
		if err := os.WriteFile(filepath.Join(env.WorkDir, "nodeclaims.tsv"), []byte(header+strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	var at []time.Duration
	for t := range waves {
		at = append(at, t)
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	var line []string
	for _, t := range at {
		line = append(line, fmt.Sprintf("%.0fs: %d (launched within %.0fs)", t.Seconds(), waves[t].claims, waves[t].maxLaunch.Seconds()))
	}
	b.say("NodeClaims created at (since the pods): %s", strings.Join(line, ", "))
	if len(s.bound) < r.pods {
		return fmt.Errorf("the audit log has %d of %d pods bound", len(s.bound), r.pods)
	}
	for _, t := range s.bound {
		r.bound = max(r.bound, t.Sub(began))
	}
	return nil
}

func seconds(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func printTable(results []result) {
	if len(results) == 0 {
		return
	}
	fmt.Printf("\n| provider | pods | nodes | all Launched | all Registered | all Initialized | all pods bound | all pods running | requests per launched node | idle requests per minute | scale to 0 | requests per deleted node | controller peak RSS | controller CPU (up / idle / down) | node agent CPU (up) |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Printf("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d MiB | %.1f s / %.1f s / %.1f s | %.1f s |\n",
			r.provider, r.pods, r.nodes, seconds(r.launched), seconds(r.registered), seconds(r.initialized), seconds(r.bound),
			seconds(r.running), per(r.upCounts, float64(r.nodes)), per(r.idleCounts, r.idle.Minutes()), seconds(r.down),
			per(r.downCounts, float64(r.nodes)), r.peakRSS>>20, r.cpuUp, r.cpuIdle, r.cpuDown, r.agentCPU)
	}
	fmt.Println()
}

// printSummary prints each provider's medians and, with both, ours ÷ kwok.
func printSummary(results []result, providers []string) {
	med := map[string]map[string]float64{}
	metrics := []struct {
		name string
		get  func(result) float64
	}{
		{"all Launched (s)", func(r result) float64 { return r.launched.Seconds() }},
		{"all Registered (s)", func(r result) float64 { return r.registered.Seconds() }},
		{"all Initialized (s)", func(r result) float64 { return r.initialized.Seconds() }},
		{"all pods bound (s)", func(r result) float64 { return r.bound.Seconds() }},
		{"all pods running (s)", func(r result) float64 { return r.running.Seconds() }},
		{"scale to 0 (s)", func(r result) float64 { return r.down.Seconds() }},
		{"peak RSS (MiB)", func(r result) float64 { return float64(r.peakRSS >> 20) }},
		{"CPU, scale-up (s)", func(r result) float64 { return r.cpuUp }},
		{"CPU, idle (s per minute)", func(r result) float64 {
			if r.idle == 0 {
				return 0
			}
			return r.cpuIdle / r.idle.Minutes()
		}},
		{"CPU, scale-down (s)", func(r result) float64 { return r.cpuDown }},
		{"node agent CPU, scale-up (s)", func(r result) float64 { return r.agentCPU }},
		{"requests per launched node", func(r result) float64 { return float64(total(r.upCounts)) / float64(max(r.nodes, 1)) }},
		{"requests per deleted node", func(r result) float64 { return float64(total(r.downCounts)) / float64(max(r.nodes, 1)) }},
		{"idle requests per minute", func(r result) float64 {
			if r.idle == 0 {
				return 0
			}
			return float64(total(r.idleCounts)) / r.idle.Minutes()
		}},
	}
	for _, p := range providers {
		med[p] = map[string]float64{}
		for _, m := range metrics {
			var xs []float64
			for _, r := range results {
				if r.provider == p {
					xs = append(xs, m.get(r))
				}
			}
			med[p][m.name] = median(xs)
		}
	}
	header := "| median |"
	sep := "|---|"
	for _, p := range providers {
		header += " " + p + " |"
		sep += "---|"
	}
	both := len(providers) == 2
	if both {
		header += " cloudstack ÷ kwok |"
		sep += "---|"
	}
	fmt.Println(header)
	fmt.Println(sep)
	for _, m := range metrics {
		line := "| " + m.name + " |"
		for _, p := range providers {
			line += " " + strconv.FormatFloat(med[p][m.name], 'f', 1, 64) + " |"
		}
		if both {
			ratio := "-"
			if k := med[providerKWOK][m.name]; k > 0 {
				ratio = fmt.Sprintf("%.2f", med[providerCloudStack][m.name]/k)
			}
			line += " " + ratio + " |"
		}
		fmt.Println(line)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func total(c *environment.Counts) int64 {
	if c == nil {
		return 0
	}
	return c.Total
}

// per is a count divided by n with its commands, largest first.
func per(c *environment.Counts, n float64) string {
	if c == nil || n == 0 {
		return "-"
	}
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
		return "0"
	}
	return fmt.Sprintf("%.2f (%s)", float64(c.Total)/n, strings.Join(parts, ", "))
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
		return 0, errors.New("reading the controller's CPU time: short /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("reading the controller's CPU time: unparseable /proc/<pid>/stat")
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
	return 0, errors.New("reading the controller's peak RSS: no VmHWM")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
