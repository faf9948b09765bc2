package instance

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"github.com/samber/lo"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
)

// ResourceTypeVM is the resource type of VMs in the tag API.
const ResourceTypeVM = cloudstack.ResourceTypeUserVM

// Provider manages the VMs behind NodeClaims.
type Provider interface {
	// Create launches a VM for the NodeClaim on the cheapest available (instance type, zone) that its requirements
	// allow, or adopts the VM a previous Create already launched for it. Capacity failures mark the offering
	// unavailable and fall back to the next candidate; when none is left it returns an InsufficientCapacityError.
	// userData renders the encoded userData of each candidate instance type.
	Create(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, instanceTypes []*cloudprovider.InstanceType, userData UserData) (*Instance, error)
	// Get returns a VM; NodeClaimNotFoundError when it is gone or in Error, Destroyed, Expunging or Expunged.
	Get(ctx context.Context, id string) (*Instance, error)
	// GetForDrift is Get for drift checks, which compare only what a VM keeps for its lifetime (zone, template,
	// offering, networks) and so may be answered from an older listing of the cluster's VMs.
	GetForDrift(ctx context.Context, id string) (*Instance, error)
	// List returns the VMs this cluster owns (see Owner) that are not gone, tagged or not.
	List(ctx context.Context) ([]*Instance, error)
	// ListAll is List plus the cluster's VMs in Error: gone for Karpenter, yet still to be destroyed.
	ListAll(ctx context.Context) ([]*Instance, error)
	// Delete destroys a VM, expunging it when the account may; NodeClaimNotFoundError once it is gone.
	Delete(ctx context.Context, id string) error
	// CreateTags sets tags on a VM, replacing the values of keys it already has.
	CreateTags(ctx context.Context, id string, tags map[string]string) error
	// ChangeTags applies tag changes to many VMs, batching VMs with the same change into one request pair; it returns
	// the error of each VM it could not change, by VM ID.
	ChangeTags(ctx context.Context, changes []TagChange) map[string]error
	// Reboot reboots a VM.
	Reboot(ctx context.Context, id string) error
	// DeleteDetachedDataDisks deletes the data disks of this cluster (cluster-id tag, key's own account) that are
	// attached to no VM and were created before createdBefore, and returns how many it deleted. A VM destroyed without
	// volumeids (its tagging failed, or it was destroyed by hand) leaves them detached when CloudStack expunges it.
	DeleteDetachedDataDisks(ctx context.Context, createdBefore time.Time) (int, error)
	// Tags are the tags a NodeClaim's VM must carry: the NodeClass's tags plus the ownership and identity tags.
	Tags(nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim) map[string]string
}

// ServiceOfferings hands out the launch spec of each instance type: offering, zone, template, networks and deploy
// details. *instancetype.DefaultProvider implements it from the same cached computation as its instance types.
type ServiceOfferings interface {
	LaunchSpecs(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (instancetype.LaunchSpecs, error)
}

// Option configures a DefaultProvider.
type Option func(*DefaultProvider)

// WithServiceOfferings shares the instance-type provider's launch specs, so a launch needs no API call of its own to
// find its offering. It is required: a second catalog would double the listing calls and could disagree with the
// instance types.
func WithServiceOfferings(s ServiceOfferings) Option {
	return func(p *DefaultProvider) { p.offerings = s }
}

// WithAdoptTimeout bounds how long Create waits for a VM it adopts (one a previous Create launched) to run; the
// default is 10 minutes. Create then returns a retryable error and keeps the VM.
func WithAdoptTimeout(d time.Duration) Option {
	return func(p *DefaultProvider) { p.adoptTimeout = d }
}

// WithClock sets the clock that ages the provider's view of the VMs (time.Now by default); specs step it to tell
// requests the view saves from those it must send.
func WithClock(now func() time.Time) Option {
	return func(p *DefaultProvider) { p.clock = now }
}

// WithCapabilitiesCache injects the cache of the server's capabilities the operator built (cache.CapabilitiesTTL).
func WithCapabilitiesCache(c *gocache.Cache) Option {
	return func(p *DefaultProvider) { p.capabilities = c }
}

// CapabilitiesCacheName names the capabilities cache in karpenter_cloudstack_cache_requests_total.
const CapabilitiesCacheName = "capabilities"

// tagBatchPolls is how many first job-poll intervals a launch's tagging waits for other launches to share its call.
// The launch waits for its deploy job meanwhile, which takes longer on a real server.
const tagBatchPolls = 4

// DefaultProvider is the Provider backed by the CloudStack API.
type DefaultProvider struct {
	api         cloudstack.API
	unavailable *cache.UnavailableOfferings
	owner       Owner
	offerings   ServiceOfferings
	clock       func() time.Time
	// vms answers Get, List and drift lookups of many NodeClaims with one request.
	vms *vmCache
	// follow waits for deploy and destroy jobs; tags tags launched VMs in batches.
	follow *follower
	tags   *tagBatcher
	// startTime tells NodeClaims this process created from those a previous process may have launched already.
	startTime time.Time
	// adoptTimeout bounds waiting for an adopted VM to run.
	adoptTimeout time.Duration
	// uncertain are NodeClaims whose deploy lost its answer: their next Create looks for the VM first.
	uncertain uncertainLaunches

	// capabilities caches whether the account may expunge (under expungeKey); mu serialises its loads.
	capabilities *gocache.Cache
	mu           sync.Mutex
}

const expungeKey = "allowuserexpungerecovervm"

var _ Provider = (*DefaultProvider)(nil)

// NewDefaultProvider returns a Provider for the VMs of one cluster.
func NewDefaultProvider(api cloudstack.API, unavailable *cache.UnavailableOfferings, owner Owner, opts ...Option) *DefaultProvider {
	p := &DefaultProvider{api: api, unavailable: unavailable, owner: owner, clock: time.Now, startTime: time.Now(), adoptTimeout: adoptTimeout}
	for _, o := range opts {
		o(p)
	}
	p.vms = newVMCache(api, p.clock)
	p.follow = newFollower(api, p.vms)
	firstPoll, _ := api.JobPollIntervals()
	p.tags = newTagBatcher(api, p.follow, tagBatchPolls*firstPoll)
	if p.offerings == nil {
		// A wiring bug, found at start-up: building a catalog here would silently list the offerings a second time.
		panic("instance.NewDefaultProvider needs WithServiceOfferings, the instance-type provider's catalog")
	}
	if p.capabilities == nil {
		p.capabilities = cache.New(CapabilitiesCacheName, cache.CapabilitiesTTL, cache.CleanupInterval)
	}
	return p
}

// Get implements Provider.
func (p *DefaultProvider) Get(ctx context.Context, id string) (*Instance, error) {
	return p.get(ctx, id, cache.InstancesTTL)
}

// GetForDrift implements Provider.
func (p *DefaultProvider) GetForDrift(ctx context.Context, id string) (*Instance, error) {
	return p.get(ctx, id, cache.InstanceDriftTTL)
}

func (p *DefaultProvider) get(ctx context.Context, id string, maxAge time.Duration) (*Instance, error) {
	vm, err := p.vms.get(ctx, id, maxAge)
	if err != nil {
		if cserrors.IsNotFound(err) {
			return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("getting VM %q, %w", id, err))
		}
		return nil, fmt.Errorf("getting VM %q, %w", id, err)
	}
	if isGone(vm.State) {
		return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("VM %q is %s", id, vm.State))
	}
	return NewInstance(vm), nil
}

// List implements Provider.
func (p *DefaultProvider) List(ctx context.Context) ([]*Instance, error) {
	all, err := p.ListAll(ctx)
	if err != nil {
		return nil, err
	}
	return lo.Reject(all, func(inst *Instance, _ int) bool { return isGone(inst.State) }), nil
}

// ListAll implements Provider.
func (p *DefaultProvider) ListAll(ctx context.Context) ([]*Instance, error) {
	// No tag filter: a VM whose tagging failed carries none, and is ours by its instance group alone.
	vms, err := p.vms.list(ctx, cache.InstancesTTL)
	if err != nil {
		return nil, fmt.Errorf("listing VMs of cluster %q, %w", p.owner.ClusterName, err)
	}
	out := make([]*Instance, 0, len(vms))
	for _, vm := range vms {
		inst := NewInstance(vm)
		if isDestroyed(vm.State) || !p.owner.Owns(inst.Tags, inst.Group) {
			continue
		}
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete implements Provider. A VM in Error is destroyed like any other: it still holds its volumes and name.
//
// The VM is read from the view up to InstanceDriftTTL old, like a drift check: Delete needs only what a VM keeps for
// its life (its tags, for its data disks), and a VM that went since is told apart by the destroy itself (CloudStack
// answers 431 for a removed VM and accepts the destroy of a destroyed one). A scale-down deletes nodes one after
// another as they drain, so a fresher read would cost a lookup for almost every node.
func (p *DefaultProvider) Delete(ctx context.Context, id string) error {
	vm, err := p.vms.get(ctx, id, cache.InstanceDriftTTL)
	if err != nil {
		if cserrors.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("deleting VM %q, %w", id, err))
		}
		return fmt.Errorf("getting VM %q, %w", id, err)
	}
	if isDestroyed(vm.State) {
		return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("VM %q is %s", id, vm.State))
	}
	volumeIDs, err := p.dataDiskIDs(ctx, vm)
	if err != nil {
		return err
	}
	if err := p.destroy(ctx, id, volumeIDs); err != nil {
		if cserrors.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("destroying VM %q, %w", id, err))
		}
		return fmt.Errorf("destroying VM %q, %w", id, err)
	}
	p.vms.gone(id)
	return nil
}

// CreateTags implements Provider. CloudStack refuses to create a tag whose key the VM already has, so changed
// values are deleted first; keys that already hold the wanted value are left alone.
func (p *DefaultProvider) CreateTags(ctx context.Context, id string, tags map[string]string) error {
	vm, err := p.vms.get(ctx, id, cache.InstancesTTL)
	if err != nil {
		if cserrors.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("tagging VM %q, %w", id, err))
		}
		return fmt.Errorf("getting VM %q, %w", id, err)
	}
	return p.updateTags(ctx, id, cloudstack.TagMap(vm.Tags), tags)
}

func (p *DefaultProvider) updateTags(ctx context.Context, id string, current, wanted map[string]string) error {
	stale, missing := map[string]string{}, map[string]string{}
	for k, v := range wanted {
		old, ok := current[k]
		switch {
		case !ok:
			missing[k] = v
		case old != v:
			stale[k] = old
			missing[k] = v
		}
	}
	if len(stale) > 0 {
		if err := p.api.DeleteTags(ctx, []string{id}, ResourceTypeVM, stale); err != nil {
			return fmt.Errorf("deleting stale tags of VM %q, %w", id, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := p.api.CreateTags(ctx, []string{id}, ResourceTypeVM, missing); err != nil {
		if cserrors.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("tagging VM %q, %w", id, err))
		}
		return fmt.Errorf("tagging VM %q, %w", id, err)
	}
	p.vms.tagged(id, missing)
	return nil
}

// Reboot implements Provider.
func (p *DefaultProvider) Reboot(ctx context.Context, id string) error {
	if err := p.api.RebootVM(ctx, id); err != nil {
		if cserrors.IsNotFound(err) {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("rebooting VM %q, %w", id, err))
		}
		return fmt.Errorf("rebooting VM %q, %w", id, err)
	}
	return nil
}

// destroy destroys a VM, expunging it where the account may. A key whose role lacks expungeVirtualMachine passes
// listCapabilities' allowuserexpungerecovervm yet has the expunge refused (the job fails, the VM is unchanged): then
// the VM is destroyed without expunge, which CloudStack completes after expunge.delay, and expunge stays off until
// the capabilities are read again.
//
// volumeIDs are data disks of the VM to destroy with it (destroyVirtualMachine's volumeids): CloudStack's expunge
// only detaches data disks (VolumeOrchestrator.cleanupVolumes), which then live on.
func (p *DefaultProvider) destroy(ctx context.Context, id string, volumeIDs []string) error {
	if !p.expungeAllowed(ctx) {
		return p.destroyAndWait(ctx, id, false, volumeIDs)
	}
	err := p.destroyAndWait(ctx, id, true, volumeIDs)
	if !cserrors.IsExpungeRefused(err) {
		return err
	}
	log.FromContext(ctx).Info("CloudStack refused to expunge; destroying without expunge (allow expungeVirtualMachine in the key's role to expunge at once)", "vm-id", id)
	p.capabilities.SetDefault(expungeKey, false)
	return p.destroyAndWait(ctx, id, false, volumeIDs)
}

// destroyAndWait destroys a VM and waits until it is gone, together with every other destroy in flight.
func (p *DefaultProvider) destroyAndWait(ctx context.Context, id string, expunge bool, volumeIDs []string) error {
	jobID, err := p.api.StartDestroyVM(ctx, id, expunge, volumeIDs...)
	if err != nil {
		return err
	}
	if _, err := p.follow.wait(ctx, destroyJob, id, jobID); err != nil {
		return fmt.Errorf("destroying VM %s, %w", id, err)
	}
	return nil
}

// expungeAllowed reports whether this account may expunge on destroy (allow.user.expunge.recover.vm), cached
// because it is global configuration. When it cannot be read the VM is only destroyed: CloudStack expunges it after
// expunge.delay, and a refused expunge would fail the whole delete.
func (p *DefaultProvider) expungeAllowed(ctx context.Context) bool {
	allowed, err := cache.GetOrLoad(p.capabilities, &p.mu, expungeKey, func() (bool, error) {
		c, err := p.api.Capabilities(ctx)
		if err != nil {
			return false, err
		}
		return c.Allowuserexpungerecovervm, nil
	})
	return err == nil && allowed
}
