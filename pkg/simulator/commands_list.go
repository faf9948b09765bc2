package simulator

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// nameMatches is the exact `name` filter of the catalog lists (only listVirtualMachines is configurable).
func nameMatches(r *request, name, displayText string) bool {
	if n := r.get("name"); n != "" && n != name {
		return false
	}
	if k := r.get("keyword"); k != "" && !containsFold(name, k) && !containsFold(displayText, k) {
		return false
	}
	return true
}

func cmdListZones(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.zoneByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	available, _, aerr := parseBool(r, "available")
	if aerr != nil {
		return nil, aerr
	}
	tags := tagPairs(r)
	ids := listParam(r, "ids")
	var out []zoneJSON
	for _, z := range st.zones {
		if (r.has("id") && z.ID != r.get("id")) || (len(ids) > 0 && !slices.Contains(ids, z.ID)) || !nameMatches(r, z.Name, z.Name) ||
			(z.Disabled && (available || r.acct.kind != acctRootAdmin)) || !st.matchesTags(z.ID, tags) ||
			(r.has("networktype") && !strings.EqualFold(r.get("networktype"), z.NetworkType)) {
			continue
		}
		state := "Enabled"
		if z.Disabled {
			state = "Disabled"
		}
		out = append(out, zoneJSON{AllocationState: state, DHCPProvider: "VirtualRouter", DNS1: "8.8.8.8", GuestCIDRAddress: "10.1.0.0/16",
			ID: z.ID, InternalDNS1: "10.0.0.2", Name: z.Name, NetworkType: z.NetworkType, Tags: st.tagsJSON(z.ID), Type: "Core",
			SecurityGroupsEnabled: z.SecurityGroupsEnabled,
			ZoneToken:             StableID("zonetoken", z.Name)})
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("zone", page, total), nil
}

func cmdListNetworks(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.networkByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	if id := r.get("zoneid"); id != "" && st.zoneByID(id) == nil {
		return nil, errInvalidID(r, "zoneid", id)
	}
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	canUse, canUseSet, aerr := parseBool(r, "canusefordeploy")
	if aerr != nil {
		return nil, aerr
	}
	tags := tagPairs(r)
	var out []networkJSON
	for _, n := range st.networks {
		owner := st.byName[n.Account]
		shared := n.Type == "Shared"
		usable := n.State != "Destroy"
		if (r.has("id") && n.ID != r.get("id")) || (r.has("zoneid") && n.zone.ID != r.get("zoneid")) ||
			(!shared && !sc.sees(owner)) || !nameMatches(r, n.Name, n.Name) || !st.matchesTags(n.ID, tags) ||
			(r.has("type") && !strings.EqualFold(r.get("type"), n.Type)) || (canUseSet && canUse != usable) ||
			(r.has("traffictype") && !strings.EqualFold(r.get("traffictype"), "Guest")) || r.get("issystem") == "true" {
			continue
		}
		j := networkJSON{ACLType: "Account", BroadcastDomainType: "Vlan", CanUseForDeploy: usable, CIDR: n.prefix.String(),
			Created: csTime(s.createdAt()), Details: map[string]string{}, DisplayNetwork: true, DisplayText: n.Name, Domain: domainName(owner.domainPath),
			DomainID: owner.domainID, Gateway: n.gateway(), ID: n.ID, Name: n.Name, Netmask: n.netmask(), NetworkDomain: n.Domain,
			NetworkOfferingID: StableID("networkoffering", n.Type), NetworkOfferingName: "Default" + n.Type + "NetworkOffering",
			State: n.State, Tags: st.tagsJSON(n.ID), TrafficType: "Guest", Type: n.Type, ZoneID: n.zone.ID, ZoneName: n.zone.Name}
		if shared {
			j.ACLType = "Domain"
			j.VLAN = "100"
		} else {
			j.Account = owner.Name
			j.IsPersistent = false
		}
		out = append(out, j)
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("network", page, total), nil
}

var templateFilters = []string{"featured", "self", "selfexecutable", "sharedexecutable", "executable", "community", "all"}

func cmdListTemplates(s *Server, r *request) (any, *apiError) {
	st := s.st
	filter := r.get("templatefilter")
	if filter == "" {
		return nil, errMissing(r, "templatefilter")
	}
	if !slices.Contains(templateFilters, strings.ToLower(filter)) {
		return nil, errParam("Invalid template filter: %s", filter)
	}
	filter = strings.ToLower(filter)
	if id := r.get("id"); id != "" && st.templateByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	if id := r.get("zoneid"); id != "" && st.zoneByID(id) == nil {
		return nil, errInvalidID(r, "zoneid", id)
	}
	isReady, readySet, aerr := parseBool(r, "isready")
	if aerr != nil {
		return nil, aerr
	}
	// With projectid, the caller's "own" templates are the project's (buildACLSearchParameters puts only the project
	// account in the permitted accounts), and a project the caller may not access is refused.
	mineOf := func(owner *account) bool { return owner == r.acct }
	if r.has("projectid") {
		sc, aerr := st.scope(r, r.has("id"))
		if aerr != nil {
			return nil, aerr
		}
		mineOf = func(owner *account) bool { return owner != nil && owner.kind == acctProject && sc.sees(owner) }
	}
	tags := tagPairs(r)
	ids := listParam(r, "ids")
	var out []templateJSON
	for _, t := range st.templates {
		owner := st.byName[t.Account]
		public := t.Public == nil || *t.Public
		mine := mineOf(owner)
		var ok bool
		switch filter {
		case "featured":
			ok = t.Featured
		case "self", "selfexecutable":
			ok = mine
		case "community":
			ok = public && !t.Featured && !mine
		case "all":
			ok = r.acct.kind == acctRootAdmin || public || mine
		default:
			ok = public || mine
		}
		if !ok || (r.has("id") && t.ID != r.get("id")) || (len(ids) > 0 && !slices.Contains(ids, t.ID)) || !nameMatches(r, t.Name, t.Name) ||
			(r.has("arch") && r.get("arch") != t.Arch) || (r.has("hypervisor") && !strings.EqualFold(r.get("hypervisor"), t.Hypervisor)) ||
			(readySet && isReady == t.NotReady) || !st.matchesTags(t.ID, tags) {
			continue
		}
		for _, zn := range t.Zones {
			z := st.zoneByRef(zn)
			if r.has("zoneid") && z.ID != r.get("zoneid") {
				continue
			}
			status := "Download Complete"
			if t.NotReady {
				status = "52% Downloaded"
			}
			out = append(out, templateJSON{Account: owner.Name, Arch: t.Arch, Bootable: true, Created: csTime(s.createdAt()),
				CrossZones: false, Details: map[string]string{}, DisplayText: t.Name, Domain: domainName(owner.domainPath), DomainID: owner.domainID,
				DownloadDetails: []map[string]string{}, Format: t.Format, Hypervisor: t.Hypervisor, ID: t.ID, IsExtractable: true,
				IsFeatured: t.Featured, IsPublic: public, IsReady: !t.NotReady, Name: t.Name, OSTypeID: StableID("ostype", t.OSType),
				OSTypeName: t.OSType, PhysicalSize: t.SizeGiB << 30, Size: t.SizeGiB << 30, SSHKeyEnabled: true, Status: status,
				Tags: st.tagsJSON(t.ID), TemplateType: "USER", ZoneID: z.ID, ZoneName: z.Name})
		}
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("template", page, total), nil
}

func cmdListServiceOfferings(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.offeringByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	var zoneFilter *zone
	if id := r.get("zoneid"); id != "" {
		if zoneFilter = st.zoneByID(id); zoneFilter == nil {
			return nil, errInvalidID(r, "zoneid", id)
		}
	}
	system, _, aerr := parseBool(r, "issystem")
	if aerr != nil {
		return nil, aerr
	}
	if system && r.acct.kind != acctRootAdmin {
		return nil, errPermission("Only ROOT admins can access system's offering")
	}
	gpu, gpuSet, aerr := parseBool(r, "gpuenabled")
	if aerr != nil {
		return nil, aerr
	}
	var out []offeringJSON
	for _, o := range st.offerings {
		if (r.has("id") && o.ID != r.get("id")) || !nameMatches(r, o.Name, o.DisplayText) || o.System != system ||
			(zoneFilter != nil && len(o.Zones) > 0 && !slices.Contains(o.Zones, zoneFilter.Name)) ||
			(gpuSet && gpu != (o.GPUCount > 0)) {
			continue
		}
		j := offeringJSON{CacheMode: "none", CPUNumber: o.CPUNumber, CPUSpeed: o.CPUSpeed, Created: csTime(s.createdAt()),
			DisplayText: o.DisplayText, GPUCardName: o.GPUCard, GPUCount: o.GPUCount, GPUDisplay: false, HostTags: o.HostTags,
			ID: o.ID, IsCustomized: o.Customized, IsSystem: o.System, Memory: o.MemoryMiB, Name: o.Name, ProvisioningType: "thin",
			RootDiskSize: o.RootDiskGiB, State: "Active", StorageType: o.StorageType, VGPUProfileName: o.VGPUProfile}
		if o.GPUCard != "" {
			j.GPUCardID = StableID("gpucard", o.GPUCard)
		}
		if o.VGPUProfile != "" {
			j.VGPUProfileID = StableID("vgpuprofile", o.VGPUProfile)
		}
		if o.System {
			j.SystemVMType = "domainrouter"
		}
		if o.Customized {
			d := map[string]string{}
			for k, v := range map[string]int{"mincpunumber": o.MinCPU, "maxcpunumber": o.MaxCPU, "minmemory": o.MinMemory, "maxmemory": o.MaxMemory} {
				if v > 0 {
					d[k] = fmt.Sprint(v)
				}
			}
			j.ServiceOfferingDetails = d
		}
		var zids, znames []string
		for _, zn := range o.Zones {
			z := st.zoneByRef(zn)
			zids, znames = append(zids, z.ID), append(znames, z.Name)
		}
		j.ZoneID, j.Zone = strings.Join(zids, ","), strings.Join(znames, ",")
		out = append(out, j)
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("serviceoffering", page, total), nil
}

func cmdListAffinityGroups(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.groupByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	if id := r.get("virtualmachineid"); id != "" && st.vmByID[id] == nil {
		return nil, errInvalidID(r, "virtualmachineid", id)
	}
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	var out []affinityGroupJSON
	for _, g := range st.groups {
		owner := st.byName[g.Account]
		if (r.has("id") && g.ID != r.get("id")) || !sc.sees(owner) || !nameMatches(r, g.Name, g.Description) ||
			(r.has("type") && r.get("type") != g.Type) {
			continue
		}
		var members []string
		for _, v := range st.vms {
			if slices.Contains(v.groups, g) {
				members = append(members, v.id)
			}
		}
		if id := r.get("virtualmachineid"); id != "" && !slices.Contains(members, id) {
			continue
		}
		out = append(out, affinityGroupJSON{Account: owner.Name, Description: g.Description, Domain: domainName(owner.domainPath),
			DomainID: owner.domainID, ID: g.ID, Name: g.Name, Type: g.Type, VirtualMachineIDs: members})
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("affinitygroup", page, total), nil
}

func cmdListSSHKeyPairs(s *Server, r *request) (any, *apiError) {
	st := s.st
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	var out []sshKeyPairJSON
	for _, k := range st.keypairs {
		owner := st.byName[k.Account]
		if (r.has("id") && k.ID != r.get("id")) || !sc.sees(owner) || !nameMatches(r, k.Name, k.Name) ||
			(r.has("fingerprint") && r.get("fingerprint") != k.Fingerprint) {
			continue
		}
		out = append(out, sshKeyPairJSON{Account: owner.Name, Domain: domainName(owner.domainPath), DomainID: owner.domainID, Fingerprint: k.Fingerprint,
			ID: k.ID, Name: k.Name})
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("sshkeypair", page, total), nil
}

func cmdListCapabilities(s *Server, r *request) (any, *apiError) {
	set := s.cat.Settings
	limitInterval, limitMax := 0, 0
	if set.APIThrottling {
		limitInterval, limitMax = set.APILimitInterval, set.APILimitMax
	}
	return map[string]any{"capability": capabilityJSON{
		AllowUserExpungeRecoverVM: set.AllowUserExpungeRecoverVM, AllowUserViewDestroyedVM: set.AllowUserViewDestroyedVM,
		APILimitInterval: limitInterval, APILimitMax: limitMax, CloudStackVersion: set.CloudStackVersion,
		CustomDiskOfferingMaxSize: 1024, DefaultUIPageSize: 20, DynamicRolesEnabled: true, KVMSnapshotEnabled: false,
		SupportELB: "false", UserPublicTemplateEnabled: true, AllowUserCreateProjects: true,
	}}, nil
}

// resourceTypes are the Resource.ResourceType ordinals listResourceLimits reports.
var resourceTypes = []struct {
	num  string
	name string
	max  func(Limits) *int64
}{
	{"0", "user_vm", func(l Limits) *int64 { return l.UserVM }},
	{"8", "cpu", func(l Limits) *int64 { return l.CPU }},
	{"9", "memory", func(l Limits) *int64 { return l.MemoryMiB }},
}

func cmdListResourceLimits(s *Server, r *request) (any, *apiError) {
	var out []resourceLimitJSON
	for _, a := range s.st.accounts {
		if a.kind == acctProject || a != r.acct && !(r.acct.kind == acctRootAdmin && (r.get("listall") == "true" || r.get("account") == a.Name)) {
			continue
		}
		if r.has("account") && r.get("account") != a.Name {
			continue
		}
		for _, t := range resourceTypes {
			if (r.has("resourcetype") && r.get("resourcetype") != t.num) || (r.has("resourcetypename") && r.get("resourcetypename") != t.name) {
				continue
			}
			max := int64(-1)
			if m := t.max(a.Limits); m != nil {
				max = *m
			}
			out = append(out, resourceLimitJSON{Account: a.Name, Domain: domainName(a.domainPath), DomainID: a.domainID, Max: max, ResourceType: t.num,
				ResourceTypeName: t.name})
		}
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("resourcelimit", page, total), nil
}

// cmdListCapacity reports allocated memory (type 0, bytes), CPU (type 1, MHz) and CPU cores (type 90) per zone.
func cmdListCapacity(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("zoneid"); id != "" && st.zoneByID(id) == nil {
		return nil, errInvalidID(r, "zoneid", id)
	}
	var out []capacityJSON
	for _, z := range st.zones {
		if r.has("zoneid") && z.ID != r.get("zoneid") {
			continue
		}
		speed := int64(z.Capacity.CPUSpeedMHz)
		rows := []capacityJSON{
			{Type: 0, Name: "MEMORY", CapacityTotal: z.Capacity.MemoryMiB << 20, CapacityUsed: z.usedMem << 20},
			{Type: 1, Name: "CPU", CapacityTotal: int64(z.Capacity.CPUCores) * speed, CapacityUsed: int64(z.usedCPU) * speed},
			{Type: 90, Name: "CPU_CORE", CapacityTotal: int64(z.Capacity.CPUCores), CapacityUsed: int64(z.usedCPU)},
		}
		for _, c := range rows {
			if r.has("type") && r.get("type") != fmt.Sprint(c.Type) {
				continue
			}
			c.ZoneID, c.ZoneName, c.CapacityAllocated = z.ID, z.Name, c.CapacityUsed
			c.PercentUsed = "0"
			if c.CapacityTotal > 0 {
				c.PercentUsed = fmt.Sprintf("%.2f", 100*float64(c.CapacityUsed)/float64(c.CapacityTotal))
			}
			out = append(out, c)
		}
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("capacity", page, total), nil
}

// decodeBase64 accepts what Apache Commons' Base64 accepts: standard or URL-safe alphabet, padding optional.
func decodeBase64(v string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b, true
		}
	}
	return nil, false
}
