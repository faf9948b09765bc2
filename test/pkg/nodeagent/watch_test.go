package nodeagent_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/nodeagent"
)

// feed is a change feed that answers what the spec put in it, and counts whole listings.
type feed struct {
	mu       sync.Mutex
	rev      uint64
	pending  simulator.VMChanges
	listings int
	wake     chan struct{}
}

func newFeed() *feed { return &feed{rev: 1, wake: make(chan struct{}, 1)} }

func (f *feed) VirtualMachines(context.Context) ([]simulator.VM, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listings++
	return nil, nil
}

func (f *feed) VirtualMachineChanges(ctx context.Context, epoch string, since uint64, wait time.Duration) (simulator.VMChanges, error) {
	if since == 0 {
		f.mu.Lock()
		defer f.mu.Unlock()
		return simulator.VMChanges{Epoch: "e", Revision: f.rev, Full: true}, nil
	}
	select {
	case <-f.wake:
	case <-time.After(wait):
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pending
	out.Epoch, out.Revision = "e", f.rev
	f.pending = simulator.VMChanges{}
	return out, nil
}

func (f *feed) change(vms []simulator.VM, removed ...string) {
	f.mu.Lock()
	f.rev++
	f.pending.VMs = append(f.pending.VMs, vms...)
	f.pending.Removed = append(f.pending.Removed, removed...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

var _ = Describe("An agent following the VM change feed", func() {
	It("registers the node of a VM the feed reports Running, deletes it when the feed reports the VM gone, and never lists every VM", func() {
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		kube := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithStatusSubresource(&corev1.Node{}).Build()
		f := newFeed()
		// The interval is long: only the feed's kick can make the pass that registers the node in time.
		agent := nodeagent.New(kube, f, "c", time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			agent.Run(ctx)
		}()
		DeferCleanup(func() { cancel(); <-done })

		vm := simulator.VM{ID: "vm-1", Name: "n1", State: simulator.StateRunning, Tags: map[string]string{v1.TagKeyCluster: "c"},
			UserData: gzipBase64(rendered), CPUNumber: 2, MemoryMiB: 4096}
		f.change([]simulator.VM{vm})
		node := &corev1.Node{}
		Eventually(func() error { return kube.Get(ctx, client.ObjectKey{Name: "n1"}, node) }).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(node.Annotations).To(HaveKeyWithValue(nodeagent.AnnotationVMID, "vm-1"))

		f.change(nil, "vm-1")
		Eventually(func() bool {
			return client.IgnoreNotFound(kube.Get(ctx, client.ObjectKey{Name: "n1"}, &corev1.Node{})) == nil &&
				kube.Get(ctx, client.ObjectKey{Name: "n1"}, &corev1.Node{}) != nil
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		f.mu.Lock()
		defer f.mu.Unlock()
		Expect(f.listings).To(BeZero(), "the agent's view comes from the feed, not from listing every VM")
	})

	It("registers the node of a VM only once the VM has run for the boot delay", func() {
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		kube := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithStatusSubresource(&corev1.Node{}).Build()
		f := newFeed()
		agent := nodeagent.New(kube, f, "c", 100*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		agent.SetBootDelay(time.Hour)
		done := make(chan struct{})
		go func() {
			defer close(done)
			agent.Run(ctx)
		}()
		DeferCleanup(func() { cancel(); <-done })

		f.change([]simulator.VM{{ID: "vm-1", Name: "n1", State: simulator.StateRunning, Started: time.Now(),
			Tags: map[string]string{v1.TagKeyCluster: "c"}, UserData: gzipBase64(rendered), CPUNumber: 2, MemoryMiB: 4096}})
		Consistently(func() error { return kube.Get(ctx, client.ObjectKey{Name: "n1"}, &corev1.Node{}) }).
			WithTimeout(time.Second).Should(Satisfy(apierrors.IsNotFound), "the kubelet is still booting")
		agent.SetBootDelay(0)
		Eventually(func() error { return kube.Get(ctx, client.ObjectKey{Name: "n1"}, &corev1.Node{}) }).WithTimeout(30 * time.Second).Should(Succeed())
	})
})
