package instance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

// tagBatchMax bounds the VMs of one createTags: its resourceids travel in a POST body, yet one refused VM fails the
// whole call, and a smaller batch costs fewer retries.
const tagBatchMax = 100

// tagBatcher tags many VMs with one createTags call, and follows its job with the follower's listings (a tagged VM
// lists its tags) instead of polling it. The tags a launch sets are the same for every VM of a NodeClass
// and NodePool (ownership, NodeClass, NodePool and the NodeClass's own tags); what tells the VMs apart, the NodeClaim
// name, is already the VM's display name. VMs with the same tags that start within one window share a call; a launch
// whose deploy ended sends its batch at once, so tagging never holds a NodeClaim longer than its deploy did.
//
// createTags is all-or-nothing (TaggedResourceManagerImpl creates every tag in one transaction): when a batch fails,
// every launch in it retries its own VM's tags once the VM runs (see launch), so one VM that cannot be tagged
// (destroyed meanwhile, or already carrying a key) does not leave the others untagged.
type tagBatcher struct {
	api    cloudstack.API
	follow *follower
	window time.Duration

	mu      sync.Mutex
	batches map[string]*tagBatch // by canonical tags
}

type tagBatch struct {
	tags    map[string]string
	waiters map[string][]chan tagStart // by VM ID
	full    chan struct{}
}

// tagStart is what a batch's createTags returned: its job, or why it was not started.
type tagStart struct {
	jobID string
	err   error
}

func newTagBatcher(api cloudstack.API, follow *follower, window time.Duration) *tagBatcher {
	return &tagBatcher{api: api, follow: follow, window: window, batches: map[string]*tagBatch{}}
}

// tag creates the tags on the VM, sharing the call with other VMs that get the same tags.
func (t *tagBatcher) tag(ctx context.Context, vmID string, tags map[string]string) error {
	key := canonical(tags)
	ch := make(chan tagStart, 1)
	t.mu.Lock()
	b, ok := t.batches[key]
	if !ok {
		b = &tagBatch{tags: tags, waiters: map[string][]chan tagStart{}, full: make(chan struct{})}
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
	case started := <-ch:
		if started.err != nil {
			return started.err
		}
		if err := t.follow.waitTags(ctx, vmID, started.jobID, tags); err != nil {
			return fmt.Errorf("tagging VM %s, %w", vmID, err)
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// flush sends the open batch the VM waits in now, instead of at the end of its window.
func (t *tagBatcher) flush(vmID string, tags map[string]string) {
	key := canonical(tags)
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.batches[key]; ok && len(b.waiters[vmID]) > 0 {
		delete(t.batches, key)
		close(b.full)
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
	// Launches in flight wait for this call: it goes ahead of requests queued for the client's rate limit.
	jobID, err := t.api.StartCreateTags(cloudstack.Urgent(ctx), ids, ResourceTypeVM, b.tags)
	for _, chs := range b.waiters {
		for _, ch := range chs {
			ch <- tagStart{jobID: jobID, err: err}
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
