package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// VMLister lists the simulated cloud's VMs (the simulator's admin endpoint, or the in-process server).
type VMLister interface {
	VirtualMachines(ctx context.Context) ([]simulator.VM, error)
}

// VMWatcher is a VMLister that also serves the simulator's change feed (GET /vms/changes): what changed since a
// revision, waiting up to wait for a change. An agent whose lister is one keeps its own view of the VMs from it
// instead of listing every VM on each pass.
type VMWatcher interface {
	VMLister
	VirtualMachineChanges(ctx context.Context, epoch string, since uint64, wait time.Duration) (simulator.VMChanges, error)
}

// workers is how many API requests of one pass (registrations, lease renewals, pod starts) run at once: a burst of
// VMs that turned Running registers in about the time of one request, as many kubelets booting at once would.
const workers = 16

// minPassGap spaces the passes that events trigger, so that a stream of events (a burst) costs one pass per gap
// rather than one per event.
const minPassGap = 50 * time.Millisecond

// Lease timings of a real kubelet: node-lifecycle marks a node Unknown after 50 s without a renewal.
const (
	leaseDurationSeconds = 40
	leaseRenewInterval   = 10 * time.Second
)

// Agent is the kubelet of every Running VM of one cluster.
type Agent struct {
	kube client.Client
	// direct reads the API server itself (kube may read from informers): a Lease read to renew it must be current.
	direct      client.Reader
	vms         VMLister
	clusterName string
	interval    time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu sync.Mutex
	// renewed is when each node's Lease was last renewed.
	renewed map[string]time.Time
	// rejected remembers VMs whose userData cannot bootstrap a node, so the reason is logged once.
	rejected map[string]bool
	// started remembers nodes (by UID) whose startup taints are off, so a pass asks for their NodeClaim no more: the
	// agent's cost per pass stays constant per node instead of one NodeClaim read per node and pass.
	started map[string]bool
	// bootDelay: see SetBootDelay.
	bootDelay time.Duration
	// ccm runs a simulated CloudStack cloud-controller-manager in each pass (see CCM).
	ccm bool
	// kwok makes the agent the kubelet of the Nodes Karpenter's kwok provider creates too (see ServeKWOKNodes).
	kwok bool
	// leases are the Leases the agent last wrote, by node: a renewal updates its own copy, as a kubelet does, and
	// reads the Lease again only when that update conflicts.
	leases map[string]*coordinationv1.Lease

	// informers, when set, serve kube's reads; their events and the VM feed kick a pass (NewWatching).
	informers cache.Cache
	// podsFiltered is true when the pods kube lists are the bound ones already (the informer's own field selector).
	podsFiltered bool
	kick         chan struct{}
	// view is the agent's copy of the VMs, kept from the simulator's change feed; nil until the first answer.
	view *vmView
}

// vmView is the VMs as the change feed last told them.
type vmView struct {
	epoch    string
	revision uint64
	vms      map[string]simulator.VM
}

// New returns an agent for the VMs of clusterName (tagged with it or in its VM group) that syncs every interval.
func New(kube client.Client, vms VMLister, clusterName string, interval time.Duration, log *slog.Logger) *Agent {
	return &Agent{kube: kube, direct: kube, vms: vms, clusterName: clusterName, interval: interval, log: log, now: time.Now,
		renewed: map[string]time.Time{}, rejected: map[string]bool{}, started: map[string]bool{},
		leases: map[string]*coordinationv1.Lease{}, kick: make(chan struct{}, 1)}
}

// NewWatching returns an agent that reads Nodes, bound Pods and NodeClaims from informers of the API server at cfg,
// and the VMs from the simulator's change feed when vms is a VMWatcher. Run makes a pass whenever one of them
// changes (and every interval, for the timed work: Lease renewals, pod grace periods), so in a burst a node
// registers as soon as its VM runs, and an idle cluster costs the agent no API request beyond Lease renewals.
func NewWatching(cfg *rest.Config, scheme *runtime.Scheme, vms VMLister, clusterName string, interval time.Duration, log *slog.Logger) (*Agent, error) {
	informers, err := cache.New(cfg, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
		// A kubelet only sees the pods bound to it; the pending pods of a burst are not the agent's concern.
		&corev1.Pod{}: {Field: fields.OneTermNotEqualSelector("spec.nodeName", "")},
	}})
	if err != nil {
		return nil, fmt.Errorf("building the node agent's informers, %w", err)
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: informers}})
	if err != nil {
		return nil, fmt.Errorf("building the node agent's client, %w", err)
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("building the node agent's direct client, %w", err)
	}
	a := New(kube, vms, clusterName, interval, log)
	a.direct, a.informers, a.podsFiltered = direct, informers, true
	return a, nil
}

// Run syncs until ctx ends. Errors of one pass are logged and retried on the next: the API server or the
// simulator may be briefly unavailable, as for a real kubelet.
func (a *Agent) Run(ctx context.Context) {
	if err := a.startWatches(ctx); err != nil {
		// Without informers the agent cannot see the cluster at all; a test using it fails on its first wait.
		a.log.Error("node agent cannot watch the cluster", "error", err)
		return
	}
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		began := time.Now()
		if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("node agent pass failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
			// Events that arrive during the gap join this pass.
			select {
			case <-ctx.Done():
				return
			case <-time.After(minPassGap - time.Since(began)):
			}
		}
	}
}

// startWatches starts the informers and the VM feed (when the agent has them) and returns once the informers
// have synced; each of their events kicks a pass.
func (a *Agent) startWatches(ctx context.Context) error {
	if w, ok := a.vms.(VMWatcher); ok {
		first := make(chan struct{})
		go a.watchVMs(ctx, w, first)
		// The first pass works on the feed's first answer, not on a whole listing of its own.
		select {
		case <-first:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.informers == nil {
		return nil
	}
	go func() { _ = a.informers.Start(ctx) }()
	kick := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.Kick() },
		UpdateFunc: func(any, any) { a.Kick() },
		DeleteFunc: func(any) { a.Kick() },
	}
	for _, obj := range []client.Object{&corev1.Node{}, &corev1.Pod{}, &karpv1.NodeClaim{}} {
		inf, err := a.informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T, %w", obj, err)
		}
		if _, err := inf.AddEventHandler(kick); err != nil {
			return fmt.Errorf("watching %T, %w", obj, err)
		}
	}
	if !a.informers.WaitForCacheSync(ctx) {
		return fmt.Errorf("the informers did not sync: %w", ctx.Err())
	}
	return nil
}

// KWOKNodeAnnotation marks the Nodes Karpenter's kwok provider (sigs.k8s.io/karpenter/kwok) creates itself, with
// no machine behind them; kwok's own fake kubelet looks after them in a kwok cluster.
const (
	KWOKNodeAnnotation      = "kwok.x-k8s.io/node"
	KWOKNodeAnnotationValue = "fake"
)

// ServeKWOKNodes makes the agent also the kubelet of the Nodes of Karpenter's kwok provider: it keeps their Lease,
// posts Ready and runs and ends their pods exactly as for the nodes of VMs, so a benchmark of the kwok provider and
// of ours differs only by the provider (make scale-kwok). It never deletes such a node: it has no VM to lose.
func (a *Agent) ServeKWOKNodes(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.kwok = on
}

// SetBootDelay makes a VM's Node register, and a kwok Node turn Ready, only this long after the VM ran or the Node
// was created: a real kubelet starts a minute or so after its VM.
func (a *Agent) SetBootDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bootDelay = d
}

func (a *Agent) booted(since time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(since) >= a.bootDelay
}

func (a *Agent) servesKWOK() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kwok
}

// Kick asks for a pass now, rather than at the next interval.
func (a *Agent) Kick() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// changesWait is how long one request of the change feed waits for a change; it stays under the admin client's
// timeout.
const changesWait = 5 * time.Second

// watchVMs keeps the agent's view of the VMs from the simulator's change feed until ctx ends, kicking a pass for
// every change. On an error the view stays as it was (a pass uses it) and the feed is asked again after a second.
func (a *Agent) watchVMs(ctx context.Context, w VMWatcher, first chan struct{}) {
	var epoch string
	var since uint64
	for ctx.Err() == nil {
		ch, err := w.VirtualMachineChanges(ctx, epoch, since, changesWait)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("reading the VM change feed", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		a.mu.Lock()
		if ch.Full || a.view == nil {
			a.view = &vmView{vms: map[string]simulator.VM{}}
		}
		for _, vm := range ch.VMs {
			a.view.vms[vm.ID] = vm
		}
		for _, id := range ch.Removed {
			delete(a.view.vms, id)
		}
		a.view.epoch, a.view.revision = ch.Epoch, ch.Revision
		a.mu.Unlock()
		if first != nil {
			close(first)
			first = nil
		}
		epoch, since = ch.Epoch, ch.Revision
		if ch.Full || len(ch.VMs) > 0 || len(ch.Removed) > 0 {
			a.Kick()
		}
	}
}

// virtualMachines are the VMs as the change feed told them, or, without a feed, as the lister lists them now.
func (a *Agent) virtualMachines(ctx context.Context) ([]simulator.VM, error) {
	a.mu.Lock()
	if a.view != nil {
		out := make([]simulator.VM, 0, len(a.view.vms))
		for _, vm := range a.view.vms {
			out = append(out, vm)
		}
		a.mu.Unlock()
		return out, nil
	}
	a.mu.Unlock()
	return a.vms.VirtualMachines(ctx)
}

// parallel runs fn for 0..n-1 on up to workers goroutines and joins their errors.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	errs := make([]error, n)
	workqueue.ParallelizeUntil(ctx, workers, n, func(i int) { errs[i] = fn(i) })
	return errors.Join(errs...)
}

// gone are the states in which a VM no longer runs a node.
var gone = map[string]bool{simulator.StateDestroyed: true, simulator.StateExpunging: true, simulator.StateError: true}

// Sync makes one pass: registers nodes for new Running VMs, deletes nodes of VMs that are gone, renews Leases,
// removes startup taints of registered nodes, and runs or finishes the pods bound to the agent's nodes.
func (a *Agent) Sync(ctx context.Context) error {
	vms, err := a.virtualMachines(ctx)
	if err != nil {
		return fmt.Errorf("listing VMs, %w", err)
	}
	live := map[string]simulator.VM{}
	for _, vm := range vms {
		if (vm.Tags[v1.TagKeyCluster] == a.clusterName || strings.HasPrefix(vm.Group, instance.GroupPrefix(a.clusterName)+"-")) && !gone[vm.State] {
			live[vm.ID] = vm
		}
	}
	// The listed objects may be the informer's own: what a pass changes, it changes on a copy.
	nodes := &corev1.NodeList{}
	if err := a.kube.List(ctx, nodes, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing nodes, %w", err)
	}
	var errs []error
	ours := map[string]*corev1.Node{}
	registered := map[string]bool{}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		id := node.Annotations[AnnotationVMID]
		if id == "" {
			if node.Annotations[KWOKNodeAnnotation] == KWOKNodeAnnotationValue && a.servesKWOK() && a.booted(node.CreationTimestamp.Time) {
				ours[node.Name] = node
			}
			continue // not registered by this agent
		}
		registered[id] = true
		if _, ok := live[id]; !ok {
			// A deleting node waits for Karpenter's termination finalizer; deleting it again changes nothing.
			if node.DeletionTimestamp == nil {
				errs = append(errs, a.deleteNode(ctx, node))
			}
			continue
		}
		ours[node.Name] = node
	}
	var joining []simulator.VM
	for id, vm := range live {
		if vm.State == simulator.StateRunning && !registered[id] && a.booted(vm.Started) {
			joining = append(joining, vm)
		}
	}
	joined := make([]*corev1.Node, len(joining))
	errs = append(errs, parallel(ctx, len(joining), func(i int) (err error) {
		joined[i], err = a.register(ctx, joining[i])
		return err
	}))
	for _, node := range joined {
		if node != nil {
			ours[node.Name] = node
		}
	}
	if a.CCMEnabled() {
		errs = append(errs, a.initializeNodes(ctx, ours, vms))
	}
	list := make([]*corev1.Node, 0, len(ours))
	for _, node := range ours {
		list = append(list, node)
	}
	errs = append(errs, parallel(ctx, len(list), func(i int) error {
		node := list[i]
		return errors.Join(a.renewLease(ctx, node), a.reportReady(ctx, node), a.removeStartupTaints(ctx, node))
	}))
	errs = append(errs, a.runPods(ctx, ours))
	return errors.Join(errs...)
}

func (a *Agent) register(ctx context.Context, vm simulator.VM) (*corev1.Node, error) {
	userData, err := DecodeUserData(vm.UserData)
	var cfg *KubeletConfig
	if err == nil {
		cfg, err = ReadKubeletConfig(userData, DistroOf(vm.OSType))
	}
	if err != nil {
		a.mu.Lock()
		first := !a.rejected[vm.ID]
		a.rejected[vm.ID] = true
		a.mu.Unlock()
		if first {
			a.log.Warn("VM cannot join: its userData does not follow the bootstrap contract", "vm", vm.Name, "id", vm.ID, "error", err)
		}
		return nil, nil
	}
	reg, err := NewRegistration(cfg, MetadataOf(vm))
	if err != nil {
		return nil, fmt.Errorf("VM %s cannot register its node, %w", vm.ID, err)
	}
	node := NewNode(vm, cfg, reg, a.now())
	if err := a.kube.Create(ctx, node); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("registering node %s for VM %s, %w", vm.Name, vm.ID, err)
	}
	a.log.Info("registered node", "node", node.Name, "provider-id", node.Spec.ProviderID, "zone", vm.ZoneName, "offering", vm.ServiceOfferingName)
	return node, nil
}

func (a *Agent) deleteNode(ctx context.Context, node *corev1.Node) error {
	if err := a.kube.Delete(ctx, node, client.Preconditions{UID: &node.UID}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting node %s of a gone VM, %w", node.Name, err)
	}
	a.mu.Lock()
	delete(a.renewed, node.Name)
	delete(a.leases, node.Name)
	delete(a.started, string(node.UID))
	a.mu.Unlock()
	a.log.Info("deleted node of a gone VM", "node", node.Name)
	return nil
}

func (a *Agent) renewLease(ctx context.Context, node *corev1.Node) error {
	now := a.now()
	a.mu.Lock()
	due := now.Sub(a.renewed[node.Name]) >= leaseRenewInterval
	lease := a.leases[node.Name]
	a.mu.Unlock()
	if !due {
		return nil
	}
	var err error
	if lease != nil && lease.OwnerReferences[0].UID == node.UID {
		// The kubelet's way: update its own copy; only a conflict makes it read the Lease again.
		lease = lease.DeepCopy()
		lease.Spec.RenewTime = &metav1.MicroTime{Time: now}
		if err = a.kube.Update(ctx, lease); err == nil {
			a.leaseRenewed(node.Name, lease, now)
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("renewing the lease of node %s, %w", node.Name, err)
		}
	}
	lease = &coordinationv1.Lease{}
	err = a.direct.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: node.Name}, lease)
	switch {
	case apierrors.IsNotFound(err):
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: node.Name, OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID},
			}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node.Name), LeaseDurationSeconds: ptr.To[int32](leaseDurationSeconds),
				RenewTime: &metav1.MicroTime{Time: now}},
		}
		err = a.kube.Create(ctx, lease)
	case err == nil:
		lease.Spec.RenewTime = &metav1.MicroTime{Time: now}
		err = a.kube.Update(ctx, lease)
	}
	if err != nil {
		return fmt.Errorf("renewing the lease of node %s, %w", node.Name, err)
	}
	a.leaseRenewed(node.Name, lease, now)
	return nil
}

func (a *Agent) leaseRenewed(node string, lease *coordinationv1.Lease, now time.Time) {
	if len(lease.OwnerReferences) == 0 {
		return
	}
	a.mu.Lock()
	a.renewed[node] = now
	a.leases[node] = lease
	a.mu.Unlock()
}

// removeStartupTaints does what a node's daemons do once they are ready: take their startup taints off. The
// taints to remove are the NodeClaim's startupTaints, and only after Karpenter registered the node.
func (a *Agent) removeStartupTaints(ctx context.Context, node *corev1.Node) error {
	if node.Labels[karpv1.NodeRegisteredLabelKey] != "true" {
		return nil
	}
	a.mu.Lock()
	done := a.started[string(node.UID)]
	a.mu.Unlock()
	if done {
		return nil
	}
	nodeClaim := &karpv1.NodeClaim{}
	if err := a.kube.Get(ctx, client.ObjectKey{Name: node.Name}, nodeClaim); err != nil {
		return client.IgnoreNotFound(err)
	}
	markStarted := func() {
		a.mu.Lock()
		a.started[string(node.UID)] = true
		a.mu.Unlock()
	}
	node = node.DeepCopy()
	var keep []corev1.Taint
	for _, t := range node.Spec.Taints {
		startup := false
		for _, st := range nodeClaim.Spec.StartupTaints {
			startup = startup || st.MatchTaint(&t)
		}
		if !startup {
			keep = append(keep, t)
		}
	}
	if len(keep) == len(node.Spec.Taints) {
		markStarted()
		return nil
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Spec.Taints = keep
	if err := a.kube.Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("removing startup taints of node %s, %w", node.Name, err)
	}
	markStarted()
	return nil
}

func (a *Agent) runPods(ctx context.Context, nodes map[string]*corev1.Node) error {
	// Only bound pods concern a kubelet; the pending pods of a burst are left to the API server.
	pods := &corev1.PodList{}
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if !a.podsFiltered {
		opts = append(opts, client.MatchingFieldsSelector{Selector: fields.OneTermNotEqualSelector("spec.nodeName", "")})
	}
	if err := a.kube.List(ctx, pods, opts...); err != nil {
		return fmt.Errorf("listing pods, %w", err)
	}
	var work []*corev1.Pod
	for i := range pods.Items {
		pod := &pods.Items[i]
		if _, ok := nodes[pod.Spec.NodeName]; !ok {
			continue
		}
		if pod.DeletionTimestamp == nil &&
			(pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
			continue
		}
		work = append(work, pod)
	}
	return parallel(ctx, len(work), func(i int) error {
		pod := work[i]
		if pod.DeletionTimestamp != nil {
			return a.terminate(ctx, pod)
		}
		node := nodes[pod.Spec.NodeName]
		if err := a.kube.Status().Update(ctx, runningPod(pod, node, a.now())); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("starting pod %s/%s on node %s, %w", pod.Namespace, pod.Name, node.Name, err)
		}
		return nil
	})
}

func runningPod(pod *corev1.Pod, node *corev1.Node, now time.Time) *corev1.Pod {
	out := pod.DeepCopy()
	hostIP := ""
	for _, addr := range node.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP {
			hostIP = addr.Address
		}
	}
	started := metav1.NewTime(now)
	out.Status.Phase = corev1.PodRunning
	out.Status.StartTime = &started
	if hostIP != "" {
		out.Status.HostIP = hostIP
		out.Status.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	ip := PodIP(string(pod.UID))
	out.Status.PodIP, out.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	// The agent runs no container process, so a readiness probe has nothing to answer it: a kubelet reports such a
	// container running but not ready, for good. Core's "unhealthy PodDisruptionBudget" specs rely on exactly that.
	allReady := true
	out.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		image := c.Image
		if !strings.Contains(image, "/") {
			image = "docker.io/library/" + image
		}
		ready := c.ReadinessProbe == nil
		allReady = allReady && ready
		out.Status.ContainerStatuses = append(out.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: image, ImageID: image, Ready: ready, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
		})
	}
	out.Status.Conditions = nil
	for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		cond := corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: started}
		if !allReady && (c == corev1.ContainersReady || c == corev1.PodReady) {
			cond.Status, cond.Reason = corev1.ConditionFalse, "ContainersNotReady"
		}
		out.Status.Conditions = append(out.Status.Conditions, cond)
	}
	return out
}
