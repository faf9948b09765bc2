package cache

import "time"

const (
	// DefaultTTL bounds how stale a cached CloudStack listing may be when nothing else is said. A minute is short
	// enough that an operator who fixes a NodeClass dependency (creates a network, tags a template) sees it picked up
	// within one NodeClass reconcile period, and long enough that bursts of reconciles share one listing.
	DefaultTTL = time.Minute
	// ZonesTTL is longer than the default: zones are created or disabled by cloud administrators a few times a year,
	// and every NodeClass and every instance-type computation needs them.
	ZonesTTL = 5 * time.Minute
	// NetworksTTL is the default: networks are created by tenants, and a NodeClass that waits for its network should
	// become ready soon after the network exists.
	NetworksTTL = DefaultTTL
	// TemplatesTTL is the default: a newly registered template version is a drift trigger, and a minute of delay in
	// rolling nodes to it is immaterial, while listTemplates is one of the heavier list calls.
	TemplatesTTL = DefaultTTL
	// AffinityGroupsTTL is the default: affinity groups are created by tenants alongside the NodeClass.
	AffinityGroupsTTL = DefaultTTL
	// SSHKeyPairsTTL is the default, for the same reason as affinity groups.
	SSHKeyPairsTTL = DefaultTTL
	// SecurityGroupsTTL is the default, for the same reason as affinity groups.
	SecurityGroupsTTL = DefaultTTL
	// DiskOfferingsTTL is the default: disk offerings are an administrator's catalog, and a deleted one must stop
	// NodeClasses from launching within the minute their resolution runs.
	DiskOfferingsTTL = DefaultTTL
	// ProjectTTL bounds how long a membership check of the configured project is reused: a minute after an account
	// leaves the project (or the project is suspended), every NodeClass turns not Ready. The project's ID itself is
	// kept by the client for as long as the server accepts it.
	ProjectTTL = DefaultTTL
	// ServiceOfferingsTTL is longer than the default: offerings are an administrator's catalog that changes rarely,
	// and a refresh controller updates the instance-type catalog on its own schedule.
	ServiceOfferingsTTL = 5 * time.Minute
	// InstanceTypesTTL bounds the computed instance types. They are also keyed by everything they derive from
	// (NodeClass hash, zones, catalog generation, unavailable-offerings sequence number), so this only frees memory
	// of keys that are no longer used.
	InstanceTypesTTL = 5 * time.Minute
	// CapabilitiesTTL: server capabilities (allowuserexpungerecovervm, API limits) change only with a management
	// server reconfiguration, so an hour avoids the per-delete listCapabilities call other integrations make.
	CapabilitiesTTL = time.Hour
	// InstancesTTL bounds how stale the provider's view of the cluster's VMs may be for Get, List and Delete. Karpenter
	// core asks for many NodeClaims at once (garbage collection lists every VM, termination reads each node's VM), and a
	// few seconds let one listing or one batched lookup answer all of them. VMs this process launches or destroys are
	// in the view at once, so the delay only concerns changes made by others (a VM destroyed out of band).
	InstancesTTL = 10 * time.Second
	// InstanceDriftTTL bounds the staleness of the VM a drift check compares with its NodeClass. Drift compares only
	// what a VM keeps for its lifetime (zone, template, offering, default network), so one listing of the cluster's VMs
	// per garbage-collection pass serves every drift check in between, whatever the number of nodes.
	InstanceDriftTTL = 10 * time.Minute
	// InstanceGoneTTL is how long the provider's view answers "not found" for a VM it saw go (destroyed by this
	// process, or not found by a lookup), whatever the caller's maxAge: a VM ID never comes back, and Karpenter core
	// asks for a deleted node's VM several times (node termination's Delete and its requeue, then the NodeClaim
	// finalizer's Delete), often more than InstancesTTL apart while a scale-down queues hundreds of nodes. An hour
	// bounds the memory of IDs nobody asks for any more.
	InstanceGoneTTL = time.Hour
	// UnavailableOfferingsTTL is how long an (instance type, zone) pair stays unavailable after a capacity error.
	// CloudStack capacity frees up when other VMs are destroyed, which happens on a scale of minutes; three minutes
	// lets Karpenter fall back to other offerings at once and retry the preferred one soon after.
	UnavailableOfferingsTTL = 3 * time.Minute
	// FailedLoadTTL only bounds how long a failed load's error is kept in memory. It is handed to callers that were
	// already waiting for that load (GetOrLoad), never to a caller that arrives after it, so it delays no retry.
	FailedLoadTTL = time.Minute
	// CleanupInterval is how often expired entries of ordinary caches are dropped; expiry is checked on every read
	// anyway, so this only bounds memory.
	CleanupInterval = 10 * time.Minute
	// UnavailableOfferingsCleanupInterval is short because expiry of an unavailable offering bumps the sequence number
	// that invalidates instance-type caches, and that only happens when the janitor removes the entry.
	UnavailableOfferingsCleanupInterval = 10 * time.Second
)
