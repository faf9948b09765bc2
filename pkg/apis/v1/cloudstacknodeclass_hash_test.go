package v1_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// hashedSpec sets every field the hash covers, so the pinned value below notices a change to any of them.
func hashedSpec() *v1.CloudStackNodeClass {
	return nodeClass(func(s *v1.CloudStackNodeClassSpec) {
		s.UserData = lo.ToPtr("#!/bin/sh\necho hello\n")
		s.Tags = map[string]string{"team": "platform", "env": "prod"}
		s.SSHKeyPair = lo.ToPtr("ops")
		s.RootDiskSize = quantity("40Gi")
		s.Kubelet = &v1.KubeletConfiguration{
			MaxPods:        lo.ToPtr[int32](58),
			KubeReserved:   map[string]string{"cpu": "100m", "memory": "512Mi"},
			SystemReserved: map[string]string{"memory": "256Mi"},
			EvictionHard:   map[string]string{"memory.available": "5%"},
		}
	})
}

var _ = Describe("Hash", func() {
	It("is pinned for a fixed spec", func() {
		// A changed value here means every existing node drifts on upgrade: bump NodeClassHashVersion with it.
		Expect(hashedSpec().Hash()).To(Equal("6994541651017457592"))
		Expect(v1.NodeClassHashVersion).To(Equal("v2"))
	})

	It("is the same for the object written and the object the apiserver returns", func() {
		nc := hashedSpec()
		nc.Spec.Kubelet.KubeReserved = map[string]string{} // dropped by omitempty on the way
		nc.Spec.UserData = lo.ToPtr("")
		Expect(env.Client.Create(ctx, nc)).To(Succeed())
		stored := &v1.CloudStackNodeClass{}
		Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), stored)).To(Succeed())
		Expect(stored.Hash()).To(Equal(nc.Hash()))
	})

	DescribeTable("does not change for edits that launch the same VM",
		func(mutate func(*v1.CloudStackNodeClass)) {
			nc := hashedSpec()
			want := nc.Hash()
			mutate(nc)
			Expect(nc.Hash()).To(Equal(want))
		},
		Entry("tags (updated on the running VMs in place)", func(nc *v1.CloudStackNodeClass) {
			nc.Spec.Tags["env"] = "dev"
			nc.Spec.Tags["owner"] = "ops"
			delete(nc.Spec.Tags, "team")
		}),
		Entry("tags removed", func(nc *v1.CloudStackNodeClass) { nc.Spec.Tags = nil }),
		Entry("the same root disk size in other units", func(nc *v1.CloudStackNodeClass) { nc.Spec.RootDiskSize = quantity("40960Mi") }),
		Entry("different selector terms (they drift through their resolved values)", func(nc *v1.CloudStackNodeClass) {
			nc.Spec.NetworkSelectorTerms = []v1.SelectorTerm{{Name: "other"}}
			nc.Spec.TemplateSelectorTerms = []v1.SelectorTerm{{Name: "other"}}
			nc.Spec.Zone = "zone-2"
		}),
		Entry("status changes", func(nc *v1.CloudStackNodeClass) { nc.Status.SSHKeyPair = "x" }),
	)

	DescribeTable("treats nil and empty alike",
		func(a, b func(*v1.CloudStackNodeClassSpec)) {
			Expect(nodeClass(a).Hash()).To(Equal(nodeClass(b).Hash()))
		},
		Entry("kubelet", func(s *v1.CloudStackNodeClassSpec) { s.Kubelet = nil }, func(s *v1.CloudStackNodeClassSpec) { s.Kubelet = &v1.KubeletConfiguration{} }),
		Entry("kubelet maps", func(s *v1.CloudStackNodeClassSpec) { s.Kubelet = &v1.KubeletConfiguration{} }, func(s *v1.CloudStackNodeClassSpec) {
			s.Kubelet = &v1.KubeletConfiguration{KubeReserved: map[string]string{}, EvictionHard: map[string]string{}}
		}),
		Entry("userData", func(s *v1.CloudStackNodeClassSpec) { s.UserData = nil }, func(s *v1.CloudStackNodeClassSpec) { s.UserData = lo.ToPtr("") }),
		Entry("userDataEncoding gzip is the default", func(s *v1.CloudStackNodeClassSpec) { s.UserDataEncoding = "" },
			func(s *v1.CloudStackNodeClassSpec) { s.UserDataEncoding = v1.UserDataEncodingGzip }),
	)

	DescribeTable("changes for every hashed field",
		func(mutate func(*v1.CloudStackNodeClass)) {
			nc := hashedSpec()
			before := nc.Hash()
			mutate(nc)
			Expect(nc.Hash()).NotTo(Equal(before))
		},
		Entry("userData", func(nc *v1.CloudStackNodeClass) { nc.Spec.UserData = lo.ToPtr("#!/bin/sh\n") }),
		Entry("userDataEncoding", func(nc *v1.CloudStackNodeClass) { nc.Spec.UserDataEncoding = v1.UserDataEncodingPlain }),
		Entry("sshKeyPair", func(nc *v1.CloudStackNodeClass) { nc.Spec.SSHKeyPair = lo.ToPtr("other") }),
		Entry("rootDiskSize", func(nc *v1.CloudStackNodeClass) { nc.Spec.RootDiskSize = quantity("41Gi") }),
		Entry("kubelet maxPods", func(nc *v1.CloudStackNodeClass) { nc.Spec.Kubelet.MaxPods = lo.ToPtr[int32](59) }),
		Entry("kubelet kubeReserved", func(nc *v1.CloudStackNodeClass) { nc.Spec.Kubelet.KubeReserved["cpu"] = "200m" }),
		Entry("kubelet systemReserved", func(nc *v1.CloudStackNodeClass) { nc.Spec.Kubelet.SystemReserved["cpu"] = "1" }),
		Entry("kubelet evictionHard", func(nc *v1.CloudStackNodeClass) { nc.Spec.Kubelet.EvictionHard["memory.available"] = "6%" }),
	)
})
