package kubelet_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

func TestKubelet(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kubelet reservations")
}

var _ = Describe("defaults", func() {
	DescribeTable("kube-reserved CPU by vCPUs",
		func(cpus int, want int64) { Expect(kubelet.ReservedCPUMillis(cpus)).To(Equal(want)) },
		Entry("1", 1, int64(60)), Entry("2", 2, int64(70)), Entry("4", 4, int64(80)),
		Entry("5: 0.25% of the fifth core, rounded down", 5, int64(82)), Entry("64", 64, int64(230)), Entry("256", 256, int64(710)),
	)
	DescribeTable("kube-reserved memory by offering memory, from 512 MiB to 1 TiB",
		func(mib int, want int64) { Expect(kubelet.ReservedMemoryMiB(mib)).To(Equal(want)) },
		Entry("512 MiB: GKE's floor", 512, int64(255)),
		Entry("1 GiB", 1024, int64(256)),
		Entry("2 GiB", 2048, int64(512)),
		Entry("4 GiB", 4096, int64(1024)),
		Entry("8 GiB", 8192, int64(1844)),
		Entry("16 GiB", 16384, int64(2663)),
		Entry("256 GiB", 256*1024, int64(12166)),
		Entry("1 TiB: 2.7%", 1024*1024, int64(27894)),
	)
	It("renders every eviction signal and the size's reservations without spec.kubelet", func() {
		s := kubelet.For(kubelet.Shape{CPU: 4, MemoryMiB: 8192}, nil)
		Expect(s.MaxPods).To(Equal(kubelet.DefaultMaxPods))
		Expect(kubelet.Join(s.KubeReserved, "=")).To(Equal("cpu=80m,ephemeral-storage=1Gi,memory=1844Mi"))
		Expect(s.SystemReserved).To(BeEmpty())
		Expect(kubelet.Join(s.EvictionHard, "<")).To(Equal("imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"))
	})
})

var _ = Describe("spec.kubelet", func() {
	It("overrides the defaults key by key", func() {
		s := kubelet.For(kubelet.Shape{CPU: 4, MemoryMiB: 8192}, &v1.KubeletConfiguration{
			MaxPods:        lo.ToPtr[int32](30),
			KubeReserved:   map[string]string{"memory": "1Gi", "pid": "1000"},
			SystemReserved: map[string]string{"cpu": "100m"},
			EvictionHard:   map[string]string{"memory.available": "5%"},
		})
		Expect(s.MaxPods).To(BeEquivalentTo(30))
		Expect(kubelet.Join(s.KubeReserved, "=")).To(Equal("cpu=80m,ephemeral-storage=1Gi,memory=1Gi,pid=1000"))
		Expect(s.EvictionHard).To(HaveKeyWithValue("memory.available", "5%"))
		Expect(s.EvictionHard).To(HaveKeyWithValue("nodefs.available", "10%"))
		capacity := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourceEphemeralStorage: resource.MustParse("20Gi")}
		kube, system, eviction := s.Overhead(capacity)
		Expect(kube).NotTo(HaveKey(corev1.ResourceName("pid")), "pid is not schedulable")
		Expect(kube.Memory().String()).To(Equal("1Gi"))
		Expect(system.Cpu().String()).To(Equal("100m"))
		Expect(eviction.Memory().Value()).To(BeEquivalentTo(429496730), "5% of 8Gi, rounded up")
		Expect(eviction.StorageEphemeral().String()).To(Equal("2Gi"))
	})
})
