package instance

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

// tagBatchMax bounds the VMs of one createTags: its resourceids travel in a POST body, yet one refused VM fails the
// whole call, and a smaller batch costs fewer retries.
const tagBatchMax = 100

// tagBatcher tags many VMs with one createTags call. The tags a launch sets are the same for every VM of a NodeClass
// and NodePool (ownership, NodeClass, NodePool and the NodeClass's own tags); what tells the VMs apart, the NodeClaim
// name, is already the VM's display name. VMs with the same tags that start within one window share a call.
//
// createTags is all-or-nothing (TaggedResourceManagerImpl creates every tag in one transaction): when a batch fails,
// every launch in it retries its own VM's tags once the VM runs (see launch), so one VM that cannot be tagged
// (destroyed meanwhile, or already carrying a key) does not leave the others untagged.
type tagBatcher struct {
	api    cloudstack.API
	window time.Duration

	mu      sync.Mutex
	batches map[string]*tagBatch // by canonical tags
}

type tagBatch struct {
	tags    map[string]string
	waiters map[string][]chan error // by VM ID
	full    chan struct{}
}

func newTagBatcher(api cloudstack.API, window time.Duration) *tagBatcher {
	return &tagBatcher{api: api, window: window, batches: map[string]*tagBatch{}}
}

// tag creates the tags on the VM, sharing the call with other VMs that get the same tags.
func (t *tagBatcher) tag(ctx context.Context, vmID string, tags map[string]string) error {
	key := canonical(tags)
	ch := make(chan error, 1)
	t.mu.Lock()
	b, ok := t.batches[key]
	if !ok {
		b = &tagBatch{tags: tags, waiters: map[string][]chan error{}, full: make(chan struct{})}
		t.batches[key] = b
		go t.flushAfter(context.WithoutCancel(ctx), key, b)
	}
	b.waiters[vmID] = append(b.waiters[vmID], ch)
	if len(b.waiters) >= tagBatchMax {
		// Full: this batch goes now, the next VM starts another.
		delete(t.batches, key)
		close(b.full)
	}
	t.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (t *tagBatcher) flushAfter(ctx context.Context, key string, b *tagBatch) {
	timer := time.NewTimer(t.window)
	select {
	case <-timer.C:
	case <-b.full:
		timer.Stop()
	}
	t.mu.Lock()
	if t.batches[key] == b {
		delete(t.batches, key)
	}
	t.mu.Unlock()
	ids := make([]string, 0, len(b.waiters))
	for id := range b.waiters {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	err := t.api.CreateTags(ctx, ids, ResourceTypeVM, b.tags)
	for _, chs := range b.waiters {
		for _, ch := range chs {
			ch <- err
		}
	}
}

// canonical is a map's key=value pairs in key order, a batch key.
func canonical(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(tags[k])
		b.WriteByte(0)
	}
	return b.String()
}
