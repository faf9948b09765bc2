package simulator

import (
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
)

// VM states (com.cloud.vm.VirtualMachine.State) the simulator uses.
const (
	StateStarting  = "Starting"
	StateRunning   = "Running"
	StateStopping  = "Stopping"
	StateStopped   = "Stopped"
	StateDestroyed = "Destroyed"
	StateExpunging = "Expunging"
	StateError     = "Error"
)

// VM is a snapshot of a simulated virtual machine for test assertions.
type VM struct {
	ID          string
	Name        string
	DisplayName string
	Group       string
	Account     string
	// Project is the name of the project the VM belongs to; empty for a VM of an account.
	Project             string
	InstanceName        string
	State               string
	ZoneID              string
	ZoneName            string
	ServiceOfferingID   string
	ServiceOfferingName string
	TemplateID          string
	NetworkIDs          []string
	IPAddresses         []string
	// UserData is the userdata parameter as received (base64).
	UserData  string
	Tags      map[string]string
	CPUNumber int
	CPUSpeed  int
	MemoryMiB int
	// GuestMemoryKiB is the memory the guest sees (MemTotal): MemoryMiB less Settings.GuestMemoryOverheadPercent.
	GuestMemoryKiB int64
	// GPUCount is the number of GPUs passed through to the VM (its offering's).
	GPUCount int
	// Arch is the VM's architecture as CloudStack reports it (its template's: x86_64 or aarch64).
	Arch string
	// OSType is its template's OS type, what listVirtualMachines reports as osdisplayname (e.g. "Ubuntu 24.04 LTS").
	OSType           string
	Created          time.Time
	KeyPairs         []string
	AffinityGroupIDs []string
	// SecurityGroupIDs are the security groups the VM joined (only in security-group zones).
	SecurityGroupIDs []string
	RootDiskSizeGiB  int64
	Details          map[string]string
	Reboots          int
	// Started is when the VM first reached Running (zero if it never did): a chaos run counts a NodeClaim with two
	// started VMs as a duplicate, while a failed attempt left in Error is not one.
	Started time.Time
}

type vmNIC struct {
	id        string
	network   *network
	ip        string
	mac       string
	isDefault bool
}

type vm struct {
	id, name, displayName, group, instanceName string
	state                                      string
	owner                                      *account
	zone                                       *zone
	offering                                   *ServiceOffering
	template                                   *Template
	nics                                       []vmNIC
	userData                                   string
	keyPairs                                   []string
	groups                                     []*AffinityGroup
	sgs                                        []*SecurityGroup
	cpu, speed, memory                         int
	rootDiskGiB                                int64
	details                                    map[string]string
	created, updated                           time.Time
	// reserved is true while the VM holds zone capacity; counted while it counts against account limits.
	reserved, counted bool
	// busyUntil is when the VM's last queued job ends: CloudStack serializes jobs on one VM.
	busyUntil time.Time
	reboots   int
	hostID    string
	started   time.Time
	// cloud is the cloud the VM belongs to, which records its changes (changes.go); rev is its last change's revision.
	cloud *cloud
	rev   uint64
}

func (v *vm) setState(state string) {
	v.state = state
	v.updated = time.Now()
	if state == StateRunning && v.started.IsZero() {
		v.started = v.updated
	}
	v.cloud.touch(v)
}

// gone reports whether Get/List callers should treat the VM as no longer existing.
func (v *vm) terminal() bool { return v.state == StateDestroyed || v.state == StateExpunging }

// reserve takes the VM's CPU and memory from its zone; false when the zone has no room (unlimited when the
// zone's capacity is zero).
func (st *cloud) reserve(v *vm) bool {
	z := v.zone
	if (z.Capacity.CPUCores > 0 && z.usedCPU+v.cpu > z.Capacity.CPUCores) ||
		(z.Capacity.MemoryMiB > 0 && z.usedMem+int64(v.memory) > z.Capacity.MemoryMiB) {
		return false
	}
	z.usedCPU += v.cpu
	z.usedMem += int64(v.memory)
	v.reserved = true
	return true
}

func (st *cloud) release(v *vm) {
	if v.reserved {
		v.zone.usedCPU -= v.cpu
		v.zone.usedMem -= int64(v.memory)
		v.reserved = false
	}
	v.hostID = ""
}

// uncount returns the VM's share of its account's resource counts, as CloudStack does on destroy and on a
// failed creation.
func (v *vm) uncount() { v.counted = false }

// remove expunges the VM: it disappears from lists and its UUID resolves to nothing.
func (st *cloud) remove(v *vm) {
	st.expunged = append(st.expunged, st.snapshot(v))
	st.changes.removed = append(st.changes.removed, removal{id: v.id, rev: st.changes.bump()})
	st.release(v)
	v.uncount()
	delete(st.vmByID, v.id)
	st.removed[v.id] = true
	st.cleanupVolumes(v)
	for _, n := range v.nics {
		n.network.releaseIP(n.ip)
	}
	for i, x := range st.vms {
		if x == v {
			st.vms = append(st.vms[:i:i], st.vms[i+1:]...)
			break
		}
	}
	kept := st.tags[:0]
	for _, t := range st.tags {
		if t.resourceID != v.id {
			kept = append(kept, t)
		}
	}
	st.tags = kept
}

func (st *cloud) vmJSON(v *vm, admin bool) vmJSON {
	out := vmJSON{
		Account: v.owner.Name, AffinityGroup: []vmAffinityGroupJSON{}, Arch: v.template.Arch, CPUNumber: v.cpu, CPUSpeed: v.speed,
		Created: csTime(v.created), Details: maps.Clone(v.details), DisplayName: v.displayName, DisplayVM: true,
		Domain: domainName(v.owner.domainPath), DomainID: v.owner.domainID, GPUCardName: v.offering.GPUCard, GPUCount: v.offering.GPUCount,
		Group: v.group, GuestOSID: StableID("ostype", v.template.OSType), Hypervisor: v.template.Hypervisor, ID: v.id,
		KeyPairs: strings.Join(v.keyPairs, ","), LastUpdated: csTime(v.updated), Memory: v.memory, Name: v.name, NIC: []nicJSON{},
		OSDisplayName: v.template.OSType, OSTypeID: StableID("ostype", v.template.OSType), RootDeviceType: "ROOT",
		SecurityGroup: []vmSecurityGroupJSON{}, ServiceOfferingID: v.offering.ID, ServiceOfferingName: v.offering.Name, State: v.state,
		Tags: st.tagsJSON(v.id), TemplateDisplayText: v.template.Name, TemplateID: v.template.ID, TemplateName: v.template.Name,
		TemplateType: "USER", UserID: v.owner.userID, UserName: v.owner.Name, VGPUProfileName: v.offering.VGPUProfile,
		ZoneID: v.zone.ID, ZoneName: v.zone.Name,
	}
	if out.Details == nil {
		out.Details = map[string]string{}
	}
	if p := v.owner.project; p != nil {
		out.Project, out.ProjectID = p.Name, p.ID
	}
	if admin {
		out.InstanceName = v.instanceName
		if v.hostID != "" {
			out.HostID, out.HostName = v.hostID, "host-"+v.hostID[:8]
		}
	}
	for i, n := range v.nics {
		out.NIC = append(out.NIC, nicJSON{DeviceID: fmt.Sprint(i), ExtraDHCPOption: []string{}, Gateway: n.network.gateway(), ID: n.id,
			IPAddress: n.ip, IsDefault: n.isDefault, MACAddress: n.mac, Netmask: n.network.netmask(), NetworkID: n.network.ID,
			NetworkName: n.network.Name, SecondaryIP: []any{}, TrafficType: "Guest", Type: n.network.Type})
		if n.isDefault {
			out.IPAddress = n.ip
		}
	}
	for _, g := range v.sgs {
		out.SecurityGroup = append(out.SecurityGroup, vmSecurityGroupJSON{Account: v.owner.Name, Description: g.Description, ID: g.ID, Name: g.Name,
			EgressRule: []any{}, IngressRule: []any{}, Tags: st.tagsJSON(g.ID)})
	}
	for _, g := range v.groups {
		out.AffinityGroup = append(out.AffinityGroup, vmAffinityGroupJSON{Account: v.owner.Name, Description: g.Description,
			Domain: domainName(v.owner.domainPath), DomainID: v.owner.domainID, ID: g.ID, Name: g.Name, Type: g.Type})
	}
	return out
}

func (st *cloud) snapshot(v *vm) VM {
	out := VM{ID: v.id, Name: v.name, DisplayName: v.displayName, Group: v.group, Account: v.owner.Name, InstanceName: v.instanceName,
		State: v.state, ZoneID: v.zone.ID, ZoneName: v.zone.Name, ServiceOfferingID: v.offering.ID, ServiceOfferingName: v.offering.Name,
		TemplateID: v.template.ID, UserData: v.userData, Tags: map[string]string{}, CPUNumber: v.cpu, CPUSpeed: v.speed, MemoryMiB: v.memory,
		Created: v.created, KeyPairs: append([]string(nil), v.keyPairs...), RootDiskSizeGiB: v.rootDiskGiB, Details: maps.Clone(v.details),
		Reboots: v.reboots, Started: v.started, Arch: v.template.Arch, GPUCount: v.offering.GPUCount, OSType: v.template.OSType,
		GuestMemoryKiB: int64(math.Floor(float64(v.memory) * 1024 * (1 - st.settings.GuestMemoryOverheadPercent/100)))}
	if p := v.owner.project; p != nil {
		out.Project = p.Name
	}
	for _, n := range v.nics {
		out.NetworkIDs = append(out.NetworkIDs, n.network.ID)
		out.IPAddresses = append(out.IPAddresses, n.ip)
	}
	for _, g := range v.groups {
		out.AffinityGroupIDs = append(out.AffinityGroupIDs, g.ID)
	}
	for _, g := range v.sgs {
		out.SecurityGroupIDs = append(out.SecurityGroupIDs, g.ID)
	}
	for _, t := range st.tagsOf(v.id) {
		out.Tags[t.key] = t.value
	}
	return out
}

// VirtualMachines returns a snapshot of every VM that has not been expunged, in creation order.
func (s *Server) VirtualMachines() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]VM, 0, len(s.st.vms))
	for _, v := range s.st.vms {
		out = append(out, s.st.snapshot(v))
	}
	return out
}

// ExpungedVirtualMachines returns a snapshot of every VM that was expunged, taken as it went (state Expunging), in
// the order they went: the history tests need to prove that a failed attempt happened and was cleaned up.
func (s *Server) ExpungedVirtualMachines() []VM {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]VM{}, s.st.expunged...)
}

// usage sums what an account's counted VMs hold, for the resource-limit check.
func (st *cloud) usage(a *account) (vms, cpu, memory int64) {
	for _, v := range st.vms {
		if v.owner == a && v.counted {
			vms++
			cpu += int64(v.cpu)
			memory += int64(v.memory)
		}
	}
	return vms, cpu, memory
}
