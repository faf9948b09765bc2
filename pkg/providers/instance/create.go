package instance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/samber/lo"
	"go.uber.org/multierr"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype/kubelet"
)

// maxLaunchAttempts bounds how many candidates one Create tries after capacity failures. Each failed attempt costs a
// full deploy job; after a few, returning InsufficientCapacity lets Karpenter re-plan with the updated
// unavailable-offerings cache instead of holding the NodeClaim for minutes.
const maxLaunchAttempts = 3

// cleanupTimeout bounds destroying a failed VM, which runs even when the Create context is already done; retries
// start cleanupRetryDelay apart.
const (
	cleanupTimeout    = 2 * time.Minute
	cleanupRetryDelay = 250 * time.Millisecond
)

// A deploy refused without effect (throttled, internal error) or whose answer was lost without a VM is sent again,
// up to deployAttempts times in all, deployRetryDelay apart and doubling: each failed Create costs a NodeClaim
// Karpenter's growing backoff, which under an api limit left pods pending for minutes.
const (
	deployAttempts   = 4
	deployRetryDelay = 250 * time.Millisecond
)

// Adopting a VM that a lost Create left starting polls it with this backoff, up to adoptTimeout.
const (
	adoptPollInterval    = 250 * time.Millisecond
	adoptPollMaxInterval = 5 * time.Second
	adoptTimeout         = 10 * time.Minute
)

// Reasons recorded in the unavailable-offerings cache.
const (
	reasonInsufficientCapacity = "InsufficientCapacity"
	reasonLimitExceeded        = "LimitExceeded"
	reasonZoneDisabled         = "ZoneDisabled"
)

// UserData returns the gzip'ed (or plain) and base64-encoded userData of a VM of the instance type and shape (from
// its launch spec): the kubelet reservations it carries depend on the VM's size.
type UserData func(it *cloudprovider.InstanceType, shape kubelet.Shape) (string, error)

// StaticUserData is userData that does not depend on the instance type.
func StaticUserData(encoded string) UserData {
	return func(*cloudprovider.InstanceType, kubelet.Shape) (string, error) { return encoded, nil }
}

// errRedeploy asks Create to deploy the same candidate again: the VM found under the NodeClaim's name was in Error
// and has been destroyed.
var errRedeploy = errors.New("existing VM was in Error and has been destroyed")

// Create implements Provider.
func (p *DefaultProvider) Create(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim,
	instanceTypes []*cloudprovider.InstanceType, userData UserData) (*Instance, error) {
	specs, err := p.offerings.LaunchSpecs(ctx, nodeClass)
	if err != nil {
		return nil, cloudprovider.NewCreateError(fmt.Errorf("resolving the launch specs of nodeclaim %q, %w", nodeClaim.Name, err),
			"LaunchFailed", "Failed to resolve the service offerings of the instance types")
	}
	candidates := p.candidates(nodeClaim, instanceTypes, specs)
	// A NodeClaim older than this process may have had its VM deployed by the previous process, possibly in
	// another zone than the one the cheapest candidate picks now, where no duplicate-hostname error would stop a
	// second deploy. Only for those is the cost of a lookup before deploy worth it.
	// The same holds for a NodeClaim whose last deploy (or the wait for it) lost its answer in this process: the VM
	// may exist although no answer said so.
	redeployed := false
	if (!nodeClaim.CreationTimestamp.IsZero() && nodeClaim.CreationTimestamp.Time.Before(p.startTime)) || p.uncertain.has(nodeClaim.Name) {
		existing, found, err := p.findByName(ctx, Hostname(nodeClaim.Name))
		if err != nil {
			return nil, cloudprovider.NewCreateError(err, "LaunchFailed", "Failed to look up the VM of a NodeClaim whose launch may have happened unseen")
		}
		p.uncertain.forget(nodeClaim.Name)
		if found {
			inst, err := p.adopt(ctx, existing, p.Tags(nodeClass, nodeClaim))
			if !errors.Is(err, errRedeploy) {
				return inst, err
			}
			redeployed = true
		}
	}
	// Only now may capacity end the Create: a VM found above is adopted even when no offering is available any more,
	// or the NodeClaim would be deleted as unlaunchable while its VM runs (and a Node registers for it).
	if len(candidates) == 0 {
		return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("no available offering of %d instance types is compatible with the requirements of nodeclaim %q",
			len(instanceTypes), nodeClaim.Name))
	}
	var capacityErrs error
	for attempt := 0; attempt < len(candidates) && attempt < maxLaunchAttempts; attempt++ {
		c := candidates[attempt]
		encoded, err := userData(c.instanceType, c.shape)
		if err != nil {
			return nil, cloudprovider.NewCreateError(fmt.Errorf("rendering userData for %s, %w", c.instanceType.Name, err), "UserDataRenderFailed", err.Error())
		}
		inst, err := p.launch(ctx, nodeClass, nodeClaim, c, encoded)
		if errors.Is(err, errRedeploy) && !redeployed {
			redeployed = true
			attempt--
			continue
		}
		if err == nil {
			return inst, nil
		}
		reason := ""
		switch {
		case cserrors.IsInsufficientCapacity(err):
			reason = reasonInsufficientCapacity
		case cserrors.IsLimitExceeded(err):
			reason = reasonLimitExceeded
		case cserrors.IsZoneDisabled(err):
			// Disabled after the NodeClass last resolved its zones: try the other zones now.
			reason = reasonZoneDisabled
		default:
			return nil, cloudprovider.NewCreateError(fmt.Errorf("launching nodeclaim %q as %s in zone %s, %w", nodeClaim.Name, c.instanceType.Name, c.zone.Name, err),
				"LaunchFailed", fmt.Sprintf("CloudStack rejected the VM: %s", truncate(err.Error(), 300)))
		}
		p.unavailable.MarkUnavailable(ctx, reason, c.instanceType.Name, c.zone.Name)
		capacityErrs = multierr.Append(capacityErrs, fmt.Errorf("%s in zone %s, %w", c.instanceType.Name, c.zone.Name, err))
	}
	return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("launching nodeclaim %q, %w", nodeClaim.Name, capacityErrs))
}

// launch deploys one candidate and waits for it. Tagging happens between deploy and wait, so ownership is recorded
// even when this process dies while the VM starts. Every failure after deploy destroys the VM.
func (p *DefaultProvider) launch(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, c candidate, userData string) (*Instance, error) {
	params, err := p.deployParams(ctx, nodeClass, nodeClaim, c, userData)
	if err != nil {
		return nil, err
	}
	tags := p.Tags(nodeClass, nodeClaim)
	vmID, jobID, existing, err := p.deploy(ctx, nodeClaim, params)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return p.adopt(ctx, existing, tags)
	}
	// Tagging while the VM starts records what it is for even if this process dies now; ownership itself is already
	// proven by the instance group deploy set. Launches with the same tags share the call.
	tagged := make(chan error, 1)
	go func() { tagged <- p.tags.tag(ctx, vmID, tags) }()
	vm, err := p.follow.wait(ctx, deployJob, vmID, jobID)
	// The deploy ended: a batch still open for this VM goes now rather than hold the NodeClaim. The tagging result
	// comes first even on failure: the cleanup must not destroy a VM its batch still names.
	p.tags.flush(vmID, tags)
	tagErr := <-tagged
	if err != nil {
		if ambiguous(err) {
			// The job's outcome is unknown (CloudStack unreachable, or this Create cancelled): the VM may well be
			// starting. Destroying it would waste a good launch, and a destroy that fails too would leave it to run
			// beside a second one; the next Create adopts it instead (or redeploys if it ended in Error).
			p.uncertain.add(nodeClaim.Name)
			return nil, fmt.Errorf("waiting for deploy job %s of VM %s, %w", jobID, vmID, err)
		}
		_ = p.cleanup(ctx, vmID, nil)
		return nil, fmt.Errorf("waiting for deploy job %s of VM %s, %w", jobID, vmID, err)
	}
	if isGone(vm.State) {
		_ = p.cleanup(ctx, vmID, nil)
		return nil, fmt.Errorf("VM %s is %s after its deploy job succeeded", vmID, vm.State)
	}
	if err := p.addDataDisks(ctx, nodeClass, nodeClaim, vmID, c.zone.ID); err != nil {
		// The VM is useless without its disks: destroy it with every data disk it has (the deploy's and those
		// attached), after addDataDisks deleted the ones it created but did not attach.
		disks, listErr := p.api.ListDataDisks(context.WithoutCancel(ctx), vmID, nil)
		if listErr != nil {
			log.FromContext(ctx).Error(listErr, "listing the data disks of a failed launch; the garbage collector deletes them once detached", "vm-id", vmID)
		}
		_ = p.cleanup(ctx, vmID, lo.Map(disks, func(d *csgo.Volume, _ int) string { return d.Id }))
		return nil, err
	}
	p.vms.put(vm)
	inst := NewInstance(vm)
	if tagErr == nil {
		p.vms.tagged(vmID, tags)
	} else {
		if err := p.updateTags(ctx, vmID, inst.Tags, tags); err != nil {
			// The VM is ours by its instance group, so List and the garbage collector still see it, and the
			// garbage collector adds the missing tags on its next pass. The NodeClaim can use it now.
			log.FromContext(ctx).Error(err, "tagging VM failed twice, the garbage collector will retry", "vm-id", vmID, "first-error", tagErr.Error())
			return inst, nil
		}
	}
	for k, v := range tags {
		inst.Tags[k] = v
	}
	return inst, nil
}

// deploy sends the deploy, and sends it again, up to deployAttempts times, after an answer that says nothing
// happened (throttling, an internal error) or a lost answer when no VM of the name exists. When the VM turns out to
// exist already (a duplicate hostname, or a lost answer after which the lookup finds it), it returns that VM to adopt.
func (p *DefaultProvider) deploy(ctx context.Context, nodeClaim *karpv1.NodeClaim, params *csgo.DeployVirtualMachineParams) (vmID, jobID string, existing *csgo.VirtualMachine, err error) {
	delay := deployRetryDelay
	for attempt := 1; ; attempt++ {
		vmID, jobID, err = p.api.DeployVM(ctx, params)
		if err == nil {
			return vmID, jobID, nil, nil
		}
		retry := cserrors.IsThrottled(err) || cserrors.Code(err) == cserrors.CodeInternalError
		switch {
		case cserrors.IsInvalidParameter(err):
			// A duplicate hostname is a 431 like any bad parameter; only then is it worth looking for our own VM.
			vm, found, lookupErr := p.findByName(ctx, Hostname(nodeClaim.Name))
			if lookupErr != nil {
				return "", "", nil, multierr.Append(fmt.Errorf("deploying VM, %w", err), lookupErr)
			}
			if found {
				return "", "", vm, nil
			}
		case ambiguous(err):
			// The server may have created the VM and only its answer was lost: look for it before anything else.
			p.uncertain.add(nodeClaim.Name)
			vm, found, lookupErr := p.findByName(ctx, Hostname(nodeClaim.Name))
			if lookupErr != nil {
				return "", "", nil, multierr.Append(fmt.Errorf("deploying VM, the answer was lost, %w", err), lookupErr)
			}
			p.uncertain.forget(nodeClaim.Name)
			if found {
				return "", "", vm, nil
			}
			retry = ctx.Err() == nil
		}
		if !retry || attempt >= deployAttempts {
			return "", "", nil, fmt.Errorf("deploying VM, %w", err)
		}
		select {
		case <-ctx.Done():
			return "", "", nil, fmt.Errorf("deploying VM, %w", err)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (p *DefaultProvider) deployParams(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, c candidate, userData string) (*csgo.DeployVirtualMachineParams, error) {
	params := &csgo.DeployVirtualMachineParams{}
	params.SetServiceofferingid(c.offeringID)
	params.SetTemplateid(c.template.ID)
	params.SetZoneid(c.zone.ID)
	params.SetName(Hostname(nodeClaim.Name))
	params.SetDisplayname(nodeClaim.Name)
	params.SetGroup(p.owner.Group())
	params.SetNetworkids(c.networkIDs)
	if userData != "" {
		params.SetUserdata(userData)
	}
	if nodeClass.Status.SSHKeyPair != "" {
		params.SetKeypair(nodeClass.Status.SSHKeyPair)
	}
	if len(nodeClass.Status.AffinityGroups) > 0 {
		ids := make([]string, 0, len(nodeClass.Status.AffinityGroups))
		for _, g := range nodeClass.Status.AffinityGroups {
			ids = append(ids, g.ID)
		}
		params.SetAffinitygroupids(ids)
	}
	if len(nodeClass.Status.SecurityGroups) > 0 {
		// Only security-group zones are Ready with groups selected: CloudStack refuses the parameter elsewhere.
		params.SetSecuritygroupids(lo.Map(nodeClass.Status.SecurityGroups, func(g v1.SecurityGroup, _ int) string { return g.ID }))
	}
	if gib, ok := nodeClass.RootDiskSizeGiB(); ok {
		params.SetRootdisksize(gib)
	}
	if disks := nodeClass.Status.DataDisks; len(disks) > 0 {
		// The first data disk comes with the deploy, so it is there when the VM first boots (device 1).
		params.SetDiskofferingid(disks[0].DiskOfferingID)
		if disks[0].Customized {
			params.SetSize(disks[0].SizeGiB)
		}
	}
	if len(c.details) > 0 {
		params.SetDetails(c.details)
	}
	return params, nil
}

// Tags implements Provider. The ownership and identity tags win over the NodeClass's on conflict. They are the same
// for every VM of a NodeClass and NodePool, so launches share createTags calls; the NodeClaim's own name is the VM's
// display name, set by deploy.
func (p *DefaultProvider) Tags(nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim) map[string]string {
	tags := make(map[string]string, len(nodeClass.Spec.Tags)+5)
	for k, v := range nodeClass.Spec.Tags {
		tags[k] = v
	}
	for k, v := range p.owner.Tags() {
		tags[k] = v
	}
	tags[v1.TagKeyNodeClass] = nodeClass.Name
	if n := len(nodeClass.Status.DataDisks); n > 0 {
		tags[v1.TagKeyDataDisks] = strconv.Itoa(n)
	}
	if np := nodeClaim.Labels[karpv1.NodePoolLabelKey]; np != "" {
		tags[v1.TagKeyNodePool] = np
	}
	return tags
}

// findByName looks for this cluster's VM with exactly that hostname. The server filters by name (exactly from 4.19,
// by substring before), so the lookup stays one short listing however many VMs the account has; no tag filter, as a
// VM whose tagging failed carries only its name and instance group. It runs only for NodeClaims older than the
// process and after a deploy was refused, never on the happy path.
func (p *DefaultProvider) findByName(ctx context.Context, name string) (*csgo.VirtualMachine, bool, error) {
	vms, err := p.api.ListVMs(ctx, name, nil)
	if err != nil {
		return nil, false, fmt.Errorf("looking up VM %q, %w", name, err)
	}
	for _, vm := range vms {
		if !isDestroyed(vm.State) && p.owner.Owns(cloudstack.TagMap(vm.Tags), vm.Group) {
			return vm, true, nil
		}
	}
	return nil, false, nil
}

// adopt takes over a VM a previous Create launched for the same NodeClaim: it completes its tags and waits until
// it is running.
func (p *DefaultProvider) adopt(ctx context.Context, vm *csgo.VirtualMachine, tags map[string]string) (*Instance, error) {
	log.FromContext(ctx).V(1).Info("adopting existing VM", "vm-id", vm.Id, "vm-name", vm.Name, "state", vm.State)
	tagErr := p.updateTags(ctx, vm.Id, cloudstack.TagMap(vm.Tags), tags)
	if tagErr != nil {
		log.FromContext(ctx).Error(tagErr, "tagging adopted VM", "vm-id", vm.Id)
	}
	waitCtx, cancel := context.WithTimeout(ctx, p.adoptTimeout)
	defer cancel()
	interval := adoptPollInterval
	for vm.State != StateRunning {
		if vm.State == StateError {
			// Until it is gone the VM in Error holds the hostname on its network: a redeploy there would be refused
			// as a duplicate and find this VM again.
			if err := p.cleanup(ctx, vm.Id, nil); err != nil {
				return nil, fmt.Errorf("destroying VM %s, which a previous launch left in Error, %w", vm.Id, err)
			}
			return nil, errRedeploy
		}
		select {
		case <-waitCtx.Done():
			return nil, fmt.Errorf("waiting for adopted VM %s to run (state %s), %w", vm.Id, vm.State, waitCtx.Err())
		case <-time.After(interval):
		}
		interval = min(interval*2, adoptPollMaxInterval)
		next, err := p.api.GetVM(waitCtx, vm.Id)
		if err != nil {
			return nil, fmt.Errorf("getting adopted VM %s, %w", vm.Id, err)
		}
		vm = next
	}
	p.vms.put(vm)
	if tagErr == nil {
		p.vms.tagged(vm.Id, tags)
	}
	inst := NewInstance(vm)
	for k, v := range tags {
		inst.Tags[k] = v
	}
	return inst, nil
}

// cleanup destroys a VM whose launch failed (a failed deploy job leaves it in Error, holding its name and volumes).
// It runs on a context of its own so a cancelled Create still cleans up, and retries what CloudStack refused without
// acting (throttling) or may not have done (internal errors, lost answers): destroying is safe to repeat. What is
// still left after cleanupTimeout is the garbage collector's.
func (p *DefaultProvider) cleanup(ctx context.Context, vmID string, volumeIDs []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	delay := cleanupRetryDelay
	for {
		err := p.destroy(ctx, vmID, volumeIDs)
		if err == nil || cserrors.IsNotFound(err) {
			return nil
		}
		if !cserrors.IsTransient(err) || ctx.Err() != nil {
			log.FromContext(ctx).Error(err, "destroying VM of a failed launch; the garbage collector will retry", "vm-id", vmID)
			return err
		}
		select {
		case <-ctx.Done():
			log.FromContext(ctx).Error(err, "destroying VM of a failed launch; the garbage collector will retry", "vm-id", vmID)
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, adoptPollMaxInterval)
	}
}

// ambiguous reports a failure after which CloudStack may or may not have acted: no answer came (transport error,
// timeout, garbled body, cancelled wait), as opposed to an answer that refused the request.
func ambiguous(err error) bool { return err != nil && cserrors.Code(err) == 0 }

// uncertainLaunches are the NodeClaims whose VM may exist although this process never got an answer saying so.
type uncertainLaunches struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func (u *uncertainLaunches) add(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.names == nil {
		u.names = map[string]struct{}{}
	}
	u.names[name] = struct{}{}
}

func (u *uncertainLaunches) has(name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.names[name]
	return ok
}

func (u *uncertainLaunches) forget(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.names, name)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
