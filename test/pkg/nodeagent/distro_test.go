package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

// flags is a rendered .KubeletArgs, shortened to what these specs check.
const flags = "--register-with-taints=karpenter.sh/unregistered:NoExecute --node-labels=karpenter.sh/nodepool=default --max-pods=58"

// Where a recipe puts the kubelet flags decides which images see them: the kubeadm packages' drop-in reads
// /etc/default/kubelet on Debian-family images and /etc/sysconfig/kubelet on RHEL-family ones.
var _ = Describe("Reading the kubelet's settings as a Debian- or a RHEL-family image does", func() {
	dropIn := "#cloud-config\nwrite_files:\n" +
		"  - path: /etc/systemd/system/kubelet.service.d/20-karpenter.conf\n    content: |\n      [Service]\n      EnvironmentFile=/etc/kubernetes/karpenter-kubelet.env\n" +
		"  - path: /etc/kubernetes/karpenter-kubelet.env\n    content: |\n      KUBELET_EXTRA_ARGS=" + flags + "\n"
	envFile := func(path string) string {
		return "#cloud-config\nwrite_files:\n  - path: " + path + "\n    content: |\n      KUBELET_EXTRA_ARGS=" + flags + "\n"
	}
	DescribeTable("sees the flags only where the distribution's kubelet unit reads them",
		func(userData string, debian, rhel bool) {
			for distro, wantFlags := range map[nodeagent.Distro]bool{nodeagent.Debian: debian, nodeagent.RHEL: rhel} {
				cfg, err := nodeagent.ReadKubeletConfig(userData, distro)
				if !wantFlags {
					Expect(err).To(MatchError(ContainSubstring("the kubelet gets no --register-with-taints flag")), distro.Name)
					continue
				}
				Expect(err).NotTo(HaveOccurred(), distro.Name)
				Expect(cfg.Taints).To(Equal([]corev1.Taint{karpv1.UnregisteredNoExecuteTaint}), distro.Name)
				Expect(cfg.MaxPods).To(BeEquivalentTo(58), distro.Name)
			}
		},
		Entry("a drop-in with its own EnvironmentFile (the documented recipe): both", dropIn, true, true),
		Entry("/etc/default/kubelet: Debian only", envFile("/etc/default/kubelet"), true, false),
		Entry("/etc/sysconfig/kubelet: RHEL only", envFile("/etc/sysconfig/kubelet"), false, true),
		Entry("Environment= in a drop-in: neither, the package's environment file sets KUBELET_EXTRA_ARGS= over it",
			"#cloud-config\nwrite_files:\n  - path: /etc/systemd/system/kubelet.service.d/20-karpenter.conf\n    content: |\n"+
				"      [Service]\n      Environment=\"KUBELET_EXTRA_ARGS="+flags+"\"\n", false, false),
		Entry("a drop-in that sorts before 10-kubeadm.conf: neither, the package's file is read after it",
			strings.ReplaceAll(dropIn, "20-karpenter.conf", "05-karpenter.conf"), false, false),
		Entry("a shell script that starts the kubelet itself: both", "#!/bin/sh\nexec kubelet "+flags+"\n", true, true),
	)

	It("takes the family from the template's OS type", func() {
		for osType, want := range map[string]nodeagent.Distro{
			"Ubuntu 24.04 LTS": nodeagent.Debian, "Debian GNU/Linux 12 (64-bit)": nodeagent.Debian, "Other Linux (64-bit)": nodeagent.Debian,
			"Rocky Linux 9": nodeagent.RHEL, "Red Hat Enterprise Linux 9.0": nodeagent.RHEL, "AlmaLinux 9": nodeagent.RHEL, "CentOS Stream 9": nodeagent.RHEL,
		} {
			Expect(nodeagent.DistroOf(osType)).To(Equal(want), osType)
		}
	})

	It("refuses a kubelet unit that needs an environment file nothing writes", func() {
		_, err := nodeagent.KubeletCommandLine(strings.Replace(dropIn, "  - path: /etc/kubernetes/karpenter-kubelet.env", "  - path: /etc/kubernetes/elsewhere.env", 1), nodeagent.Debian)
		Expect(err).To(MatchError(ContainSubstring("EnvironmentFile /etc/kubernetes/karpenter-kubelet.env")))
	})
})

// Every NodeClass in examples/ is complete: its userData, rendered with examples/join-secret.yaml's values, joins a
// node on both image families, with the kubelet reservations the instance types were computed with.
var _ = Describe("The examples' userData", func() {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "examples", "nodeclass-*.yaml"))
	It("covers every NodeClass example", func() { Expect(files).To(HaveLen(2)) })

	secret := func() map[string]string {
		raw, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "join-secret.yaml"))
		Expect(err).NotTo(HaveOccurred())
		s := &corev1.Secret{}
		Expect(yaml.UnmarshalStrict(raw, s)).To(Succeed())
		return s.StringData
	}
	for _, file := range files {
		It("joins a node on Debian- and RHEL-family images: "+filepath.Base(file), func() {
			raw, err := os.ReadFile(file)
			Expect(err).NotTo(HaveOccurred())
			nc := &v1.CloudStackNodeClass{}
			Expect(yaml.UnmarshalStrict(raw, nc)).To(Succeed())
			Expect(nc.Spec.UserData).NotTo(BeNil(), "an example NodeClass without userData becomes Ready, but its VMs never join")
			Expect(nc.Spec.UserDataSecretRef).To(Equal(&v1.SecretReference{Namespace: "kube-system", Name: "karpenter-join"}))
			nodeClaim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", Labels: map[string]string{karpv1.NodePoolLabelKey: "default"}}}
			for _, shape := range []kubelet.Shape{{CPU: 2, MemoryMiB: 4096}, {CPU: 16, MemoryMiB: 65536}} {
				values := bootstrap.NewValues("prod", nc, nodeClaim, shape)
				values.Secret = secret()
				encoded, err := bootstrap.Generate(nc, values, bootstrap.DefaultMaxLength)
				Expect(err).NotTo(HaveOccurred())
				userData, err := nodeagent.DecodeUserData(encoded)
				Expect(err).NotTo(HaveOccurred())
				Expect(userData).To(ContainSubstring("kubeadm join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:"))
				want := kubelet.For(shape, nc.Spec.Kubelet)
				for _, distro := range []nodeagent.Distro{nodeagent.Debian, nodeagent.RHEL} {
					cfg, err := nodeagent.ReadKubeletConfig(userData, distro)
					Expect(err).NotTo(HaveOccurred(), distro.Name)
					reg, err := nodeagent.NewRegistration(cfg, nodeagent.Metadata{InstanceID: "1f0c6a52-vm", LocalHostname: nodeClaim.Name})
					Expect(err).NotTo(HaveOccurred(), distro.Name)
					Expect(reg.ProviderID).To(Equal("cloudstack:///1f0c6a52-vm"), distro.Name)
					Expect(reg.Taints).To(ContainElement(karpv1.UnregisteredNoExecuteTaint), distro.Name)
					Expect(cfg.MaxPods).To(BeEquivalentTo(want.MaxPods), distro.Name)
					Expect(cfg.KubeReserved).To(Equal(quantities(want.KubeReserved)), distro.Name)
					Expect(cfg.SystemReserved).To(Equal(quantities(want.SystemReserved)), distro.Name)
					Expect(cfg.EvictionHard).To(Equal(want.EvictionHard), distro.Name)
				}
			}
		})
	}
})

// quantities is a reservation as the agent parses it: nil when the flag is not passed.
func quantities(m map[string]string) corev1.ResourceList {
	if len(m) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for k, v := range m {
		out[corev1.ResourceName(k)] = resource.MustParse(v)
	}
	return out
}
