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
	"k8s.io/utils/ptr"
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

// Lease timings of a real kubelet: node-lifecycle marks a node Unknown after 50 s without a renewal.
const (
	leaseDurationSeconds = 40
	leaseRenewInterval   = 10 * time.Second
)

// Agent is the kubelet of every Running VM of one cluster.
type Agent struct {
	kube        client.Client
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
	// ccm runs a simulated CloudStack cloud-controller-manager in each pass (see CCM).
	ccm bool
}

// New returns an agent for the VMs of clusterName (tagged with it or in its VM group) that syncs every interval.
func New(kube client.Client, vms VMLister, clusterName string, interval time.Duration, log *slog.Logger) *Agent {
	return &Agent{kube: kube, vms: vms, clusterName: clusterName, interval: interval, log: log, now: time.Now,
		renewed: map[string]time.Time{}, rejected: map[string]bool{}, started: map[string]bool{}}
}

// Run syncs until ctx ends. Errors of one pass are logged and retried on the next: the API server or the
// simulator may be briefly unavailable, as for a real kubelet.
func (a *Agent) Run(ctx context.Context) {
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("node agent pass failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gone are the states in which a VM no longer runs a node.
var gone = map[string]bool{simulator.StateDestroyed: true, simulator.StateExpunging: true, simulator.StateError: true}

// Sync makes one pass: registers nodes for new Running VMs, deletes nodes of VMs that are gone, renews Leases,
// removes startup taints of registered nodes, and runs or finishes the pods bound to the agent's nodes.
func (a *Agent) Sync(ctx context.Context) error {
	vms, err := a.vms.VirtualMachines(ctx)
	if err != nil {
		return fmt.Errorf("listing VMs, %w", err)
	}
	live := map[string]simulator.VM{}
	for _, vm := range vms {
		if (vm.Tags[v1.TagKeyCluster] == a.clusterName || strings.HasPrefix(vm.Group, instance.GroupPrefix(a.clusterName)+"-")) && !gone[vm.State] {
			live[vm.ID] = vm
		}
	}
	nodes := &corev1.NodeList{}
	if err := a.kube.List(ctx, nodes); err != nil {
		return fmt.Errorf("listing nodes, %w", err)
	}
	var errs []error
	ours := map[string]*corev1.Node{}
	registered := map[string]bool{}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		id := node.Annotations[AnnotationVMID]
		if id == "" {
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
	for id, vm := range live {
		if vm.State == simulator.StateRunning && !registered[id] {
			node, err := a.register(ctx, vm)
			errs = append(errs, err)
			if node != nil {
				ours[node.Name] = node
			}
		}
	}
	if a.CCMEnabled() {
		errs = append(errs, a.initializeNodes(ctx, ours, vms))
	}
	for _, node := range ours {
		errs = append(errs, a.renewLease(ctx, node), a.reportReady(ctx, node), a.removeStartupTaints(ctx, node))
	}
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
	delete(a.started, string(node.UID))
	a.mu.Unlock()
	a.log.Info("deleted node of a gone VM", "node", node.Name)
	return nil
}

func (a *Agent) renewLease(ctx context.Context, node *corev1.Node) error {
	now := a.now()
	a.mu.Lock()
	due := now.Sub(a.renewed[node.Name]) >= leaseRenewInterval
	a.mu.Unlock()
	if !due {
		return nil
	}
	lease := &coordinationv1.Lease{}
	err := a.kube.Get(ctx, client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: node.Name}, lease)
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
	a.mu.Lock()
	a.renewed[node.Name] = now
	a.mu.Unlock()
	return nil
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
	if err := a.kube.List(ctx, pods, client.MatchingFieldsSelector{Selector: fields.OneTermNotEqualSelector("spec.nodeName", "")}); err != nil {
		return fmt.Errorf("listing pods, %w", err)
	}
	var errs []error
	for i := range pods.Items {
		pod := &pods.Items[i]
		node, ok := nodes[pod.Spec.NodeName]
		if !ok {
			continue
		}
		if pod.DeletionTimestamp != nil {
			errs = append(errs, a.terminate(ctx, pod))
			continue
		}
		if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if err := a.kube.Status().Update(ctx, runningPod(pod, node, a.now())); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("starting pod %s/%s on node %s, %w", pod.Namespace, pod.Name, node.Name, err))
		}
	}
	return errors.Join(errs...)
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
