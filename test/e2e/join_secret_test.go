package e2e_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

// The kubeadm join token lives in a Secret the NodeClass references: it reaches the VM's userData at launch and no
// object, event or log line of the cluster.
var _ = Describe("Join credentials from a Secret", func() {
	It("launches a node whose userData carries the Secret's token, which appears in no NodeClass, status, event or log", func() {
		// A token as `kubeadm token create` prints it, unique to this run so nothing else can contain it by chance.
		token := fmt.Sprintf("j%05d.%016x", GinkgoRandomSeed()%100000, uint64(GinkgoRandomSeed())*2654435761)
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "join", Namespace: namespace},
			StringData: map[string]string{"token": token, "endpoint": "10.0.0.10:6443", "ca-cert-hash": "sha256:" + strings.Repeat("ab", 32)}}
		nc := nodeClass("join-secret", []string{"zone-a"}, "k8s.small")
		nc.Spec.UserData = lo.ToPtr(strings.Replace(userData,
			"kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-unsafe-skip-ca-verification",
			"kubeadm join {{ .Secret.endpoint }} --token {{ .Secret.token }} --discovery-token-ca-cert-hash {{ index .Secret \"ca-cert-hash\" }}", 1))
		Expect(*nc.Spec.UserData).To(ContainSubstring(".Secret.token"))
		nc.Spec.UserDataSecretRef = &v1.SecretReference{Namespace: namespace, Name: secret.Name}
		np := nodePool("join-secret", nc.Name)
		dep := deployment("join-secret", np.Name, 1, "500m")
		create(secret, nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc, client.Object(secret))

		claim := expectInitialized(np.Name, 1)[0]
		vm, ok := vmOf(claim, clusterVMs())
		Expect(ok).To(BeTrue())
		rendered, err := nodeagent.DecodeUserData(vm.UserData)
		Expect(err).NotTo(HaveOccurred())
		Expect(rendered).To(ContainSubstring("kubeadm join 10.0.0.10:6443 --token "+token+" "), "the VM got the Secret's token at launch")

		// Everything a reader of the cluster sees, and what the controller logged (at debug level) meanwhile.
		var seen []string
		for _, list := range []client.ObjectList{&v1.CloudStackNodeClassList{}, &karpv1.NodeClaimList{}, &karpv1.NodePoolList{}, &corev1.NodeList{}, &corev1.EventList{}} {
			Expect(env.Client.List(ctx, list)).To(Succeed())
			raw, err := json.Marshal(list)
			Expect(err).NotTo(HaveOccurred())
			seen = append(seen, string(raw))
		}
		log, err := os.ReadFile(env.LogFile("controller"))
		Expect(err).NotTo(HaveOccurred())
		seen = append(seen, string(log))
		Expect(strings.Join(seen, "\n")).To(ContainSubstring(claim.Name), "the NodeClaim is among what was read")
		for _, text := range seen {
			Expect(strings.Contains(text, token)).To(BeFalse(), "the join token leaked: %s", excerpt(text, token))
		}
	})
})

// excerpt shows where s contains needle, for a failure message that does not dump a whole log.
func excerpt(s, needle string) string {
	i := strings.Index(s, needle)
	if i < 0 {
		return ""
	}
	return s[max(0, i-300):min(len(s), i+len(needle)+100)]
}
