// Package providerid tells the operator at once when a Node can never match its NodeClaim because something other
// than the kubelet's --provider-id gave it its providerID. Karpenter core matches a Node to its NodeClaim by the
// exact spec.providerID string, and a Node's providerID is immutable once set. The CloudStack cloud-controller-manager
// (apache/cloudstack-kubernetes-provider) sets external-cloudstack://<vm-uuid> on nodes that registered without
// one, while this provider's NodeClaims carry cloudstack:///<vm-uuid>: such a node never registers, and the NodeClaim
// would only time out after 15 minutes and be replaced by another that fails the same way. This controller makes
// that unsupported setup fail loudly, with the fix, on the Node and on the NodeClaim.
package providerid

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	controllerruntime "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// A node with a CCM-set providerID and no NodeClaim of that VM yet is checked again every unmatchedRecheckInterval
// for registrationWindow, Karpenter's registration TTL, after which its NodeClaim would be gone anyway.
const (
	unmatchedRecheckInterval = 5 * time.Second
	registrationWindow       = 15 * time.Minute
)

// ReasonProviderIDMismatch is the reason of the Warning events this controller publishes.
const ReasonProviderIDMismatch = "ProviderIDMismatch"

// Controller warns about Nodes whose providerID names one of this cluster's VMs in another format than the
// NodeClaim's.
type Controller struct {
	kubeClient client.Client
	recorder   events.Recorder
}

// NewController returns the controller.
func NewController(kubeClient client.Client, recorder events.Recorder) *Controller {
	return &Controller{kubeClient: kubeClient, recorder: recorder}
}

// Name is the controller's name in logs and metrics.
func (c *Controller) Name() string { return "node.providerid" }

// Reconcile checks one Node.
func (c *Controller) Reconcile(ctx context.Context, node *corev1.Node) (reconcile.Result, error) {
	ctx = injection.WithControllerName(ctx, c.Name())
	if node.Spec.ProviderID == "" || strings.HasPrefix(node.Spec.ProviderID, v1.ProviderIDPrefix) {
		return reconcile.Result{}, nil
	}
	id, err := v1.ParseProviderID(node.Spec.ProviderID)
	if err != nil {
		return reconcile.Result{}, nil // not a CloudStack node
	}
	want := v1.ProviderID(id)
	nodeClaims := &karpv1.NodeClaimList{}
	if err := c.kubeClient.List(ctx, nodeClaims, client.MatchingFields{"status.providerID": want}); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing nodeclaims, %w", err)
	}
	if len(nodeClaims.Items) == 0 {
		// A node may register before its NodeClaim records the providerID (the launch returns after the VM runs), and
		// NodeClaim changes do not trigger this controller: look again while the node is young enough for Karpenter
		// to still be waiting for it.
		if time.Since(node.CreationTimestamp.Time) < registrationWindow {
			return reconcile.Result{RequeueAfter: unmatchedRecheckInterval}, nil
		}
		return reconcile.Result{}, nil
	}
	msg := fmt.Sprintf("Node %s has providerID %q but its NodeClaim %s expects %q, and Karpenter matches nodes by the exact providerID, "+
		"so this node will never register. A cloud-controller-manager sets %s<uuid> only on nodes that register without one: start the "+
		"kubelet with --provider-id=%s<instance-id> from the NodeClass's userData (the {{ .ProviderIDPrefix }} variable, docs/bootstrap.md); "+
		"the CCM keeps a providerID the kubelet set.",
		node.Name, node.Spec.ProviderID, nodeClaims.Items[0].Name, want, v1.ProviderIDPrefixCCM, v1.ProviderIDPrefix)
	log.FromContext(ctx).Error(fmt.Errorf("providerID mismatch"), msg, "node", node.Name, "nodeclaim", nodeClaims.Items[0].Name)
	for _, obj := range []client.Object{node, &nodeClaims.Items[0]} {
		c.recorder.Publish(events.Event{InvolvedObject: obj, Type: corev1.EventTypeWarning, Reason: ReasonProviderIDMismatch, Message: msg,
			DedupeValues: []string{string(obj.GetUID())}, DedupeTimeout: 10 * time.Minute})
	}
	return reconcile.Result{}, nil
}

// Register watches Nodes.
func (c *Controller) Register(_ context.Context, m manager.Manager) error {
	return controllerruntime.NewControllerManagedBy(m).
		Named(c.Name()).
		For(&corev1.Node{}).
		Complete(reconcile.AsReconciler(m.GetClient(), c))
}
