package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/awslabs/operatorpkg/status"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

const (
	deploymentName = "inflate"
	deploymentNS   = "default"
)

// applyExamples server-side applies every file under examples/: Secrets (the join credentials NodeClasses read)
// first, then NodeClasses, then NodePools, then the rest.
func (d *demo) applyExamples(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no examples/*.yaml in %s: run the demo from the repository root (make demo)", mustGetwd())
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		docs, err := environment.ReadManifests(f)
		if err != nil {
			return err
		}
		objs = append(objs, docs...)
	}
	rank := map[string]int{"Secret": 0, "CloudStackNodeClass": 1, "NodePool": 2}
	sort.SliceStable(objs, func(i, j int) bool { return rankOf(rank, objs[i]) < rankOf(rank, objs[j]) })
	for _, o := range objs {
		if err := d.env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("demo"), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s from examples/, %w", o.GetKind(), o.GetName(), err)
		}
		d.say("applied %s/%s", strings.ToLower(o.GetKind()), o.GetName())
	}
	return nil
}

func rankOf(rank map[string]int, o *unstructured.Unstructured) int {
	if r, ok := rank[o.GetKind()]; ok {
		return r
	}
	return len(rank)
}

func (d *demo) waitNodeClassReady(ctx context.Context, name string) error {
	for {
		nc := &v1.CloudStackNodeClass{}
		if err := d.env.Client.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
			return fmt.Errorf("reading CloudStackNodeClass %s, %w", name, err)
		}
		if ready := nc.StatusConditions().Get(status.ConditionReady); ready != nil && ready.IsTrue() {
			d.say("cloudstacknodeclass/%s is Ready: %d zone(s), %d template(s), %d offering(s) resolved in the simulated CloudStack",
				name, len(nc.Status.Zones), len(nc.Status.Templates), len(nc.Status.ServiceOfferings))
			return nil
		} else if ready != nil && ready.Status == "False" {
			d.say("cloudstacknodeclass/%s not ready yet: %s", name, ready.Message)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("waiting for CloudStackNodeClass %s to be Ready, %w", name, err)
		}
	}
}

func (d *demo) scale(ctx context.Context, replicas int32) error {
	dep := &appsv1.Deployment{}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: deploymentNS, Name: deploymentName}, dep); err != nil {
		return fmt.Errorf("reading deployment %s, %w", deploymentName, err)
	}
	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Replicas = &replicas
	if err := d.env.Client.Patch(ctx, dep, patch); err != nil {
		return fmt.Errorf("scaling deployment %s to %d, %w", deploymentName, replicas, err)
	}
	return nil
}

// snapshot is what the demo shows: the example workload's pods, the NodeClaims, the Nodes and the cluster's VMs.
type snapshot struct {
	pending, bound, running                   int
	claims, launched, registered, initialized int
	nodes                                     int
	vmStates                                  map[string]int
	vms                                       []simulator.VM
	nodeClaims                                []karpv1.NodeClaim
	podsByNode                                map[string]int
}

func (d *demo) observe(ctx context.Context) (*snapshot, error) {
	s := &snapshot{vmStates: map[string]int{}, podsByNode: map[string]int{}}
	pods := &corev1.PodList{}
	if err := d.env.Client.List(ctx, pods, client.InNamespace(deploymentNS), client.MatchingLabels{"app": deploymentName}); err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		switch {
		case p.Spec.NodeName == "":
			s.pending++
		case p.Status.Phase == corev1.PodRunning:
			s.running++
			s.podsByNode[p.Spec.NodeName]++
		default:
			s.bound++
		}
	}
	claims := &karpv1.NodeClaimList{}
	if err := d.env.Client.List(ctx, claims); err != nil {
		return nil, err
	}
	s.nodeClaims = claims.Items
	for i := range claims.Items {
		nc := &claims.Items[i]
		s.claims++
		for cond, n := range map[string]*int{karpv1.ConditionTypeLaunched: &s.launched, karpv1.ConditionTypeRegistered: &s.registered, karpv1.ConditionTypeInitialized: &s.initialized} {
			if c := nc.StatusConditions().Get(cond); c != nil && c.IsTrue() {
				*n++
			}
		}
	}
	nodes := &corev1.NodeList{}
	if err := d.env.Client.List(ctx, nodes); err != nil {
		return nil, err
	}
	s.nodes = len(nodes.Items)
	vms, err := d.env.Simulator.VirtualMachines(ctx)
	if err != nil {
		return nil, err
	}
	for _, vm := range vms {
		if strings.HasPrefix(vm.Group, instance.GroupPrefix(d.env.ClusterName)+"-") {
			s.vmStates[vm.State]++
			s.vms = append(s.vms, vm)
		}
	}
	return s, nil
}

func (s *snapshot) String() string {
	states := make([]string, 0, len(s.vmStates))
	for st, n := range s.vmStates {
		states = append(states, fmt.Sprintf("%s=%d", st, n))
	}
	sort.Strings(states)
	if len(states) == 0 {
		states = []string{"none"}
	}
	return fmt.Sprintf("pods pending=%d bound=%d running=%d | nodeclaims %d (launched %d, registered %d, initialized %d) | nodes %d | VMs %s",
		s.pending, s.bound, s.running, s.claims, s.launched, s.registered, s.initialized, s.nodes, strings.Join(states, " "))
}

func (d *demo) scaledUp(s *snapshot) bool {
	return s.running == int(d.replicas) && s.pending == 0 && s.claims > 0 && s.initialized == s.claims
}

func (d *demo) scaledDown(s *snapshot) bool {
	live := 0
	for st, n := range s.vmStates {
		if st != simulator.StateDestroyed && st != simulator.StateExpunging && st != simulator.StateError {
			live += n
		}
	}
	return s.claims == 0 && s.nodes == 0 && live == 0 && s.pending+s.bound+s.running == 0
}

// watch prints a progress line whenever the picture changes, until done says so.
func (d *demo) watch(ctx context.Context, done func(*snapshot) bool) error {
	for {
		s, err := d.observe(ctx)
		if err != nil {
			return err
		}
		if line := s.String(); line != d.last {
			d.say("%s", line)
			d.last = line
		}
		if done(s) {
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func (d *demo) summary(ctx context.Context) error {
	s, err := d.observe(ctx)
	if err != nil {
		return err
	}
	vmByID := map[string]simulator.VM{}
	for _, vm := range s.vms {
		vmByID[vm.ID] = vm
	}
	d.say("summary:")
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODECLAIM\tINSTANCE TYPE\tZONE\tVM\tVM STATE\tOFFERING\tNODE\tPODS")
	sort.Slice(s.nodeClaims, func(i, j int) bool { return s.nodeClaims[i].Name < s.nodeClaims[j].Name })
	for _, nc := range s.nodeClaims {
		id, _ := v1.ParseProviderID(nc.Status.ProviderID)
		vm := vmByID[id]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", nc.Name, nc.Labels[corev1.LabelInstanceTypeStable], nc.Labels[corev1.LabelTopologyZone],
			id, vm.State, vm.ServiceOfferingName, nc.Status.NodeName, s.podsByNode[nc.Status.NodeName])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	d.say("%d pods running on %d nodes, one VM per NodeClaim", s.running, len(s.nodeClaims))
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}

// sayLogger turns the environment's progress messages into demo lines.
func sayLogger(d *demo) *slog.Logger { return slog.New(&sayHandler{d: d}) }

type sayHandler struct {
	d     *demo
	attrs []slog.Attr
}

func (h *sayHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *sayHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " (%s %s)", a.Key, a.Value)
		return true
	})
	h.d.say("%s", b.String())
	return nil
}

func (h *sayHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sayHandler{d: h.d, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *sayHandler) WithGroup(string) slog.Handler { return h }
