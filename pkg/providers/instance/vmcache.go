package instance

import (
	"context"
	"sync"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// Batched lookups of VMs by ID.
const (
	// lookupBatchWindow is how long a lookup waits for others to join its request. Karpenter core's controllers ask
	// for many NodeClaims within milliseconds of each other (a burst of launches, a drift pass, a scale-down).
	lookupBatchWindow = 20 * time.Millisecond
	// lookupBatchMax bounds the IDs of one listVirtualMachines ids=... request: list calls are GETs, and a
	// management server's request line (Jetty's default header buffer is 8 KiB) fits about 150 UUIDs.
	lookupBatchMax = 100
)

// vmCache answers the provider's VM lookups from one shared view of the account's VMs, so that Get, List and drift
// checks of many NodeClaims cost one request instead of one each (AWS's pkg/batcher does the same for
// DescribeInstances). The view is a full listing refreshed at most once per its caller's maxAge, plus what this
// process learned since then: VMs it launched or looked up by ID, and VMs it destroyed. Lookups of IDs the view does
// not answer are batched into listVirtualMachines ids=... requests.
//
// It holds every VM of the key's own account (never listall, see cloudstack.API.ListVMs); ownership is decided by
// its callers, as before.
type vmCache struct {
	api   cloudstack.API
	clock func() time.Time

	mu sync.Mutex
	// vms is the view: the last full listing's VMs, updated by later lookups, launches and destroys.
	vms map[string]*cachedVM
	// listedAt is when the last full listing started; zero before the first.
	listedAt time.Time
	// listing is the full listing in flight, which concurrent callers share.
	listing *listCall
	// pending are the IDs waiting for the next batched lookup, with their waiters.
	pending map[string][]chan lookupResult
}

type cachedVM struct {
	vm *csgo.VirtualMachine // nil: the VM does not exist (any more)
	at time.Time            // when this entry was true
}

type listCall struct {
	done chan struct{}
	err  error
}

type lookupResult struct {
	vm  *csgo.VirtualMachine // nil with a nil err: not found
	err error
}

func newVMCache(api cloudstack.API, clock func() time.Time) *vmCache {
	return &vmCache{api: api, clock: clock, vms: map[string]*cachedVM{}, pending: map[string][]chan lookupResult{}}
}

// list returns the account's VMs as of at most maxAge ago (destroyed ones included, for callers that need them).
func (c *vmCache) list(ctx context.Context, maxAge time.Duration) ([]*csgo.VirtualMachine, error) {
	c.mu.Lock()
	if c.listedAt.IsZero() || c.clock().Sub(c.listedAt) > maxAge {
		call := c.listing
		if call == nil {
			call = &listCall{done: make(chan struct{})}
			c.listing = call
			go c.refresh(context.WithoutCancel(ctx), call)
		}
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if call.err != nil {
			return nil, call.err
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	out := make([]*csgo.VirtualMachine, 0, len(c.vms))
	for _, e := range c.vms {
		if e.vm != nil {
			out = append(out, e.vm)
		}
	}
	return out, nil
}

// refresh runs one full listing. Entries this process learned after the listing started are newer than what the
// listing says and are kept.
func (c *vmCache) refresh(ctx context.Context, call *listCall) {
	start := c.clock()
	vms, err := c.api.ListVMs(ctx, "", nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listing = nil
	defer close(call.done)
	if err != nil {
		call.err = err
		return
	}
	fresh := make(map[string]*cachedVM, len(vms))
	for _, vm := range vms {
		fresh[vm.Id] = &cachedVM{vm: vm, at: start}
	}
	for id, e := range c.vms {
		_, listed := fresh[id]
		// A VM seen gone is remembered as gone for InstanceGoneTTL (the listing does not name missing VMs); one the
		// listing holds again was recovered, and the listing is right.
		if e.at.After(start) || e.vm == nil && !listed && start.Sub(e.at) <= cache.InstanceGoneTTL {
			fresh[id] = e
		}
	}
	c.vms, c.listedAt = fresh, start
}

// get returns a VM as of at most maxAge ago; cserrors.IsNotFound when it does not exist.
func (c *vmCache) get(ctx context.Context, id string, maxAge time.Duration) (*csgo.VirtualMachine, error) {
	c.mu.Lock()
	now := c.clock()
	// An entry fresh enough answers; an ID the last listing did not hold may have been deployed since, or be another
	// account's, so it is looked up.
	e, ok := c.vms[id]
	ok = ok && (now.Sub(e.at) <= maxAge || e.vm == nil && now.Sub(e.at) <= cache.InstanceGoneTTL)
	if ok {
		c.mu.Unlock()
		if e.vm == nil {
			return nil, cserrors.NewNotFound("virtual machine", id)
		}
		return e.vm, nil
	}
	ch := make(chan lookupResult, 1)
	first := len(c.pending) == 0
	c.pending[id] = append(c.pending[id], ch)
	c.mu.Unlock()
	if first {
		go c.flushAfter(context.WithoutCancel(ctx), lookupBatchWindow)
	}
	select {
	case r := <-ch:
		return r.vm, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// flushAfter waits for more lookups to join, then answers every pending one with as few requests as possible.
func (c *vmCache) flushAfter(ctx context.Context, window time.Duration) {
	time.Sleep(window)
	c.mu.Lock()
	pending := c.pending
	c.pending = map[string][]chan lookupResult{}
	c.mu.Unlock()
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	for start := 0; start < len(ids); start += lookupBatchMax {
		batch := ids[start:min(start+lookupBatchMax, len(ids))]
		results := c.lookup(ctx, batch)
		for _, id := range batch {
			for _, ch := range pending[id] {
				ch <- results[id]
			}
		}
	}
}

// lookup reads VMs by ID in one request and records what it learned. CloudStack refuses the whole request when one
// ID is unknown (431), so a refused batch is looked up ID by ID, which tells the unknown ones apart.
func (c *vmCache) lookup(ctx context.Context, ids []string) map[string]lookupResult {
	at := c.clock()
	out := make(map[string]lookupResult, len(ids))
	vms, err := c.api.ListVMsByID(ctx, ids)
	if err != nil && len(ids) > 1 && cserrors.IsNotFound(err) {
		for _, id := range ids {
			vm, err := c.api.GetVM(ctx, id)
			switch {
			case err == nil:
				out[id] = lookupResult{vm: vm}
				c.store(id, vm, at)
			case cserrors.IsNotFound(err):
				out[id] = lookupResult{err: err}
				c.store(id, nil, at)
			default:
				out[id] = lookupResult{err: err}
			}
		}
		return out
	}
	if err != nil {
		for _, id := range ids {
			out[id] = lookupResult{err: err}
			if cserrors.IsNotFound(err) {
				c.store(id, nil, at)
			}
		}
		return out
	}
	found := make(map[string]*csgo.VirtualMachine, len(vms))
	for _, vm := range vms {
		found[vm.Id] = vm
	}
	for _, id := range ids {
		if vm, ok := found[id]; ok {
			out[id] = lookupResult{vm: vm}
			c.store(id, vm, at)
		} else {
			// An expunged VM's ID still resolves on the server, so it comes back as an empty answer, not a 431.
			out[id] = lookupResult{err: cserrors.NewNotFound("virtual machine", id)}
			c.store(id, nil, at)
		}
	}
	return out
}

// store records what is known of a VM at a time; vm nil means it does not exist. Older knowledge never replaces
// newer.
func (c *vmCache) store(id string, vm *csgo.VirtualMachine, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.vms[id]; ok && e.at.After(at) {
		return
	}
	c.vms[id] = &cachedVM{vm: vm, at: at}
}

// put records a VM this process just read or changed.
func (c *vmCache) put(vm *csgo.VirtualMachine) { c.store(vm.Id, vm, c.clock()) }

// gone records that a VM was just destroyed: a later lookup within its maxAge answers not found without a request.
func (c *vmCache) gone(id string) { c.store(id, nil, c.clock()) }

// tagged records tags just created on a VM, so that a cached view does not ask to create them again (CloudStack
// refuses a key a VM already has).
func (c *vmCache) tagged(id string, tags map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.vms[id]
	if !ok || e.vm == nil {
		return
	}
	vm := *e.vm
	merged := cloudstack.TagMap(vm.Tags)
	for k, v := range tags {
		merged[k] = v
	}
	vm.Tags = make([]csgo.Tags, 0, len(merged))
	for k, v := range merged {
		vm.Tags = append(vm.Tags, csgo.Tags{Key: k, Value: v, Resourceid: id, Resourcetype: cloudstack.ResourceTypeUserVM})
	}
	c.vms[id] = &cachedVM{vm: &vm, at: e.at}
}
