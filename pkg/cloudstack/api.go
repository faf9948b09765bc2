package cloudstack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/log"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// ResourceTypeUserVM is the resource type of VMs in the tag APIs.
const ResourceTypeUserVM = "UserVm"

// TimeLayout is how CloudStack formats the timestamps (created, removed, ...) of every response.
const TimeLayout = "2006-01-02T15:04:05-0700"

// API is the subset of the CloudStack API the provider uses. Every method takes a context, pages list calls to the
// end, and returns errors already parsed by cserrors.Parse, so callers classify them with the cserrors helpers.
//
// With Options.Project set, every call that takes a projectid sends the project's ID, so listings show the project's
// resources (plus shared and public ones) and never the account's own, and deployVirtualMachine creates the VM in the
// project. Calls that address a resource by ID (destroy, reboot, tags) take no projectid; CloudStack checks that the
// key's account is a member of the owning project. When the project cannot be resolved those calls fail with a
// *cserrors.ProjectError before any request is sent.
type API interface {
	// ResolveProject asks listProjects for Options.Project: its ID, name, domain and state; nil and no error when no
	// project is configured. A project the key does not see (unknown, or the account is no member), an ambiguous name
	// or a project that is not Active fail with a *cserrors.ProjectError naming the setting and the fix.
	ResolveProject(ctx context.Context) (*Project, error)
	// ListZones lists the zones visible to the account, enabled or not.
	ListZones(ctx context.Context) ([]*csgo.Zone, error)
	// ListNetworks lists the networks of one zone the account can see.
	ListNetworks(ctx context.Context, zoneID string) ([]*csgo.Network, error)
	// ListTemplates lists the executable templates of one zone, ready or not (templatefilter=executable).
	ListTemplates(ctx context.Context, zoneID string) ([]*csgo.Template, error)
	// ListServiceOfferings lists the non-system compute offerings.
	ListServiceOfferings(ctx context.Context) ([]*csgo.ServiceOffering, error)
	// ListTags lists every tag of one resource type in one paged listing, so callers never ask per resource. It takes
	// no projectid: it serves service offerings, which belong to no account or project (with a projectid the server
	// would list only tags the project owns).
	ListTags(ctx context.Context, resourceType string) ([]*csgo.Tag, error)
	// ListAffinityGroups lists the account's affinity groups.
	ListAffinityGroups(ctx context.Context) ([]*csgo.AffinityGroup, error)
	// ListSSHKeyPairs lists the account's SSH key pairs.
	ListSSHKeyPairs(ctx context.Context) ([]*csgo.SSHKeyPair, error)
	// ListSecurityGroups lists the account's security groups, with their tags. Security groups belong to an account,
	// not a zone; only zones with securitygroupsenabled accept them.
	ListSecurityGroups(ctx context.Context) ([]*csgo.SecurityGroup, error)
	// DeployVM starts a deployment and returns at once with the new VM's ID and the job to wait for. It is never
	// retried: a lost response may still have created the VM.
	DeployVM(ctx context.Context, p *csgo.DeployVirtualMachineParams) (vmID, jobID string, err error)
	// WaitForJob polls an async job until it ends, ctx ends or the job timeout passes. A failed job returns its
	// *cserrors.APIError (for example 533 insufficient capacity); a successful one its jobresult.
	WaitForJob(ctx context.Context, jobID string) (json.RawMessage, error)
	// PollJob asks once for an async job's state: done is false while the job runs. A failed job is done with its
	// *cserrors.APIError; a failed request is not done and returns the request's error.
	PollJob(ctx context.Context, jobID string) (done bool, result json.RawMessage, err error)
	// JobSucceeded records the success of a job its caller saw end by other means (the VM it deployed is Running), for
	// the results metric; the job is not polled.
	JobSucceeded(jobID string)
	// JobPollIntervals are the delay before the first poll of a job and the longest delay between polls.
	JobPollIntervals() (first, max time.Duration)
	// GetVM returns one VM by ID; cserrors.IsNotFound when it does not exist (any more). An admin key may read
	// another account's VM by ID, so callers that act on it must check ownership themselves.
	GetVM(ctx context.Context, id string) (*csgo.VirtualMachine, error)
	// ListVMs lists the VMs of the key's own account that have exactly the given name (any, when empty) and carry
	// all of the given tags. It never passes listall: with it a domain-admin or root-admin key would list other
	// accounts' VMs, and nothing another account owns may ever look like ours. Project VMs are listed only by a client of
	// that project (Options.Project), which then lists no VM of the account itself.
	// CloudStack ORs tag filters and matches names by substring before 4.19, so both are checked here as well.
	ListVMs(ctx context.Context, name string, tags map[string]string) ([]*csgo.VirtualMachine, error)
	// ListVMsByID lists the VMs of the key's own account with these IDs in one request (ids=...); VMs that no longer
	// exist are left out. CloudStack refuses the whole request with 431 (cserrors.IsNotFound) when one ID never
	// existed.
	ListVMsByID(ctx context.Context, ids []string) ([]*csgo.VirtualMachine, error)
	// DestroyVM destroys a VM, expunging it when asked, and waits for the job.
	DestroyVM(ctx context.Context, id string, expunge bool) error
	// StartDestroyVM starts destroying a VM, expunging it when asked, and returns the job without waiting for it.
	// volumeIDs (destroyVirtualMachine's volumeids, 4.12+) are data disks of the VM destroyed with it: without them
	// CloudStack only detaches data disks when it expunges the VM, and they live on.
	StartDestroyVM(ctx context.Context, id string, expunge bool, volumeIDs ...string) (jobID string, err error)
	// Volumes is the volume (data disk) part of the API; see volumes.go.
	Volumes
	// RebootVM reboots a VM and waits for the job.
	RebootVM(ctx context.Context, id string) error
	// CreateTags adds tags to resources and waits for the job; a key a resource already has fails the job.
	CreateTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) error
	// StartCreateTags starts adding tags to resources and returns the job without waiting for it.
	StartCreateTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) (jobID string, err error)
	// DeleteTags removes tags (by key, and by value when non-empty) and waits for the job.
	DeleteTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) error
	// Capabilities returns the server's capabilities (version, allowuserexpungerecovervm, api limits). It is the
	// cheapest authenticated call, so it doubles as the connectivity and credentials check.
	Capabilities(ctx context.Context) (*csgo.Capability, error)
}

// ListZones implements API.
func (c *Client) ListZones(ctx context.Context) ([]*csgo.Zone, error) {
	return listAll(ctx, c, "listZones", func(n, size int) (page[*csgo.Zone], error) {
		p := &csgo.ListZonesParams{}
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Zone.ListZones(p)
		if err != nil {
			return page[*csgo.Zone]{}, err
		}
		return page[*csgo.Zone]{r.Zones, r.Count}, nil
	})
}

// ListNetworks implements API.
func (c *Client) ListNetworks(ctx context.Context, zoneID string) ([]*csgo.Network, error) {
	return listScoped(ctx, c, "listNetworks", func(pid string, n, size int) (page[*csgo.Network], error) {
		p := &csgo.ListNetworksParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetZoneid(zoneID)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Network.ListNetworks(p)
		if err != nil {
			return page[*csgo.Network]{}, err
		}
		return page[*csgo.Network]{r.Networks, r.Count}, nil
	})
}

// ListTemplates implements API.
func (c *Client) ListTemplates(ctx context.Context, zoneID string) ([]*csgo.Template, error) {
	return listScoped(ctx, c, "listTemplates", func(pid string, n, size int) (page[*csgo.Template], error) {
		p := &csgo.ListTemplatesParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetTemplatefilter("executable")
		p.SetZoneid(zoneID)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Template.ListTemplates(p)
		if err != nil {
			return page[*csgo.Template]{}, err
		}
		return page[*csgo.Template]{r.Templates, r.Count}, nil
	})
}

// ListServiceOfferings implements API.
func (c *Client) ListServiceOfferings(ctx context.Context) ([]*csgo.ServiceOffering, error) {
	return listAll(ctx, c, "listServiceOfferings", func(n, size int) (page[*csgo.ServiceOffering], error) {
		p := &csgo.ListServiceOfferingsParams{}
		p.SetIssystem(false)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().ServiceOffering.ListServiceOfferings(p)
		if err != nil {
			return page[*csgo.ServiceOffering]{}, err
		}
		return page[*csgo.ServiceOffering]{r.ServiceOfferings, r.Count}, nil
	})
}

// ListTags implements API.
func (c *Client) ListTags(ctx context.Context, resourceType string) ([]*csgo.Tag, error) {
	return listAll(ctx, c, "listTags", func(n, size int) (page[*csgo.Tag], error) {
		p := &csgo.ListTagsParams{}
		p.SetResourcetype(resourceType)
		p.SetListall(true)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Resourcetags.ListTags(p)
		if err != nil {
			return page[*csgo.Tag]{}, err
		}
		return page[*csgo.Tag]{r.Tags, r.Count}, nil
	})
}

// ListAffinityGroups implements API.
func (c *Client) ListAffinityGroups(ctx context.Context) ([]*csgo.AffinityGroup, error) {
	return listScoped(ctx, c, "listAffinityGroups", func(pid string, n, size int) (page[*csgo.AffinityGroup], error) {
		p := &csgo.ListAffinityGroupsParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().AffinityGroup.ListAffinityGroups(p)
		if err != nil {
			return page[*csgo.AffinityGroup]{}, err
		}
		return page[*csgo.AffinityGroup]{r.AffinityGroups, r.Count}, nil
	})
}

// ListSSHKeyPairs implements API.
func (c *Client) ListSSHKeyPairs(ctx context.Context) ([]*csgo.SSHKeyPair, error) {
	return listScoped(ctx, c, "listSSHKeyPairs", func(pid string, n, size int) (page[*csgo.SSHKeyPair], error) {
		p := &csgo.ListSSHKeyPairsParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().SSH.ListSSHKeyPairs(p)
		if err != nil {
			return page[*csgo.SSHKeyPair]{}, err
		}
		return page[*csgo.SSHKeyPair]{r.SSHKeyPairs, r.Count}, nil
	})
}

// ListSecurityGroups implements API.
func (c *Client) ListSecurityGroups(ctx context.Context) ([]*csgo.SecurityGroup, error) {
	return listScoped(ctx, c, "listSecurityGroups", func(pid string, n, size int) (page[*csgo.SecurityGroup], error) {
		p := &csgo.ListSecurityGroupsParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().SecurityGroup.ListSecurityGroups(p)
		if err != nil {
			return page[*csgo.SecurityGroup]{}, err
		}
		return page[*csgo.SecurityGroup]{r.SecurityGroups, r.Count}, nil
	})
}

// DeployVM implements API.
func (c *Client) DeployVM(ctx context.Context, p *csgo.DeployVirtualMachineParams) (string, string, error) {
	pid, err := c.projectID(ctx)
	if err != nil {
		return "", "", err
	}
	setIfSet(pid, p.SetProjectid)
	r, err := do(ctx, c, "deployVirtualMachine", func() (*csgo.DeployVirtualMachineResponse, error) {
		return c.sdk.Load().VirtualMachine.DeployVirtualMachine(p)
	})
	if err != nil {
		return "", "", c.inProject(err)
	}
	c.startedJob("deployVirtualMachine", r.JobID)
	return r.Id, r.JobID, nil
}

// GetVM implements API.
func (c *Client) GetVM(ctx context.Context, id string) (*csgo.VirtualMachine, error) {
	pid, err := c.projectID(ctx)
	if err != nil {
		return nil, err
	}
	r, err := read(ctx, c, "listVirtualMachines", func() (*csgo.ListVirtualMachinesResponse, error) {
		p := &csgo.ListVirtualMachinesParams{}
		p.SetId(id)
		setIfSet(pid, p.SetProjectid)
		return c.sdk.Load().VirtualMachine.ListVirtualMachines(p)
	})
	if err != nil {
		return nil, c.inProject(err)
	}
	for _, vm := range r.VirtualMachines {
		if vm.Id == id {
			return vm, nil
		}
	}
	// An expunged VM's ID still resolves server side, so the answer is an empty list rather than a 431.
	return nil, cserrors.NewNotFound("virtual machine", id)
}

// ListVMs implements API.
func (c *Client) ListVMs(ctx context.Context, name string, tags map[string]string) ([]*csgo.VirtualMachine, error) {
	vms, err := c.listVMs(ctx, func(p *csgo.ListVirtualMachinesParams) {
		if name != "" {
			p.SetName(name)
		}
		if len(tags) > 0 {
			// The server ORs these, which still narrows the listing; the AND happens below.
			p.SetTags(tags)
		}
	})
	if err != nil {
		return nil, err
	}
	out := vms[:0]
	for _, vm := range vms {
		if (name == "" || vm.Name == name) && hasAllTags(vm.Tags, tags) {
			out = append(out, vm)
		}
	}
	return out, nil
}

// ListVMsByID implements API.
func (c *Client) ListVMsByID(ctx context.Context, ids []string) ([]*csgo.VirtualMachine, error) {
	return c.listVMs(ctx, func(p *csgo.ListVirtualMachinesParams) { p.SetIds(ids) })
}

// listVMs pages through listVirtualMachines with the filters set sets, in the key's own account or its project (no
// listall).
func (c *Client) listVMs(ctx context.Context, set func(*csgo.ListVirtualMachinesParams)) ([]*csgo.VirtualMachine, error) {
	return listScoped(ctx, c, "listVirtualMachines", func(pid string, n, size int) (page[*csgo.VirtualMachine], error) {
		p := &csgo.ListVirtualMachinesParams{}
		setIfSet(pid, p.SetProjectid)
		set(p)
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().VirtualMachine.ListVirtualMachines(p)
		if err != nil {
			return page[*csgo.VirtualMachine]{}, err
		}
		return page[*csgo.VirtualMachine]{r.VirtualMachines, r.Count}, nil
	})
}

func hasAllTags(have []csgo.Tags, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, t := range have {
			if t.Key == k && t.Value == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TagMap turns the tag list of a CloudStack resource into a map.
func TagMap(tags []csgo.Tags) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	return out
}

// DestroyVM implements API.
func (c *Client) DestroyVM(ctx context.Context, id string, expunge bool) error {
	jobID, err := c.StartDestroyVM(ctx, id, expunge)
	if err != nil {
		return err
	}
	if _, err := c.WaitForJob(ctx, jobID); err != nil {
		return fmt.Errorf("destroying virtual machine %s: %w", id, err)
	}
	return nil
}

// StartDestroyVM implements API.
func (c *Client) StartDestroyVM(ctx context.Context, id string, expunge bool, volumeIDs ...string) (string, error) {
	r, err := do(ctx, c, "destroyVirtualMachine", func() (*csgo.DestroyVirtualMachineResponse, error) {
		p := &csgo.DestroyVirtualMachineParams{}
		p.SetId(id)
		p.SetExpunge(expunge)
		if len(volumeIDs) > 0 {
			p.SetVolumeids(volumeIDs)
		}
		return c.sdk.Load().VirtualMachine.DestroyVirtualMachine(p)
	})
	if err != nil {
		return "", err
	}
	c.startedJob("destroyVirtualMachine", r.JobID)
	return r.JobID, nil
}

// RebootVM implements API.
func (c *Client) RebootVM(ctx context.Context, id string) error {
	r, err := do(ctx, c, "rebootVirtualMachine", func() (*csgo.RebootVirtualMachineResponse, error) {
		p := &csgo.RebootVirtualMachineParams{}
		p.SetId(id)
		return c.sdk.Load().VirtualMachine.RebootVirtualMachine(p)
	})
	if err != nil {
		return err
	}
	c.startedJob("rebootVirtualMachine", r.JobID)
	if _, err := c.WaitForJob(ctx, r.JobID); err != nil {
		return fmt.Errorf("rebooting virtual machine %s, %w", id, err)
	}
	return nil
}

// CreateTags implements API.
func (c *Client) CreateTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) error {
	jobID, err := c.StartCreateTags(ctx, resourceIDs, resourceType, tags)
	if err != nil {
		return err
	}
	if _, err := c.WaitForJob(ctx, jobID); err != nil {
		return fmt.Errorf("tagging %s %v, %w", resourceType, resourceIDs, err)
	}
	return nil
}

// StartCreateTags implements API.
func (c *Client) StartCreateTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) (string, error) {
	r, err := do(ctx, c, "createTags", func() (*csgo.CreateTagsResponse, error) {
		p := &csgo.CreateTagsParams{}
		p.SetResourceids(resourceIDs)
		p.SetResourcetype(resourceType)
		p.SetTags(tags)
		return c.sdk.Load().Resourcetags.CreateTags(p)
	})
	if err != nil {
		return "", err
	}
	c.startedJob("createTags", r.JobID)
	return r.JobID, nil
}

// DeleteTags implements API.
func (c *Client) DeleteTags(ctx context.Context, resourceIDs []string, resourceType string, tags map[string]string) error {
	r, err := do(ctx, c, "deleteTags", func() (*csgo.DeleteTagsResponse, error) {
		p := &csgo.DeleteTagsParams{}
		p.SetResourceids(resourceIDs)
		p.SetResourcetype(resourceType)
		if len(tags) > 0 {
			p.SetTags(tags)
		}
		return c.sdk.Load().Resourcetags.DeleteTags(p)
	})
	if err != nil {
		return err
	}
	c.startedJob("deleteTags", r.JobID)
	if _, err := c.WaitForJob(ctx, r.JobID); err != nil {
		return fmt.Errorf("removing tags from %s %v, %w", resourceType, resourceIDs, err)
	}
	return nil
}

// Capabilities implements API.
func (c *Client) Capabilities(ctx context.Context) (*csgo.Capability, error) {
	r, err := read(ctx, c, "listCapabilities", func() (*csgo.ListCapabilitiesResponse, error) {
		return c.sdk.Load().Configuration.ListCapabilities(&csgo.ListCapabilitiesParams{})
	})
	if err != nil {
		return nil, err
	}
	if r.Capabilities == nil {
		return nil, fmt.Errorf("listCapabilities returned no capability object")
	}
	c.followServerLimit(ctx, r.Capabilities.Apilimitmax, r.Capabilities.Apilimitinterval)
	return r.Capabilities, nil
}

// followServerLimit keeps the client under the server's api.throttling limit, which listCapabilities reports only
// when api.throttling.enabled is set: serverLimitShare of max per interval, with a burst small enough that no
// interval sees more than max requests (burst + rate x interval <= max). The configured QPS and Burst stay the
// ceiling; without an advertised limit they apply as configured.
func (c *Client) followServerLimit(ctx context.Context, limitMax, interval int) {
	qps, burst := c.opts.QPS, c.opts.Burst
	if limitMax > 0 && interval > 0 {
		qps = min(qps, serverLimitShare*float64(limitMax)/float64(interval))
		burst = min(burst, max(1, int((1-serverLimitShare)*float64(limitMax))))
	}
	if c.limiter.Limit() == rate.Limit(qps) && c.limiter.Burst() == burst {
		return
	}
	log.FromContext(ctx).Info("following the management server's API limit", "serverMax", limitMax, "serverIntervalSeconds", interval,
		"qps", qps, "burst", burst)
	c.limiter.SetLimit(rate.Limit(qps))
	c.limiter.SetBurst(burst)
}

// listScoped is listAll for the list calls that take a projectid: fetch gets the project's ID, "" without a project.
func listScoped[T any](ctx context.Context, c *Client, command string, fetch func(projectID string, pageNo, pageSize int) (page[T], error)) ([]T, error) {
	pid, err := c.projectID(ctx)
	if err != nil {
		return nil, err
	}
	out, err := listAll(ctx, c, command, func(n, size int) (page[T], error) { return fetch(pid, n, size) })
	return out, c.inProject(err)
}

// setIfSet calls set with v unless v is empty: CloudStack reads an empty projectid as a malformed UUID.
func setIfSet(v string, set func(string)) {
	if v != "" {
		set(v)
	}
}
