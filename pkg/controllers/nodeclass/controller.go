package nodeclass

import (
	"context"
	stderrors "errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"
	"go.uber.org/multierr"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/diskoffering"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/project"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// RequeueInterval is how often a NodeClass is re-resolved even without changes: CloudStack has no watch API, so
// this bounds how long a deleted template or a newly tagged network goes unnoticed. The providers' one-minute
// caches make most re-resolutions free.
const RequeueInterval = time.Minute

// finalizeRequeueInterval re-checks a deleting NodeClass; NodeClaim deletions also trigger a reconcile at once.
const finalizeRequeueInterval = 30 * time.Second

// Providers are the CloudStack look-ups the controller resolves a NodeClass with.
type Providers struct {
	Zones            zone.Provider
	Networks         network.Provider
	Templates        template.Provider
	ServiceOfferings instancetype.Provider
	SSHKeyPairs      sshkeypair.Provider
	AffinityGroups   affinitygroup.Provider
	SecurityGroups   securitygroup.Provider
	DiskOfferings    diskoffering.Provider
	// Projects checks the controller's project setting; nil means no project is configured.
	Projects project.Provider
	// UserDataSecrets reads spec.userDataSecretRef. Nil reads through the controller's kubeClient, which suits an
	// uncached test client; the operator passes one reading through the manager's APIReader.
	UserDataSecrets userdatasecret.Provider
}

// subReconciler resolves one dependency: it writes its status fields and its condition, and returns an error only
// when CloudStack could not be asked (then it leaves status untouched, so an API outage does not flap Ready).
type subReconciler interface {
	reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error
}

// Controller reconciles CloudStackNodeClasses.
type Controller struct {
	kubeClient client.Client
	recorder   events.Recorder
	clock      clock.Clock
	// Order matters: networks, templates and offerings are resolved in the zones the zone step just wrote.
	steps []subReconciler
}

// NewController returns the NodeClass controller.
func NewController(kubeClient client.Client, recorder events.Recorder, clk clock.Clock, p Providers) *Controller {
	return &Controller{
		kubeClient: kubeClient,
		recorder:   recorder,
		clock:      clk,
		steps: []subReconciler{
			&projectStep{provider: p.Projects},
			&zones{provider: p.Zones},
			&networks{provider: p.Networks},
			&templates{provider: p.Templates},
			&serviceOfferings{provider: p.ServiceOfferings},
			// Before userData: a template may read .DataDisks, which the validation renders from this status.
			&dataDisks{provider: p.DiskOfferings},
			&userData{secrets: lo.Ternary[userdatasecret.Provider](p.UserDataSecrets != nil, p.UserDataSecrets, userdatasecret.NewDefaultProvider(kubeClient))},
			&sshKeyPair{provider: p.SSHKeyPairs},
			&affinityGroups{provider: p.AffinityGroups},
			&securityGroups{provider: p.SecurityGroups, zones: p.Zones},
		},
	}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "nodeclass" }

// Reconcile resolves the NodeClass and patches its metadata and status, each at most once.
func (c *Controller) Reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if !nodeClass.GetDeletionTimestamp().IsZero() {
		return c.finalize(ctx, nodeClass)
	}

	stored := nodeClass.DeepCopy()
	controllerutil.AddFinalizer(nodeClass, v1.TerminationFinalizer)
	nodeClass.Annotations = lo.Assign(nodeClass.Annotations, map[string]string{
		v1.AnnotationNodeClassHash:        nodeClass.Hash(),
		v1.AnnotationNodeClassHashVersion: v1.NodeClassHashVersion,
	})
	if !equality.Semantic.DeepEqual(stored.ObjectMeta, nodeClass.ObjectMeta) {
		// The optimistic lock keeps a concurrent writer's finalizers: a merge patch replaces the whole list.
		if err := c.kubeClient.Patch(ctx, nodeClass, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
			if errors.IsConflict(err) {
				return reconcile.Result{Requeue: true}, nil
			}
			return reconcile.Result{}, client.IgnoreNotFound(fmt.Errorf("adding finalizer and hash annotations, %w", err))
		}
		// The patch returned the new resourceVersion; status must be diffed from this object, not the old one.
		stored = nodeClass.DeepCopy()
	}

	// Built once, so that every dependent exists (Unknown) before the steps set theirs.
	conds := nodeClass.StatusConditions(status.WithClock(c.clock))
	var errs error
	for _, step := range c.steps {
		err := step.reconcile(ctx, nodeClass, conds)
		if stderrors.Is(err, errProjectUnusable) {
			// ProjectReady=False already says why; the later steps could only repeat it.
			break
		}
		if err != nil {
			errs = multierr.Append(errs, err)
			c.recorder.Publish(resolutionFailedEvent(nodeClass, err))
		}
	}
	boundConditionMessages(nodeClass)
	explainReady(conds)
	boundConditionMessages(nodeClass)
	c.publishNewFailures(stored, nodeClass)

	if !equality.Semantic.DeepEqual(stored.Status, nodeClass.Status) {
		// Conditions are a list too: the optimistic lock turns a lost update into a conflict and a retry.
		if err := c.kubeClient.Status().Patch(ctx, nodeClass, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
			if errors.IsConflict(err) {
				return reconcile.Result{Requeue: true}, nil
			}
			errs = multierr.Append(errs, client.IgnoreNotFound(fmt.Errorf("patching nodeclass status, %w", err)))
		}
	}
	if errs != nil {
		return reconcile.Result{}, errs
	}
	return reconcile.Result{RequeueAfter: RequeueInterval}, nil
}

// explainReady puts the failing dependents' own messages into Ready's. operatorpkg only lists their types
// ("TemplatesReady=False"), yet Ready is what users, kubectl and the NodePool look at first, so it must say what
// is wrong (which template, which zone).
func explainReady(conds status.ConditionSet) {
	ready := conds.Root()
	if ready == nil || ready.IsTrue() {
		return
	}
	var parts []string
	for _, cond := range conds.List() {
		if cond.Type == status.ConditionReady || cond.IsTrue() || !conds.IsDependentCondition(cond.Type) {
			continue
		}
		part := fmt.Sprintf("%s=%s", cond.Type, cond.Status)
		if cond.Message != "" {
			part += ": " + cond.Message
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return
	}
	conds.Set(status.Condition{Type: status.ConditionReady, Status: ready.Status, Reason: ready.Reason, Message: strings.Join(parts, "; ")})
}

// publishNewFailures emits one Warning event per dependent condition that became False (or changed its reason or
// message while False) in this reconcile, so events mark transitions rather than repeat every minute.
func (c *Controller) publishNewFailures(stored, nodeClass *v1.CloudStackNodeClass) {
	before := stored.StatusConditions(status.WithObservedOnly())
	for _, cond := range nodeClass.StatusConditions(status.WithObservedOnly()).List() {
		if cond.Type == status.ConditionReady || !cond.IsFalse() {
			continue
		}
		if old := before.Get(cond.Type); old != nil && old.IsFalse() && old.Reason == cond.Reason && old.Message == cond.Message {
			continue
		}
		c.recorder.Publish(conditionFalseEvent(nodeClass, cond.Type, cond.Reason, cond.Message))
	}
}

// finalize removes the termination finalizer once no NodeClaim references the NodeClass any more. The VMs of those
// NodeClaims are launched from this NodeClass's resolved state; deleting it first would strand them.
func (c *Controller) finalize(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(nodeClass, v1.TerminationFinalizer) {
		return reconcile.Result{}, nil
	}
	names, err := c.nodeClaimsUsing(ctx, nodeClass.Name)
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(names) > 0 {
		c.recorder.Publish(waitingOnNodeClaimsEvent(nodeClass, names))
		return reconcile.Result{RequeueAfter: finalizeRequeueInterval}, nil
	}
	stored := nodeClass.DeepCopy()
	controllerutil.RemoveFinalizer(nodeClass, v1.TerminationFinalizer)
	if err := c.kubeClient.Patch(ctx, nodeClass, client.MergeFromWithOptions(stored, client.MergeFromWithOptimisticLock{})); err != nil {
		if errors.IsConflict(err) {
			return reconcile.Result{Requeue: true}, nil
		}
		return reconcile.Result{}, client.IgnoreNotFound(fmt.Errorf("removing termination finalizer, %w", err))
	}
	return reconcile.Result{}, nil
}

// nodeClaimsUsing lists the NodeClaims whose nodeClassRef points at the named CloudStackNodeClass, sorted. It
// filters in memory rather than through a field index so that it works with any client the operator hands in.
func (c *Controller) nodeClaimsUsing(ctx context.Context, name string) ([]string, error) {
	list := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing nodeclaims, %w", err)
	}
	var names []string
	for i := range list.Items {
		if usesNodeClass(&list.Items[i], name) {
			names = append(names, list.Items[i].Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func usesNodeClass(nc *karpv1.NodeClaim, name string) bool {
	ref := nc.Spec.NodeClassRef
	return ref != nil && ref.Group == apis.Group && ref.Kind == v1.NodeClassKind && ref.Name == name
}

// Register wires the controller into the manager: NodeClass changes, and deletions of the NodeClaims that use
// one (a deleting NodeClass waits for them), trigger a reconcile.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&v1.CloudStackNodeClass{}).
		Watches(&karpv1.NodeClaim{},
			handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
				nc := o.(*karpv1.NodeClaim)
				if nc.Spec.NodeClassRef == nil || nc.Spec.NodeClassRef.Group != apis.Group {
					return nil
				}
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: nc.Spec.NodeClassRef.Name}}}
			}),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(event.UpdateEvent) bool { return false },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			}),
		).
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
