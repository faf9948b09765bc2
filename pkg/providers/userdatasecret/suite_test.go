package userdatasecret_test

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
)

func TestUserDataSecret(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "UserDataSecret")
}

// Small unit specs of the error mapping; the real API server paths (NotFound in pkg/controllers/nodeclass,
// Forbidden under the chart's RBAC in test/chart, a launch in test/e2e) are tested where they run.
var _ = Describe("Get", func() {
	withRef := func(name string) *v1.CloudStackNodeClass {
		return &v1.CloudStackNodeClass{Spec: v1.CloudStackNodeClassSpec{UserDataSecretRef: &v1.SecretReference{Namespace: "kube-system", Name: name}}}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "join"}, Data: map[string][]byte{"token": []byte("abcdef.0123456789abcdef")}}

	It("returns the Secret's data as strings, and nil without a reference", func(ctx context.Context) {
		p := userdatasecret.NewDefaultProvider(fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(secret).Build())
		Expect(p.Get(ctx, withRef("join"))).To(Equal(map[string]string{"token": "abcdef.0123456789abcdef"}))
		Expect(p.Get(ctx, &v1.CloudStackNodeClass{})).To(BeNil())
	})

	DescribeTable("classifies what the API server answers",
		func(ctx context.Context, answer error, reason string) {
			c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					return answer
				},
			}).Build()
			_, err := userdatasecret.NewDefaultProvider(c).Get(ctx, withRef("join"))
			Expect(err).To(HaveOccurred())
			var secretErr *userdatasecret.Error
			if reason == "" {
				Expect(errors.As(err, &secretErr)).To(BeFalse(), "a transient failure is retried, not reported on the NodeClass")
				return
			}
			Expect(errors.As(err, &secretErr)).To(BeTrue())
			Expect(secretErr.Reason).To(Equal(reason))
			Expect(err.Error()).To(HavePrefix("spec.userDataSecretRef: "))
		},
		Entry("not found", apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "join"), userdatasecret.ReasonNotFound),
		Entry("forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "join", errors.New("RBAC")), userdatasecret.ReasonForbidden),
		Entry("the API server unavailable", apierrors.NewServiceUnavailable("etcd"), ""),
	)
})
