package environment

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	// Also registers CloudStackNodeClass in client-go's scheme, as the controller does.
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
	// Registers NodePool and NodeClaim in client-go's scheme.
	_ "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// UserAccount is the catalog account the controller signs its CloudStack requests with: a non-admin account, as in
// a real installation.
const UserAccount = "karpenter"

// Options configure an Environment. Zero values take the defaults documented on each field.
type Options struct {
	// Catalog is the simulator's catalog file (default: catalog.yaml beside this package, whose names match examples/).
	Catalog string
	// JobLatency is how long the simulator's asynchronous jobs take (default 1s).
	JobLatency time.Duration
	// ClusterName is the controller's settings.clusterName (default "local").
	ClusterName string
	// Values are further chart values for the controller (ChartOptionalSettings lists them), e.g.
	// {"settings.batchIdleDuration": "1s"}.
	Values ChartValues
	// AssetsDir holds etcd, kube-apiserver, kube-scheduler and kube-controller-manager (default: $KUBEBUILDER_ASSETS,
	// else what hack/envtest-assets.sh prints, building them on first use).
	AssetsDir string
	// AgentInterval is how often the node agent syncs (default 500ms).
	AgentInterval time.Duration
	// Log receives progress messages (default: discarded).
	Log *slog.Logger
	// KeepWorkDir keeps the working directory (logs, kubeconfig, credentials files) after Stop.
	KeepWorkDir bool
	// ControllerCommand, when set, runs the controller some other way than the binary built from this checkout (for
	// example the container image's entrypoint under chroot); see ControllerCommandFunc.
	ControllerCommand ControllerCommandFunc
	// CRDDirectories are further directories of CRDs installed with the chart's (e.g. the KWOKNodeClass CRD when
	// ControllerCommand runs Karpenter's kwok provider, make scale-kwok).
	CRDDirectories []string
	// KWOKNodes makes the node agent the kubelet of kwok provider Nodes too (nodeagent.Agent.ServeKWOKNodes).
	KWOKNodes bool
	// BootDelay is the node agent's boot delay (nodeagent.Agent.SetBootDelay).
	BootDelay time.Duration
	// AuditMilestones makes the kube-apiserver write an audit log (Environment.AuditLog) of the NodeClaim status
	// writes, with their patches, and of the pod bindings: when the API server stored each milestone of a scale-up,
	// which no client sees reliably while it lags behind a burst (the server ends watches that fall behind).
	AuditMilestones bool
}

// Environment is a running local cluster with the CloudStack provider.
type Environment struct {
	// Client is a system:masters client of the kube-apiserver.
	Client client.Client
	// Config is the rest config behind Client.
	Config *rest.Config
	// Kubeconfig is the path of a system:masters kubeconfig file (for kubectl).
	Kubeconfig string
	// Simulator is the simulator's admin endpoint.
	Simulator *SimulatorAdmin
	// SimulatorURL is the CloudStack API URL the controller uses.
	SimulatorURL string
	// ClusterName is the controller's cluster name.
	ClusterName string
	// AuditLog is the kube-apiserver's audit log with Options.AuditMilestones (JSON lines of audit.k8s.io/v1 Events).
	AuditLog string
	// WorkDir holds the logs (<component>.log), the kubeconfig and the credentials files.
	WorkDir string

	opts          Options
	root          string
	binDir        string
	controlPlane  *envtest.Environment
	processes     []*process
	controllerEnv []string
	// controllerValues are the chart values of the controller, without its ports; credentialsDir is the mounted
	// Secret's directory.
	controllerValues ChartValues
	credentialsDir   string
	// runningValues are the values of the running controller, ports included.
	runningValues ChartValues
	agentCancel   context.CancelFunc
	agentDone     chan struct{}
	agent         *nodeagent.Agent
	// apiKey and secretKey are the controller's CloudStack account keys.
	apiKey, secretKey string

	mu         sync.Mutex
	controller *process
	stopOnce   sync.Once
}

// Start brings up the whole environment and returns once every component is healthy. On error everything already
// started is stopped again.
func Start(ctx context.Context, opts Options) (env *Environment, err error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	opts = withDefaults(opts, root)
	work, err := os.MkdirTemp("", "karpenter-cloudstack-env-")
	if err != nil {
		return nil, fmt.Errorf("creating the working directory, %w", err)
	}
	e := &Environment{opts: opts, root: root, WorkDir: work, ClusterName: opts.ClusterName}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"controller and simulator binaries built", e.buildBinaries},
		{"etcd and kube-apiserver ready", e.startControlPlane},
		{"kube-scheduler and kube-controller-manager healthy", e.startKubeComponents},
		{"CloudStack simulator serving", e.startSimulator},
		{"node agent running", e.startAgent},
		{"controller ready", e.StartController},
	}
	for _, s := range steps {
		began := time.Now()
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("%s: failed, %w", s.name, err)
		}
		opts.Log.Info(s.name, "took", time.Since(began).Round(10*time.Millisecond).String())
	}
	return e, nil
}

// DefaultCatalog is the catalog the demo runs with, in the checkout at root.
func DefaultCatalog(root string) string {
	return filepath.Join(root, "test", "pkg", "environment", "catalog.yaml")
}

func withDefaults(o Options, root string) Options {
	if o.Catalog == "" {
		o.Catalog = DefaultCatalog(root)
	}
	if o.JobLatency == 0 {
		o.JobLatency = time.Second
	}
	if o.ClusterName == "" {
		o.ClusterName = "local"
	}
	if o.AgentInterval == 0 {
		o.AgentInterval = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// buildBinaries builds the controller and the simulator from this checkout, into a cache directory so a rebuild
// with nothing changed only checks build IDs.
func (e *Environment) buildBinaries(ctx context.Context) error {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	// One directory per checkout: two worktrees testing at once must not run each other's controller (a restart
	// execs whatever binary is there at that moment).
	h := fnv.New32a()
	_, _ = h.Write([]byte(e.root))
	e.binDir = filepath.Join(cache, "karpenter-cloudstack", "local-bin", fmt.Sprintf("%08x", h.Sum32()))
	if err := os.MkdirAll(e.binDir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", e.binDir+string(os.PathSeparator), "./cmd/controller", "./cmd/simulator")
	cmd.Dir = e.root
	env := os.Environ()
	if !strings.Contains(os.Getenv("GOTOOLCHAIN"), "go1.27") {
		// Karpenter needs go >= 1.26.9; the project pins this toolchain (Makefile, README).
		env = append(env, "GOTOOLCHAIN=go1.27.3")
	}
	cmd.Env = append(env, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/controller ./cmd/simulator, %w\n%s", err, out)
	}
	return nil
}

func (e *Environment) assetsDir(ctx context.Context) (string, error) {
	if e.opts.AssetsDir != "" {
		return e.opts.AssetsDir, nil
	}
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	e.opts.Log.Info("building or locating the control-plane binaries (hack/envtest-assets.sh; 7-15 min the first time)")
	cmd := exec.CommandContext(ctx, filepath.Join(e.root, "hack", "envtest-assets.sh"))
	cmd.Dir = e.root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/envtest-assets.sh, %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// auditPolicy records, with Options.AuditMilestones, the NodeClaim status writes with their patch (which carries
// the conditions) and the pod bindings, and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted, Panic]
rules:
  - level: Request
    verbs: [patch, update]
    resources: [{group: karpenter.sh, resources: [nodeclaims/status]}]
  - level: Metadata
    verbs: [create]
    resources: [{group: "", resources: [pods/binding]}]
  - level: None
`

func (e *Environment) startControlPlane(ctx context.Context) error {
	assets, err := e.assetsDir(ctx)
	if err != nil {
		return err
	}
	e.opts.AssetsDir = assets
	e.controlPlane = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(e.root, "charts", "karpenter-cloudstack", "crds")}, e.opts.CRDDirectories...),
		ErrorIfCRDPathMissing: true,
	}
	if e.opts.AuditMilestones {
		policy := filepath.Join(e.WorkDir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return err
		}
		e.AuditLog = filepath.Join(e.WorkDir, "audit.log")
		api := &envtest.APIServer{}
		// Batched, so that a request never waits for the file.
		api.Configure().Set("audit-policy-file", policy).Set("audit-log-path", e.AuditLog).Set("audit-log-format", "json").
			Set("audit-log-mode", "batch").Set("audit-log-batch-max-wait", "1s").Set("audit-log-batch-max-size", "100")
		e.controlPlane.ControlPlane.APIServer = api
	}
	if _, err := e.controlPlane.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver from %s, %w", assets, err)
	}
	user, err := e.controlPlane.ControlPlane.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a system:masters user, %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering the admin kubeconfig, %w", err)
	}
	e.Kubeconfig = filepath.Join(e.WorkDir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	e.Config = user.Config()
	e.Config.QPS, e.Config.Burst = 200, 400
	e.Client, err = client.New(e.Config, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return fmt.Errorf("building the admin client, %w", err)
	}
	// The chart's namespace: the leader-election Lease lives there when leader election is on.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ChartNamespace}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s, %w", ChartNamespace, err)
	}
	return nil
}

func (e *Environment) startKubeComponents(ctx context.Context) error {
	// The scheduler's default client QPS (50) throttles bursts of pods; a config file is the supported way to raise it.
	schedConfig := filepath.Join(e.WorkDir, "kube-scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %s
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
`, e.Kubeconfig)), 0o600); err != nil {
		return err
	}
	sched, err := startOnFreePorts(ctx, 1, time.Minute, func(ports []int) (*process, string, error) {
		p, err := startProcess(e.WorkDir, "kube-scheduler", os.Environ(), filepath.Join(e.opts.AssetsDir, "kube-scheduler"),
			"--config="+schedConfig, "--authentication-kubeconfig="+e.Kubeconfig, "--authorization-kubeconfig="+e.Kubeconfig,
			"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[0]))
		return p, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[0]), err
	})
	if err != nil {
		return err
	}
	e.processes = append(e.processes, sched)
	kcm, err := startOnFreePorts(ctx, 1, time.Minute, func(ports []int) (*process, string, error) {
		p, err := startProcess(e.WorkDir, "kube-controller-manager", os.Environ(), filepath.Join(e.opts.AssetsDir, "kube-controller-manager"),
			"--kubeconfig="+e.Kubeconfig, "--leader-elect=false", "--use-service-account-credentials=false",
			"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[0]), "--kube-api-qps=200", "--kube-api-burst=400")
		return p, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[0]), err
	})
	if err != nil {
		return err
	}
	e.processes = append(e.processes, kcm)
	return nil
}

func (e *Environment) startSimulator(ctx context.Context) error {
	sim, err := startOnFreePorts(ctx, 2, 30*time.Second, func(ports []int) (*process, string, error) {
		p, err := startProcess(e.WorkDir, "simulator", os.Environ(), filepath.Join(e.binDir, "simulator"),
			"--listen=127.0.0.1:"+strconv.Itoa(ports[0]), "--admin-listen=127.0.0.1:"+strconv.Itoa(ports[1]),
			"--catalog="+e.opts.Catalog, "--job-latency="+e.opts.JobLatency.String())
		e.SimulatorURL = fmt.Sprintf("http://127.0.0.1:%d/client/api", ports[0])
		e.Simulator = NewSimulatorAdmin(fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
		return p, e.Simulator.URL + "/counts", err
	})
	if err != nil {
		return err
	}
	e.processes = append(e.processes, sim)
	return e.writeCredentials()
}

// writeCredentials lays the account's keys out as the chart's Secret is mounted: one file per key.
func (e *Environment) writeCredentials() error {
	cat, err := simulator.LoadCatalog(e.opts.Catalog)
	if err != nil {
		return err
	}
	var account *simulator.Account
	for i := range cat.Accounts {
		if cat.Accounts[i].Name == UserAccount {
			account = &cat.Accounts[i]
		}
	}
	if account == nil {
		return fmt.Errorf("catalog %s has no account %q for the controller", e.opts.Catalog, UserAccount)
	}
	e.apiKey, e.secretKey = account.APIKey, account.SecretKey
	dir := filepath.Join(e.WorkDir, "credentials")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, value := range map[string]string{"api-url": e.SimulatorURL, "api-key": account.APIKey, "secret-key": account.SecretKey, "verify-ssl": "true"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o400); err != nil {
			return fmt.Errorf("writing credentials file %s, %w", name, err)
		}
	}
	values := ChartValues{"settings.clusterName": e.opts.ClusterName, "settings.leaderElection.disabled": "true"}
	for k, v := range e.opts.Values {
		values[k] = v
	}
	e.controllerValues, e.credentialsDir = values, dir
	return nil
}

// controllerEnvFor is the controller's environment with its metrics and health ports.
func (e *Environment) controllerEnvFor(metrics, health int) ([]string, error) {
	values := ChartValues{"settings.metricsPort": strconv.Itoa(metrics), "settings.healthProbePort": strconv.Itoa(health)}
	for k, v := range e.controllerValues {
		values[k] = v
	}
	env, err := ControllerEnv(values, e.credentialsDir)
	if err != nil {
		return nil, err
	}
	e.runningValues = values
	return append(env, "KUBECONFIG="+e.Kubeconfig), nil
}

// RunningController is the running controller's process ID and the chart values it was started from (ports
// included), so a test can read what the process really got (/proc/<pid>/environ).
func (e *Environment) RunningController() (pid int, values ChartValues, credentialsDir string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.controller == nil {
		return 0, nil, "", errors.New("the controller was never started")
	}
	if ok, _ := e.controller.exited(); ok {
		return 0, nil, "", errors.New("the controller is not running")
	}
	out := ChartValues{}
	for k, v := range e.runningValues {
		out[k] = v
	}
	return e.controller.cmd.Process.Pid, out, e.credentialsDir, nil
}

func (e *Environment) startAgent(_ context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	e.agentCancel, e.agentDone = cancel, make(chan struct{})
	agentLog, err := os.OpenFile(filepath.Join(e.WorkDir, "nodeagent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	agent, err := nodeagent.NewWatching(e.Config, scheme.Scheme, e.Simulator, e.opts.ClusterName, e.opts.AgentInterval, slog.New(slog.NewTextHandler(agentLog, nil)))
	if err != nil {
		cancel()
		_ = agentLog.Close()
		return err
	}
	e.agent = agent
	agent.ServeKWOKNodes(e.opts.KWOKNodes)
	agent.SetBootDelay(e.opts.BootDelay)
	go func() {
		defer close(e.agentDone)
		defer agentLog.Close()
		agent.Run(ctx)
	}()
	return nil
}

// StartController starts the controller binary (again) and waits until it is ready.
func (e *Environment) StartController(ctx context.Context) error {
	e.mu.Lock()
	if e.controller != nil {
		if ok, _ := e.controller.exited(); !ok {
			e.mu.Unlock()
			return errors.New("the controller is already running")
		}
	}
	// The lock stays held while the controller starts: Kill and Restart wait for it.
	defer e.mu.Unlock()
	p, err := startOnFreePorts(ctx, 2, 2*time.Minute, func(ports []int) (*process, string, error) {
		env, err := e.controllerEnvFor(ports[0], ports[1])
		if err != nil {
			return nil, "", err
		}
		e.controllerEnv = env
		bin, args, err := e.controllerCommand()
		if err != nil {
			return nil, "", err
		}
		p, err := startProcess(e.WorkDir, "controller", env, bin, args...)
		return p, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]), err
	})
	if err != nil {
		return err
	}
	e.controller = p
	return nil
}

// EnsureController starts the controller unless it is running: a spec that stops the controller restores it in a
// cleanup, so a failure in the middle does not cascade into the specs after it.
func (e *Environment) EnsureController(ctx context.Context) error {
	e.mu.Lock()
	running := e.controller != nil
	if running {
		running, _ = e.controller.exited()
		running = !running
	}
	e.mu.Unlock()
	if running {
		return nil
	}
	return e.StartController(ctx)
}

// RestartController stops the controller gracefully (SIGTERM, as a rolling update does) and starts it again.
func (e *Environment) RestartController(ctx context.Context) error {
	e.mu.Lock()
	if e.controller != nil {
		e.controller.stop(30 * time.Second)
	}
	e.mu.Unlock()
	return e.StartController(ctx)
}

// KillController sends the controller SIGKILL, as an OOM kill or a node failure would, and waits until it is gone.
func (e *Environment) KillController() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.controller == nil {
		return errors.New("the controller was never started")
	}
	if ok, _ := e.controller.exited(); ok {
		return fmt.Errorf("the controller had already exited; see %s", e.controller.logPath)
	}
	e.controller.kill()
	return nil
}

// SetControllerValue sets one chart value of the controller (a values path, as for helm --set) for its next start
// (StartController), so a scenario can run the controller with, for example, a feature gate the suite's values leave
// off; the controller still gets exactly the environment the chart renders for its values. restore puts the value
// back as it was, for the start after that.
func (e *Environment) SetControllerValue(path, value string) (restore func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, had := e.controllerValues[path]
	e.controllerValues[path] = value
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if had {
			e.controllerValues[path] = old
		} else {
			delete(e.controllerValues, path)
		}
	}
}

// ControllerEnv is the controller's environment (without the secret key, which only ever sits in a file).
func (e *Environment) ControllerEnv() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string{}, e.controllerEnv...)
}

// LogFile is the log of a component: controller, simulator, kube-scheduler, kube-controller-manager or nodeagent.
func (e *Environment) LogFile(component string) string {
	return filepath.Join(e.WorkDir, component+".log")
}

// EnableCCM runs (or stops) a simulated CloudStack cloud-controller-manager beside the node agent: it initializes
// nodes that registered with --cloud-provider=external as apache/cloudstack-kubernetes-provider does.
func (e *Environment) EnableCCM(on bool) { e.agent.EnableCCM(on) }

// ClusterVMs returns the VMs of this cluster that are not gone (not Destroyed or Expunging). VMs in Error count: a
// failed launch left in Error is a leak until something destroys it.
func (e *Environment) ClusterVMs(ctx context.Context) ([]simulator.VM, error) {
	vms, err := e.Simulator.VirtualMachines(ctx)
	if err != nil {
		return nil, err
	}
	clusterID, err := e.clusterIDOf(ctx, e.ClusterName)
	if err != nil {
		return nil, err
	}
	var out []simulator.VM
	for _, vm := range vms {
		// The documented ownership contract (INSTALLATION, "Scoping and ownership"), written out here rather than
		// asked of the provider: the cluster-ID tag, or exactly the instance group karpenter-<name>-<cluster ID>.
		// A prefix or the cluster name alone would also match another cluster whose name starts the same way.
		owned := vm.Tags[v1.TagKeyClusterID] == clusterID || vm.Group == "karpenter-"+e.ClusterName+"-"+clusterID
		if owned && vm.State != simulator.StateDestroyed && vm.State != simulator.StateExpunging {
			out = append(out, vm)
		}
	}
	return out, nil
}

// Stop tears everything down: controller first (so it launches nothing more), then the agent, simulator, kube
// components and the control plane. The working directory is removed unless KeepWorkDir is set.
func (e *Environment) Stop() {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		if e.controller != nil {
			e.controller.stop(10 * time.Second)
		}
		e.mu.Unlock()
		if e.agentCancel != nil {
			e.agentCancel()
			<-e.agentDone
		}
		for i := len(e.processes) - 1; i >= 0; i-- {
			e.processes[i].stop(10 * time.Second)
		}
		if e.controlPlane != nil {
			if err := e.controlPlane.Stop(); err != nil {
				e.opts.Log.Warn("stopping etcd and kube-apiserver", "error", err)
			}
		}
		if !e.opts.KeepWorkDir {
			_ = os.RemoveAll(e.WorkDir)
		}
	})
}
