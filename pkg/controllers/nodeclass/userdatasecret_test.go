package nodeclass_test

import (
	"encoding/json"
	"strings"

	"github.com/awslabs/operatorpkg/status"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	. "sigs.k8s.io/karpenter/pkg/test/expectations"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
)

// joinToken is a kubeadm bootstrap token as `kubeadm token create` prints it.
const joinToken = "q7x2mz.5b0f3c9d1e8a4f27"

var _ = Describe("spec.userDataSecretRef", func() {
	withSecretRef := func(userData, name string) *v1.CloudStackNodeClass {
		return newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.UserData = lo.ToPtr(userData)
			nc.Spec.UserDataSecretRef = &v1.SecretReference{Namespace: "default", Name: name}
		})
	}
	createSecret := func(name string, data map[string]string) {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, StringData: data}
		Expect(env.Client.Create(ctx, secret)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(env.Client.Delete(ctx, secret))).To(Succeed()) })
	}
	// visible is everything about the NodeClass a user with read access sees: the object with its status and
	// annotations, and the events the controller emitted.
	visible := func(nc *v1.CloudStackNodeClass) string {
		raw, err := json.Marshal(nc)
		Expect(err).NotTo(HaveOccurred())
		texts := []string{string(raw)}
		for _, e := range recorder.Events() {
			texts = append(texts, e.Reason+": "+e.Message)
		}
		return strings.Join(texts, "\n")
	}

	It("is Ready when the Secret has every key the template reads, and its values appear nowhere in the NodeClass", func() {
		createSecret("join", map[string]string{"token": joinToken, "endpoint": "10.0.0.10:6443"})
		nc := withSecretRef("#!/bin/sh\nkubeadm join {{ .Secret.endpoint }} --token {{ .Secret.token }} {{ shellquote .KubeletArgsList }}\n", "join")
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		Expect(condition(nc, v1.ConditionTypeUserDataReady).IsTrue()).To(BeTrue(), "%v", nc.Status.Conditions)
		Expect(condition(nc, status.ConditionReady).IsTrue()).To(BeTrue())
		Expect(visible(nc)).NotTo(ContainSubstring(joinToken))
	})

	It("does not drift nodes when the Secret's values change: they are not part of the hash", func() {
		createSecret("join", map[string]string{"token": joinToken})
		nc := withSecretRef("#!/bin/sh\nkubeadm join --token {{ .Secret.token }}\n", "join")
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		hash := nc.Annotations[v1.AnnotationNodeClassHash]
		secret := &corev1.Secret{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "join"}, secret)).To(Succeed())
		secret.Data["token"] = []byte("r8y3na.6c1a4d0e2f9b5a38")
		Expect(env.Client.Update(ctx, secret)).To(Succeed())
		nc = reconcileNodeClass(nc)
		Expect(nc.Annotations).To(HaveKeyWithValue(v1.AnnotationNodeClassHash, hash))
		Expect(condition(nc, v1.ConditionTypeUserDataReady).IsTrue()).To(BeTrue())
	})

	DescribeTable("reports what is wrong with the reference, naming the field and the fix, and no value",
		func(reason, message string, userData, secretName string) {
			createSecret("join", map[string]string{"token": joinToken})
			nc := withSecretRef(userData, secretName)
			ExpectApplied(ctx, env.Client, nc)
			nc = reconcileNodeClass(nc)
			cond := condition(nc, v1.ConditionTypeUserDataReady)
			Expect(cond.IsFalse()).To(BeTrue(), "%v", nc.Status.Conditions)
			Expect(cond.Reason).To(Equal(reason))
			Expect(cond.Message).To(Equal(message))
			Expect(condition(nc, status.ConditionReady).IsFalse()).To(BeTrue())
			Expect(visible(nc)).NotTo(ContainSubstring(joinToken))
		},
		Entry("a Secret that does not exist", userdatasecret.ReasonNotFound,
			"spec.userDataSecretRef: Secret default/joni does not exist; create it (kubectl create secret generic joni -n default "+
				"--from-literal=<key>=<value>) or fix the reference",
			"kubeadm join --token {{ .Secret.token }}", "joni"),
		Entry("a key the Secret does not have", nodeclass.ReasonUserDataTemplateInvalid,
			`spec.userData is not a valid template, template: spec.userData:1:31: executing "spec.userData" at <.Secret.tokne>: map has no entry for key "tokne"`,
			"kubeadm join --token {{ .Secret.tokne }}", "join"),
	)

	It("says .Secret needs a reference when the template reads it without one", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.UserData = lo.ToPtr("kubeadm join --token {{ .Secret.token }}")
		})
		ExpectApplied(ctx, env.Client, nc)
		nc = reconcileNodeClass(nc)
		cond := condition(nc, v1.ConditionTypeUserDataReady)
		Expect(cond.Reason).To(Equal(nodeclass.ReasonUserDataTemplateInvalid))
		Expect(cond.Message).To(HaveSuffix("; .Secret has no keys without spec.userDataSecretRef"))
	})

	It("is refused at admission without spec.userData", func() {
		nc := newNodeClass(func(nc *v1.CloudStackNodeClass) {
			nc.Spec.UserData = nil
			nc.Spec.UserDataSecretRef = &v1.SecretReference{Namespace: "default", Name: "join"}
		})
		err := env.Client.Create(ctx, nc)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.userDataSecretRef is only read by a spec.userData template"))
	})
})
