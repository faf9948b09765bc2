package nodeagent_test

import (
	"context"
	"io"
	"log/slog"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

type staticVMs []simulator.VM

func (s staticVMs) VirtualMachines(context.Context) ([]simulator.VM, error) { return s, nil }

var _ = Describe("A node the node-lifecycle controller marked Unknown", func() {
	It("is reported Ready again by the next pass, as a kubelet that is back posts its status", func() {
		ctx := context.Background()
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{nodeagent.AnnotationVMID: "vm-1"}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
				Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status."}}},
		}
		kube := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(node).WithStatusSubresource(&corev1.Node{}).Build()
		vms := staticVMs{{ID: "vm-1", Name: "n1", State: simulator.StateRunning, Tags: map[string]string{v1.TagKeyCluster: "c"}}}
		agent := nodeagent.New(kube, vms, "c", time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
		// The fake client refuses the pods' spec.nodeName!= field selector that the API server serves; the node's
		// status is posted before the pods are listed, so only that error may come back.
		if err := agent.Sync(ctx); err != nil {
			Expect(err).To(MatchError(ContainSubstring("listing pods")))
		}
		Expect(kube.Get(ctx, client.ObjectKeyFromObject(node), node)).To(Succeed())
		Expect(node.Status.Conditions).To(ContainElement(And(HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
		Expect(node.Status.Conditions).To(HaveLen(1))
	})
})
