package bootstrap_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

func fixtureNodeClass() *v1.CloudStackNodeClass {
	return &v1.CloudStackNodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1.CloudStackNodeClassSpec{
			Kubelet: &v1.KubeletConfiguration{
				MaxPods:        lo.ToPtr[int32](58),
				KubeReserved:   map[string]string{"memory": "512Mi", "cpu": "100m"},
				SystemReserved: map[string]string{"memory": "256Mi"},
				EvictionHard:   map[string]string{"nodefs.available": "10%", "memory.available": "100Mi"},
			},
		},
		Status: v1.CloudStackNodeClassStatus{DataDisks: []v1.ResolvedDataDisk{
			{Name: "containerd", DiskOfferingID: "d1", SizeGiB: 100, DeviceID: 1},
			{Name: "logs", DiskOfferingID: "d2", SizeGiB: 20, DeviceID: 2},
		}},
	}
}

// fixtureShape is a 2 vCPU, 4 GiB VM: kube-reserved defaults to 70m of CPU and 1024Mi of memory.
var fixtureShape = kubelet.Shape{CPU: 2, MemoryMiB: 4096}

func fixtureNodeClaim() *karpv1.NodeClaim {
	return &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: "general-x7k2p",
			Labels: map[string]string{
				karpv1.NodePoolLabelKey:          "general",
				"team":                           "platform",
				"node-role.kubernetes.io/worker": "",
				"node.kubernetes.io/exclude-from-external-load-balancers": "true",
			},
		},
		Spec: karpv1.NodeClaimSpec{
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{
				{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"zone-a"}},
				{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{"small", "medium"}},
				{Key: karpv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{karpv1.CapacityTypeOnDemand}},
			},
			Taints:        []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
			StartupTaints: []corev1.Taint{{Key: "node.cilium.io/agent-not-ready", Effect: corev1.TaintEffectNoExecute}},
		},
	}
}

func decode(encoded string) string {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	Expect(err).ToNot(HaveOccurred())
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	Expect(err).ToNot(HaveOccurred())
	out, err := io.ReadAll(zr)
	Expect(err).ToNot(HaveOccurred())
	return string(out)
}

var _ = Describe("Values", func() {
	It("derives every variable from the NodeClass and the NodeClaim", func() {
		v := bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape)
		Expect(v.ClusterName).To(Equal("prod"))
		Expect(v.NodeClaimName).To(Equal("general-x7k2p"))
		Expect(v.NodePoolName).To(Equal("general"))
		Expect(v.NodeClassName).To(Equal("default"))
		Expect(v.ProviderIDPrefix).To(Equal("cloudstack:///"))
		Expect(v.DataDisks).To(Equal([]bootstrap.DataDisk{{Name: "containerd", DeviceID: 1, SizeGiB: 100}, {Name: "logs", DeviceID: 2, SizeGiB: 20}}))
		Expect(v.MaxPods).To(BeEquivalentTo(58))
		Expect(v.Labels).To(HaveKeyWithValue(corev1.LabelTopologyZone, "zone-a"))
		Expect(v.Labels).To(HaveKeyWithValue(karpv1.CapacityTypeLabelKey, karpv1.CapacityTypeOnDemand))
		Expect(v.Labels).ToNot(HaveKey(corev1.LabelInstanceTypeStable), "a multi-valued requirement is not a label yet")
		Expect(v.RegisterWithTaints).To(Equal("dedicated=gpu:NoSchedule,node.cilium.io/agent-not-ready:NoExecute,karpenter.sh/unregistered:NoExecute"))
		Expect(v.NodeLabels).To(Equal("karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=general," +
			"node.kubernetes.io/exclude-from-external-load-balancers=true,team=platform,topology.kubernetes.io/zone=zone-a"))
		Expect(v.KubeReserved).To(Equal("cpu=100m,ephemeral-storage=1Gi,memory=512Mi"), "spec.kubelet wins key by key over the defaults")
		Expect(v.SystemReserved).To(Equal("memory=256Mi"))
		Expect(v.EvictionHard).To(Equal("imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"))
		Expect(v.KubeletArgs).To(Equal("--register-with-taints=" + v.RegisterWithTaints + " --node-labels=" + v.NodeLabels +
			" --max-pods=58 --kube-reserved=cpu=100m,ephemeral-storage=1Gi,memory=512Mi --system-reserved=memory=256Mi" +
			" --eviction-hard=imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"))
	})
	It("renders the default reservations of the VM's size when spec.kubelet is unset", func() {
		nodeClass := fixtureNodeClass()
		nodeClass.Spec.Kubelet = nil
		v := bootstrap.NewValues("prod", nodeClass, fixtureNodeClaim(), fixtureShape)
		Expect(v.MaxPods).To(Equal(bootstrap.DefaultMaxPods))
		Expect(v.KubeletArgsList).To(Equal([]string{
			"--register-with-taints=" + v.RegisterWithTaints, "--node-labels=" + v.NodeLabels, "--max-pods=110",
			"--kube-reserved=cpu=70m,ephemeral-storage=1Gi,memory=1024Mi",
			"--eviction-hard=imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%",
		}))
		Expect(bootstrap.NewValues("prod", nodeClass, fixtureNodeClaim(), kubelet.Shape{CPU: 64, MemoryMiB: 256 * 1024}).KubeReserved).
			To(Equal("cpu=230m,ephemeral-storage=1Gi,memory=12166Mi"))
	})
	It("does not add the unregistered taint twice", func() {
		nodeClaim := fixtureNodeClaim()
		nodeClaim.Spec.Taints = append(nodeClaim.Spec.Taints, karpv1.UnregisteredNoExecuteTaint)
		v := bootstrap.NewValues("prod", fixtureNodeClass(), nodeClaim, fixtureShape)
		Expect(lo.CountBy(v.Taints, func(t corev1.Taint) bool { return t.Key == karpv1.UnregisteredTaintKey })).To(Equal(1))
	})
	DescribeTable("keeps only labels the kubelet may set in --node-labels",
		func(key string, kept bool) {
			nodeClaim := fixtureNodeClaim()
			nodeClaim.Labels = map[string]string{key: "x"}
			v := bootstrap.NewValues("prod", fixtureNodeClass(), nodeClaim, fixtureShape)
			Expect(v.Labels).To(HaveKey(key))
			if kept {
				Expect(v.NodeLabels).To(ContainSubstring(key + "=x"))
			} else {
				Expect(v.NodeLabels).ToNot(ContainSubstring(key))
			}
		},
		Entry("custom domain", "example.com/team", true),
		Entry("no domain", "team", true),
		Entry("karpenter.sh", karpv1.NodePoolLabelKey, true),
		Entry("provider domain", v1.LabelZoneID, true),
		Entry("allow-listed topology label", corev1.LabelTopologyZone, true),
		Entry("node.kubernetes.io prefix", "node.kubernetes.io/role", true),
		Entry("kubelet.kubernetes.io prefix", "kubelet.kubernetes.io/x", true),
		Entry("node-role.kubernetes.io", "node-role.kubernetes.io/worker", false),
		Entry("kubernetes.io itself", "kubernetes.io/custom", false),
		Entry("k8s.io subdomain", "foo.k8s.io/bar", false),
	)
	It("gives placeholder values that render every variable", func() {
		v := bootstrap.PlaceholderValues("prod", fixtureNodeClass())
		Expect(v.NodeClaimName).ToNot(BeEmpty())
		Expect(v.NodePoolName).To(Equal("placeholder-nodepool"))
		Expect(v.RegisterWithTaints).To(Equal("karpenter.sh/unregistered:NoExecute"))
		Expect(v.NodeLabels).To(ContainSubstring(corev1.LabelTopologyZone + "="))
	})
})

var _ = Describe("Render", func() {
	DescribeTable("golden files",
		func(name string) {
			input, err := os.ReadFile(filepath.Join("testdata", name+".input"))
			Expect(err).ToNot(HaveOccurred())
			got, err := bootstrap.Render(string(input), bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape))
			Expect(err).ToNot(HaveOccurred())
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				Expect(os.WriteFile(golden, got, 0o644)).To(Succeed())
			}
			want, err := os.ReadFile(golden)
			Expect(err).ToNot(HaveOccurred(), "run go test ./pkg/bootstrap/ -args -update to create it")
			Expect(string(got)).To(Equal(string(want)))
		},
		Entry("plain cloud-config passes through", "plain-cloud-config"),
		Entry("cloud-init kubeadm join", "kubeadm-join"),
		Entry("shell script starting the kubelet", "shell-script"),
		Entry("every kubelet piece and function", "kubelet-settings"),
		Entry("cloud-init jinja passes through", "jinja-passthrough"),
		Entry("escaped braces", "escaped-braces"),
		Entry("data disks mounted by size", "data-disks"),
	)
	It("returns non-template userData byte for byte", func() {
		in := "#!/bin/sh\necho '{ not a template }' \x00\xff\n"
		out, err := bootstrap.Render(in, bootstrap.Values{})
		Expect(err).ToNot(HaveOccurred())
		Expect(out).To(Equal([]byte(in)))
	})
	It("lets index read an optional label without failing", func() {
		out, err := bootstrap.Render(`a={{ with index .Labels "absent" }}{{ . }}{{ else }}none{{ end }} b={{ index .Labels "team" }}`,
			bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape))
		Expect(err).ToNot(HaveOccurred())
		Expect(string(out)).To(Equal("a=none b=platform"))
	})
	DescribeTable("template errors name spec.userData and the problem",
		func(userData string, wantSubstrings ...string) {
			_, err := bootstrap.Render(userData, bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape))
			Expect(err).To(HaveOccurred())
			var terr *bootstrap.TemplateError
			Expect(errors.As(err, &terr)).To(BeTrue())
			for _, s := range wantSubstrings {
				Expect(err.Error()).To(ContainSubstring(s))
			}
		},
		Entry("missing map key", "a: {{ .Labels.doesnotexist }}", "spec.userData", `map has no entry for key "doesnotexist"`),
		Entry("unknown variable", "a: {{ .Region }}", "spec.userData", `can't evaluate field Region`),
		Entry("unclosed action", "line1\na: {{ .ClusterName", "spec.userData:2", "unclosed action"),
		Entry("unknown function", "{{ toYaml .Labels }}", `function "toYaml" not defined`),
		Entry("shellquote of a map", "{{ shellquote .Labels }}", "shellquote takes a string or a list of strings"),
	)
})

var _ = Describe("Encode and Generate", func() {
	It("gzips and base64-encodes deterministically", func() {
		in := []byte(strings.Repeat("#cloud-config\nruncmd: [echo hi]\n", 50))
		a, err := bootstrap.Encode(in, bootstrap.DefaultMaxLength)
		Expect(err).ToNot(HaveOccurred())
		b, err := bootstrap.Encode(in, bootstrap.DefaultMaxLength)
		Expect(err).ToNot(HaveOccurred())
		Expect(a).To(Equal(b))
		Expect(len(a)).To(BeNumerically("<", len(in)), "compression must pay off on repetitive scripts")
		Expect(decode(a)).To(Equal(string(in)))
	})
	It("encodes nothing to nothing", func() {
		Expect(bootstrap.Encode(nil, 10)).To(BeEmpty())
		out, err := bootstrap.Generate(fixtureNodeClass(), bootstrap.Values{}, 10)
		Expect(err).ToNot(HaveOccurred())
		Expect(out).To(BeEmpty())
	})
	It("accepts exactly the limit and rejects one byte less", func() {
		in := []byte("#!/bin/sh\necho hello\n")
		enc, err := bootstrap.Encode(in, 0)
		Expect(err).ToNot(HaveOccurred())
		_, err = bootstrap.Encode(in, len(enc))
		Expect(err).ToNot(HaveOccurred())
		_, err = bootstrap.Encode(in, len(enc)-1)
		var serr *bootstrap.SizeError
		Expect(errors.As(err, &serr)).To(BeTrue())
		Expect(serr.Size).To(Equal(len(enc)))
		Expect(serr.Limit).To(Equal(len(enc) - 1))
	})
	It("explains an oversized userData with the field, the sizes and the fix", func() {
		noise := make([]byte, 40000)
		_, _ = rand.Read(noise)
		nodeClass := fixtureNodeClass()
		nodeClass.Spec.UserData = lo.ToPtr("#!/bin/sh\n# " + base64.StdEncoding.EncodeToString(noise) + "\n")
		_, err := bootstrap.Generate(nodeClass, bootstrap.PlaceholderValues("prod", nodeClass), bootstrap.DefaultMaxLength)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(MatchRegexp(`^spec\.userData renders to \d+ bytes once gzip'ed and base64'ed, above the limit of 32768 bytes; ` +
			`shorten it, or raise vm\.userdata\.max\.length on the management server \(at most 1048576\) and --userdata-max-length \(USERDATA_MAX_LENGTH\) to match$`))
	})
	It("renders a template for a NodeClaim end to end", func() {
		nodeClass := fixtureNodeClass()
		nodeClass.Spec.UserData = lo.ToPtr("#!/bin/sh\necho {{ .NodeClaimName }} {{ .ProviderIDPrefix }}\n")
		out, err := bootstrap.Generate(nodeClass, bootstrap.NewValues("prod", nodeClass, fixtureNodeClaim(), fixtureShape), bootstrap.DefaultMaxLength)
		Expect(err).ToNot(HaveOccurred())
		Expect(decode(out)).To(Equal("#!/bin/sh\necho general-x7k2p cloudstack:///\n"))
	})
	Context("with spec.userDataEncoding plain", func() {
		// An Ignition config: binary-exact JSON that must reach the VM unchanged.
		const ignition = "{\"ignition\":{\"version\":\"3.4.0\"},\"storage\":{\"files\":[{\"path\":\"/etc/hostname\"}]}}\n"
		It("delivers the rendered userData byte for byte, only base64-encoded", func() {
			nodeClass := fixtureNodeClass()
			nodeClass.Spec.UserData = lo.ToPtr(ignition)
			nodeClass.Spec.UserDataEncoding = v1.UserDataEncodingPlain
			out, err := bootstrap.Generate(nodeClass, bootstrap.NewValues("prod", nodeClass, fixtureNodeClaim(), fixtureShape), bootstrap.DefaultMaxLength)
			Expect(err).ToNot(HaveOccurred())
			Expect(out).To(Equal(base64.StdEncoding.EncodeToString([]byte(ignition))))
		})
		It("checks the size limit after encoding, without compression", func() {
			// 30000 repeated bytes gzip to almost nothing but are 40000 bytes once base64'ed.
			userData := strings.Repeat("a", 30000)
			gz, err := bootstrap.EncodeAs([]byte(userData), "", bootstrap.DefaultMaxLength)
			Expect(err).ToNot(HaveOccurred())
			Expect(len(gz)).To(BeNumerically("<", 1000))
			_, err = bootstrap.EncodeAs([]byte(userData), v1.UserDataEncodingPlain, bootstrap.DefaultMaxLength)
			var serr *bootstrap.SizeError
			Expect(errors.As(err, &serr)).To(BeTrue())
			Expect(serr.Size).To(Equal(40000))
			Expect(err.Error()).To(ContainSubstring("once base64'ed (spec.userDataEncoding: plain), above the limit of 32768 bytes"))
		})
	})
})

var _ = Describe("Secret values", func() {
	const token = "q7x2mz.5b0f3c9d1e8a4f27"
	values := func() bootstrap.Values {
		v := bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape)
		v.Secret = map[string]string{"token": token, "endpoint": "10.0.0.10:6443"}
		return v
	}
	It("renders .Secret's keys into the userData", func() {
		out, err := bootstrap.Render("kubeadm join {{ .Secret.endpoint }} --token {{ squote .Secret.token }}", values())
		Expect(err).ToNot(HaveOccurred())
		Expect(string(out)).To(Equal("kubeadm join 10.0.0.10:6443 --token '" + token + "'"))
	})
	It("cuts every Secret value of 4 characters or more out of an error's message, and keeps the error's type", func() {
		inner := &bootstrap.TemplateError{Err: errors.New("bad argument " + token + " near 10.0.0.10:6443 and x")}
		err := bootstrap.Redact(inner, map[string]string{"token": token, "endpoint": "10.0.0.10:6443", "short": "x", "part": token[:6]})
		Expect(err.Error()).To(Equal("spec.userData is not a valid template, bad argument <redacted> near <redacted> and x"))
		var terr *bootstrap.TemplateError
		Expect(errors.As(err, &terr)).To(BeTrue())
		Expect(bootstrap.Redact(inner, nil)).To(BeIdenticalTo(error(inner)))
	})
})
