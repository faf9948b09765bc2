package chaos

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
)

// observer lists NodeClaims and the workload's pods every second and keeps their history: when each NodeClaim
// appeared, became Initialized and went; when each pod was created and bound.
type observer struct {
	kube client.Client

	mu     sync.Mutex
	claims map[string]*claimHistory
	pods   map[types.UID]*podHistory
}

type claimHistory struct {
	firstSeen, initialized, deleted time.Time
	drifted                         bool
	// disruption is Karpenter's DisruptionReason (Empty, Underutilized, Drifted), when it chose to remove the node.
	disruption string
}

type podHistory struct {
	name           string
	created, bound time.Time
}

func newObserver(kube client.Client) *observer {
	return &observer{kube: kube, claims: map[string]*claimHistory{}, pods: map[types.UID]*podHistory{}}
}

func (o *observer) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		o.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *observer) poll(ctx context.Context) {
	now := time.Now()
	claims := &karpv1.NodeClaimList{}
	if err := o.kube.List(ctx, claims); err == nil {
		o.mu.Lock()
		seen := map[string]bool{}
		for i := range claims.Items {
			c := &claims.Items[i]
			seen[c.Name] = true
			h := o.claims[c.Name]
			if h == nil {
				h = &claimHistory{firstSeen: now}
				o.claims[c.Name] = h
			}
			if h.initialized.IsZero() && c.StatusConditions().Get(karpv1.ConditionTypeInitialized).IsTrue() {
				h.initialized = now
			}
			if c.StatusConditions().Get(karpv1.ConditionTypeDrifted).IsTrue() {
				h.drifted = true
			}
			if cond := c.StatusConditions().Get(karpv1.ConditionTypeDisruptionReason); cond.IsTrue() {
				h.disruption = cond.Reason
			}
			if h.deleted.IsZero() && c.DeletionTimestamp != nil {
				h.deleted = c.DeletionTimestamp.Time
			}
		}
		for name, h := range o.claims {
			if !seen[name] && h.deleted.IsZero() {
				h.deleted = now
			}
		}
		o.mu.Unlock()
	}
	pods := &corev1.PodList{}
	if err := o.kube.List(ctx, pods, client.InNamespace(namespace)); err == nil {
		o.mu.Lock()
		for i := range pods.Items {
			p := &pods.Items[i]
			h := o.pods[p.UID]
			if h == nil {
				h = &podHistory{name: p.Name, created: p.CreationTimestamp.Time}
				o.pods[p.UID] = h
			}
			if h.bound.IsZero() && p.Spec.NodeName != "" {
				h.bound = now
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
						h.bound = c.LastTransitionTime.Time
					}
				}
			}
		}
		o.mu.Unlock()
	}
}

// deletedBetween lists the NodeClaims whose deletion began in [from, to] for another reason than a disruption
// Karpenter chose (consolidating an empty or underused node, replacing a drifted one): what a controller deletes
// because the cloud looked empty or a launch looked impossible.
func (o *observer) deletedBetween(from, to time.Time) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for name, h := range o.claims {
		if !h.deleted.IsZero() && !h.deleted.Before(from) && !h.deleted.After(to) && h.disruption == "" {
			out = append(out, name)
		}
	}
	return out
}

// longestPendingPod is the longest time a pod waited from creation until it was bound; pods still unbound count
// until now.
func (o *observer) longestPendingPod() (time.Duration, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var longest time.Duration
	var which string
	for _, h := range o.pods {
		end := h.bound
		if end.IsZero() {
			continue
		}
		if d := end.Sub(h.created); d > longest {
			longest, which = d, h.name
		}
	}
	return longest, which
}

// claimSummary counts the NodeClaims seen, those never Initialized, and names those never Initialized that still
// exist.
func (o *observer) claimSummary() (seen, neverReady int, neverReadyAlive []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for name, h := range o.claims {
		seen++
		if h.initialized.IsZero() {
			neverReady++
			if h.deleted.IsZero() {
				neverReadyAlive = append(neverReadyAlive, name)
			}
		}
	}
	return seen, neverReady, neverReadyAlive
}
