package providerid_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	coretest "sigs.k8s.io/karpenter/pkg/test"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/node/providerid"
)

func TestProviderID(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ProviderID")
}

const vmID = "0b1c2d3e-0000-4000-8000-000000000001"

// A fake client is enough here: the controller reads two objects; the e2e suite runs it against a real cluster and
// the simulated CCM.
var _ = DescribeTable("warns about a node whose providerID its NodeClaim cannot match",
	func(nodeProviderID, claimProviderID string, warned bool) {
		claim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", UID: "claim-uid"}, Status: karpv1.NodeClaimStatus{ProviderID: claimProviderID}}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", UID: "node-uid"}, Spec: corev1.NodeSpec{ProviderID: nodeProviderID}}
		kube := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(claim, node).
			WithIndex(&karpv1.NodeClaim{}, "status.providerID", func(o client.Object) []string { return []string{o.(*karpv1.NodeClaim).Status.ProviderID} }).
			Build()
		recorder := coretest.NewEventRecorder()
		_, err := providerid.NewController(kube, recorder).Reconcile(context.Background(), node)
		Expect(err).NotTo(HaveOccurred())
		if !warned {
			Expect(recorder.Events()).To(BeEmpty())
			return
		}
		Expect(recorder.Calls(providerid.ReasonProviderIDMismatch)).To(Equal(2), "one event on the Node, one on the NodeClaim")
		for _, e := range recorder.Events() {
			Expect(e.Type).To(Equal(corev1.EventTypeWarning))
			Expect(e.Message).To(ContainSubstring(`"external-cloudstack://` + vmID + `"`))
			Expect(e.Message).To(ContainSubstring(`"cloudstack:///` + vmID + `"`))
			Expect(e.Message).To(ContainSubstring("--provider-id="))
		}
	},
	Entry("set by the CCM for one of our VMs", "external-cloudstack://"+vmID, "cloudstack:///"+vmID, true),
	Entry("set by the kubelet as the NodeClaim says", "cloudstack:///"+vmID, "cloudstack:///"+vmID, false),
	Entry("no providerID yet", "", "cloudstack:///"+vmID, false),
	Entry("a CCM-set ID of a VM no NodeClaim launched", "external-cloudstack://"+vmID, "cloudstack:///another", false),
	Entry("another cloud's node", "aws:///us-east-1a/i-0123", "cloudstack:///"+vmID, false),
)

var _ = It("looks again at a young node whose NodeClaim does not record its providerID yet", func() {
	claim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", UID: "claim-uid"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", UID: "node-uid", CreationTimestamp: metav1.Now()},
		Spec: corev1.NodeSpec{ProviderID: "external-cloudstack://" + vmID}}
	kube := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(claim, node).
		WithIndex(&karpv1.NodeClaim{}, "status.providerID", func(o client.Object) []string { return []string{o.(*karpv1.NodeClaim).Status.ProviderID} }).
		Build()
	recorder := coretest.NewEventRecorder()
	c := providerid.NewController(kube, recorder)
	result, err := c.Reconcile(context.Background(), node)
	Expect(err).NotTo(HaveOccurred())
	Expect(result.RequeueAfter).To(BeNumerically(">", 0), "the launch has not recorded the providerID yet")
	Expect(recorder.Events()).To(BeEmpty())

	claim.Status.ProviderID = "cloudstack:///" + vmID
	Expect(kube.Update(context.Background(), claim)).To(Succeed())
	_, err = c.Reconcile(context.Background(), node)
	Expect(err).NotTo(HaveOccurred())
	Expect(recorder.Calls(providerid.ReasonProviderIDMismatch)).To(Equal(2))
})
