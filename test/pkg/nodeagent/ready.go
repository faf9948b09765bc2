package nodeagent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// reportReady posts Ready again on a node whose Ready condition is not True: the node-lifecycle controller marks a
// node Unknown when its Lease lapses (the agent was starved, as a kubelet cut off from the API server would be), and
// a kubelet that is back posts its status. Without that the node stayed NotReady for good, and Karpenter could
// neither use nor consolidate it (seen in a 200-node chaos run, docs/reliability.md).
func (a *Agent) reportReady(ctx context.Context, node *corev1.Node) error {
	kept := make([]corev1.NodeCondition, 0, len(node.Status.Conditions))
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			continue
		}
		kept = append(kept, c)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node = node.DeepCopy()
	node.Status.Conditions = append(kept, ReadyCondition(a.now()))
	if err := a.kube.Status().Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("posting the Ready status of node %s, %w", node.Name, err)
	}
	a.log.Info("posted Ready again", "node", node.Name)
	return nil
}
