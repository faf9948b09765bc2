package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DiskOffering is a disk offering of the catalog: a fixed size, or customized (the caller gives the size).
type DiskOffering struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	DisplayText string `json:"displayText,omitempty"`
	// DiskSizeGiB is the size of a fixed offering; 0 for a customized one.
	DiskSizeGiB int64 `json:"diskSizeGiB,omitempty"`
	Customized  bool  `json:"customized,omitempty"`
	// Zones are the names of the zones the offering is available in; empty means every zone (the server leaves zoneid
	// out of such an offering).
	Zones []string `json:"zones,omitempty"`
}

// Volume types and states as VolumeResponse reports them.
const (
	VolumeTypeRoot     = "ROOT"
	VolumeTypeDataDisk = "DATADISK"
	volumeAllocated    = "Allocated"
	volumeReady        = "Ready"
)

// Custom disk size bounds: the defaults of custom.diskoffering.size.min and custom.diskoffering.size.max.
const (
	customDiskMinGiB = 1
	customDiskMaxGiB = 1024
)

// volume is a ROOT or DATADISK volume. A data disk outlives its VM: expunging a VM destroys only its ROOT volume and
// detaches the rest (VolumeOrchestrator.cleanupVolumes).
type volume struct {
	id, name, typ, state string
	owner                *account
	zone                 *zone
	offering             *DiskOffering // nil for ROOT
	sizeGiB              int64
	vm                   *vm // nil when detached
	deviceID             int
	created              time.Time
}

// Volume is a snapshot of a volume for tests.
type Volume struct {
	ID, Name, Type, State, Account, Zone, DiskOfferingID, VirtualMachineID string
	SizeGiB                                                                int64
	DeviceID                                                               int
}

// Volumes returns every volume that exists (not yet deleted or expunged), in creation order.
func (s *Server) Volumes() []Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Volume, 0, len(s.st.volumes))
	for _, v := range s.st.volumes {
		snap := Volume{ID: v.id, Name: v.name, Type: v.typ, State: v.state, Account: v.owner.Name, Zone: v.zone.Name, SizeGiB: v.sizeGiB, DeviceID: v.deviceID}
		if v.offering != nil {
			snap.DiskOfferingID = v.offering.ID
		}
		if v.vm != nil {
			snap.VirtualMachineID = v.vm.id
		}
		out = append(out, snap)
	}
	return out
}

func init() {
	for _, c := range []*command{
		{name: "listDiskOfferings", handle: cmdListDiskOfferings, params: withPaging("id", "name", "zoneid", "keyword", "listall")},
		{name: "listVolumes", handle: cmdListVolumes, params: withPaging("id", "name", "type", "virtualmachineid", "zoneid", "tags", "keyword", "listall", "projectid")},
		{name: "createVolume", async: true, post: true, handle: cmdCreateVolume, params: []string{"name", "diskofferingid", "size", "zoneid", "projectid"}},
		{name: "attachVolume", async: true, post: true, handle: cmdAttachVolume, params: []string{"id", "virtualmachineid", "deviceid"}},
		{name: "detachVolume", async: true, post: true, handle: cmdDetachVolume, params: []string{"id"}},
		{name: "deleteVolume", post: true, handle: cmdDeleteVolume, params: []string{"id"}},
	} {
		register(c)
	}
}

func (st *cloud) diskOfferingByID(id string) *DiskOffering {
	for _, o := range st.diskOfferings {
		if strings.EqualFold(o.ID, id) {
			return o
		}
	}
	return nil
}

func (st *cloud) volumeByID(id string) *volume {
	for _, v := range st.volumes {
		if strings.EqualFold(v.id, id) {
			return v
		}
	}
	return nil
}

func (o *DiskOffering) inZone(z *zone) bool {
	return len(o.Zones) == 0 || slices.Contains(o.Zones, z.Name)
}

// diskSize checks an offering and a requested size as VolumeApiServiceImpl.allocVolume and VmRootDiskValidator do
// (431 for each) and returns the size in GiB.
func diskSize(o *DiskOffering, size string) (int64, *apiError) {
	if o.Customized {
		if size == "" {
			return 0, errParam("This disk offering requires a custom size specified")
		}
		gib, err := strconv.ParseInt(size, 10, 64)
		if err != nil || gib < customDiskMinGiB || gib > customDiskMaxGiB {
			return 0, errParam("Volume size: %sGB is out of allowed range. Max: %d Min:%d", size, customDiskMaxGiB, customDiskMinGiB)
		}
		return gib, nil
	}
	if size != "" {
		return 0, errParam("This disk offering does not allow custom size")
	}
	return o.DiskSizeGiB, nil
}

// deployDataDisk resolves deployVirtualMachine's diskofferingid and size (the one data disk a template deploy can
// carry before 4.21), with the server's checks; nil without diskofferingid.
func (s *Server) deployDataDisk(r *request, z *zone) (*DiskOffering, int64, *apiError) {
	id := r.get("diskofferingid")
	if id == "" {
		return nil, 0, nil
	}
	o := s.st.diskOfferingByID(id)
	if o == nil {
		return nil, 0, errInvalidID(r, "diskofferingid", id)
	}
	if !o.inZone(z) {
		return nil, 0, errParam("Disk offering %s is not available in zone %s", o.ID, z.ID)
	}
	size, aerr := diskSize(o, r.get("size"))
	return o, size, aerr
}

// addVMVolumes creates the ROOT volume (device 0) and the deploy's data disk (device 1) of a new VM.
func (st *cloud) addVMVolumes(v *vm, dataOffering *DiskOffering, dataGiB int64) {
	st.volumes = append(st.volumes, &volume{id: st.newID("volume"), name: "ROOT-" + strconv.Itoa(st.seq), typ: VolumeTypeRoot, state: volumeReady,
		owner: v.owner, zone: v.zone, sizeGiB: v.rootDiskGiB, vm: v, created: v.created})
	if dataOffering != nil {
		st.volumes = append(st.volumes, &volume{id: st.newID("volume"), name: "DATA-" + strconv.Itoa(st.seq), typ: VolumeTypeDataDisk, state: volumeReady,
			owner: v.owner, zone: v.zone, offering: dataOffering, sizeGiB: dataGiB, vm: v, deviceID: 1, created: v.created})
	}
}

// cleanupVolumes is VolumeOrchestrator.cleanupVolumes at expunge: the ROOT volume goes, every other volume is only
// detached and lives on (and is billed) until someone deletes it.
func (st *cloud) cleanupVolumes(v *vm) {
	kept := st.volumes[:0]
	for _, vol := range st.volumes {
		switch {
		case vol.vm != v:
		case vol.typ == VolumeTypeRoot:
			st.dropTags(vol.id)
			continue
		default:
			vol.vm, vol.deviceID = nil, 0
		}
		kept = append(kept, vol)
	}
	st.volumes = kept
}

// destroyVolumes checks destroyVirtualMachine's volumeids as UserVmManagerImpl.destroyVm does (in the job: every one
// must be a DATADISK attached to the VM, checkForUnattachedVolumes) and returns them.
func (st *cloud) destroyVolumes(r *request, v *vm) ([]*volume, *apiError) {
	var out, wrong []*volume
	for _, id := range listParam(r, "volumeids") {
		vol := st.volumeByID(id)
		if vol == nil {
			return nil, errInvalidID(r, "volumeids", id)
		}
		if vol.vm != v || vol.typ != VolumeTypeDataDisk {
			wrong = append(wrong, vol)
		}
		out = append(out, vol)
	}
	if len(wrong) > 0 {
		var sb strings.Builder
		for _, vol := range wrong {
			fmt.Fprintf(&sb, "Volume {\"id\":%q,\"name\":%q,\"volumeType\":%q}; ", vol.id, vol.name, vol.typ)
		}
		return nil, errParam("The following supplied volumes are not DATADISK attached to the VM: %s", sb.String())
	}
	return out, nil
}

// deleteVolumes removes volumes and their tags.
func (st *cloud) deleteVolumes(vols []*volume) {
	st.volumes = slices.DeleteFunc(st.volumes, func(v *volume) bool { return slices.Contains(vols, v) })
	for _, v := range vols {
		st.dropTags(v.id)
	}
}

func (st *cloud) dropTags(resourceID string) {
	st.tags = slices.DeleteFunc(st.tags, func(t *resourceTag) bool { return t.resourceID == resourceID })
}

// diskOfferingJSON is one listDiskOfferings item (DiskOfferingResponse): zoneid and zone are comma-separated lists,
// absent for an offering of every zone.
type diskOfferingJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	DisplayText  string `json:"displaytext"`
	DiskSize     int64  `json:"disksize"`
	IsCustomized bool   `json:"iscustomized"`
	ZoneID       string `json:"zoneid,omitempty"`
	Zone         string `json:"zone,omitempty"`
	StorageType  string `json:"storagetype"`
	State        string `json:"state"`
	Created      string `json:"created"`
}

func cmdListDiskOfferings(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.diskOfferingByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	var z *zone
	if id := r.get("zoneid"); id != "" {
		if z = st.zoneByID(id); z == nil {
			return nil, errInvalidID(r, "zoneid", id)
		}
	}
	var out []diskOfferingJSON
	for _, o := range st.diskOfferings {
		if (r.has("id") && !strings.EqualFold(o.ID, r.get("id"))) || !nameMatches(r, o.Name, o.DisplayText) || (z != nil && !o.inZone(z)) {
			continue
		}
		item := diskOfferingJSON{ID: o.ID, Name: o.Name, DisplayText: o.DisplayText, DiskSize: o.DiskSizeGiB, IsCustomized: o.Customized,
			StorageType: "shared", State: "Active", Created: csTime(time.Unix(0, 0))}
		var ids, names []string
		for _, name := range o.Zones {
			if oz := st.zoneByName(name); oz != nil {
				ids, names = append(ids, oz.ID), append(names, oz.Name)
			}
		}
		item.ZoneID, item.Zone = strings.Join(ids, ","), strings.Join(names, ",")
		out = append(out, item)
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("diskoffering", page, total), nil
}

// volumeJSON is one volume in listVolumes and in volume job results (VolumeResponse); size is in bytes.
type volumeJSON struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Type             string    `json:"type"`
	State            string    `json:"state"`
	Size             int64     `json:"size"`
	Account          string    `json:"account"`
	Domain           string    `json:"domain"`
	DomainID         string    `json:"domainid"`
	ZoneID           string    `json:"zoneid"`
	ZoneName         string    `json:"zonename"`
	DiskOfferingID   string    `json:"diskofferingid,omitempty"`
	DiskOfferingName string    `json:"diskofferingname,omitempty"`
	VirtualMachineID string    `json:"virtualmachineid,omitempty"`
	VMName           string    `json:"vmname,omitempty"`
	VMState          string    `json:"vmstate,omitempty"`
	DeviceID         *int      `json:"deviceid,omitempty"`
	Created          string    `json:"created"`
	Tags             []tagJSON `json:"tags"`
}

func (st *cloud) volumeJSON(v *volume) volumeJSON {
	out := volumeJSON{ID: v.id, Name: v.name, Type: v.typ, State: v.state, Size: v.sizeGiB << 30, Account: v.owner.Name,
		Domain: domainName(v.owner.domainPath), DomainID: v.owner.domainID, ZoneID: v.zone.ID, ZoneName: v.zone.Name,
		Created: csTime(v.created), Tags: st.tagsJSON(v.id)}
	if v.offering != nil {
		out.DiskOfferingID, out.DiskOfferingName = v.offering.ID, v.offering.Name
	}
	if v.vm != nil {
		d := v.deviceID
		out.VirtualMachineID, out.VMName, out.VMState, out.DeviceID = v.vm.id, v.vm.name, v.vm.state, &d
	}
	return out
}

func cmdListVolumes(s *Server, r *request) (any, *apiError) {
	st := s.st
	if id := r.get("id"); id != "" && st.volumeByID(id) == nil {
		return nil, errInvalidID(r, "id", id)
	}
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	tags := tagPairs(r)
	var out []volumeJSON
	for _, v := range st.volumes {
		if (r.has("id") && !strings.EqualFold(v.id, r.get("id"))) || !sc.sees(v.owner) || !nameMatches(r, v.name, "") ||
			(r.has("type") && !strings.EqualFold(r.get("type"), v.typ)) || (r.has("zoneid") && r.get("zoneid") != v.zone.ID) ||
			(r.has("virtualmachineid") && (v.vm == nil || v.vm.id != r.get("virtualmachineid"))) || !st.matchesTags(v.id, tags) {
			continue
		}
		out = append(out, st.volumeJSON(v))
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	return listBody("volume", page, total), nil
}

// cmdCreateVolume allocates a DATADISK (state Allocated: the server creates it on primary storage at the first attach).
func cmdCreateVolume(s *Server, r *request) (any, *apiError) {
	st := s.st
	id := r.get("diskofferingid")
	if id == "" {
		return nil, errParam("Either disk Offering Id or snapshot Id must be passed whilst creating volume")
	}
	o := st.diskOfferingByID(id)
	if o == nil {
		return nil, errInvalidID(r, "diskofferingid", id)
	}
	if !r.has("zoneid") {
		return nil, errMissing(r, "zoneid")
	}
	z := st.zoneByID(r.get("zoneid"))
	if z == nil {
		return nil, errInvalidID(r, "zoneid", r.get("zoneid"))
	}
	if !o.inZone(z) {
		return nil, errParam("Disk offering %s is not available in zone %s", o.ID, z.ID)
	}
	size, aerr := diskSize(o, r.get("size"))
	if aerr != nil {
		return nil, aerr
	}
	owner, aerr := st.deployOwner(r)
	if aerr != nil {
		return nil, aerr
	}
	vol := &volume{id: st.newID("volume"), name: r.get("name"), typ: VolumeTypeDataDisk, state: volumeAllocated, owner: owner, zone: z,
		offering: o, sizeGiB: size, created: r.now}
	if vol.name == "" {
		vol.name = "DATA-" + vol.id[:8]
	}
	st.volumes = append(st.volumes, vol)
	j := s.newJob(r, jobClass+"volume.CreateVolumeCmd", "Volume", vol.id)
	s.after(s.jobLatency(), func() { s.succeedJob(j, map[string]any{"volume": st.volumeJSON(vol)}) })
	return map[string]string{"id": vol.id, "jobid": j.id}, nil
}

// cmdAttachVolume attaches a detached DATADISK to a Running or Stopped VM of the same zone, at deviceid or the first
// free one of 1, 2, 4, 5, ... (3 is the CD-ROM's), with VolumeApiServiceImpl.attachVolumeToVM's checks in the job.
func cmdAttachVolume(s *Server, r *request) (any, *apiError) {
	st := s.st
	for _, p := range []string{"id", "virtualmachineid"} {
		if !r.has(p) {
			return nil, errMissing(r, p)
		}
	}
	vol := st.volumeByID(r.get("id"))
	if vol == nil {
		return nil, errInvalidID(r, "id", r.get("id"))
	}
	v := st.vmByID[r.get("virtualmachineid")]
	if v == nil {
		return nil, errInvalidID(r, "virtualmachineid", r.get("virtualmachineid"))
	}
	if !st.canOperate(r.acct, v.owner) || !st.canOperate(r.acct, vol.owner) {
		return nil, errPermission("Account %s does not have permission to operate on volume %s", r.acct.Name, vol.id)
	}
	device := 0
	if d := r.get("deviceid"); d != "" {
		var err error
		if device, err = strconv.Atoi(d); err != nil {
			return nil, errParam("Unable to execute API command attachvolume due to invalid value. Invalid parameter deviceid value=%s", d)
		}
	}
	j := s.newJob(r, jobClass+"volume.AttachVolumeCmd", "Volume", vol.id)
	_, end := s.queue(r, v)
	s.after(end, func() {
		fail := func(format string, args ...any) { s.failJob(j, 431, fmt.Sprintf(format, args...)) }
		switch {
		case st.volumeByID(vol.id) == nil:
			fail("Please specify a valid data volume.")
		case vol.typ != VolumeTypeDataDisk:
			fail("Please specify a volume with the valid type: %s", VolumeTypeDataDisk)
		case vol.vm != nil:
			fail("Please specify a volume that is not attached to any VM.")
		case v.state != StateRunning && v.state != StateStopped:
			fail("Please specify a VM that is either running or stopped.")
		case vol.zone != v.zone:
			fail("Please specify a VM that is in the same zone as the volume.")
		default:
			used := map[int]bool{}
			for _, other := range st.volumes {
				if other.vm == v {
					used[other.deviceID] = true
				}
			}
			if device != 0 {
				if device > 15 || device < 1 || device == 3 {
					fail("deviceId should be 1,2,4-15")
					return
				}
				if used[device] {
					fail("deviceId %d is used by vm %s", device, v.id)
					return
				}
			} else {
				for device = 1; used[device] || device == 3; device++ {
				}
			}
			vol.vm, vol.deviceID, vol.state = v, device, volumeReady
			s.succeedJob(j, map[string]any{"volume": st.volumeJSON(vol)})
		}
	})
	return map[string]string{"jobid": j.id}, nil
}

// volumeForOp resolves the id of a volume operation, with the server's errors for an unknown or foreign volume.
func (s *Server) volumeForOp(r *request) (*volume, *apiError) {
	vol := s.st.volumeByID(r.get("id"))
	if vol == nil {
		return nil, errInvalidID(r, "id", r.get("id"))
	}
	if !s.st.canOperate(r.acct, vol.owner) {
		return nil, errPermission("Account %s does not have permission to operate on volume %s", r.acct.Name, vol.id)
	}
	return vol, nil
}

func cmdDetachVolume(s *Server, r *request) (any, *apiError) {
	st := s.st
	vol, aerr := s.volumeForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if vol.typ == VolumeTypeRoot {
		return nil, errParam("Please specify volume of type %s", VolumeTypeDataDisk)
	}
	if vol.vm == nil {
		return nil, errParam("Volume %s is not attached to a VM", vol.id)
	}
	j := s.newJob(r, jobClass+"volume.DetachVolumeCmd", "Volume", vol.id)
	_, end := s.queue(r, vol.vm)
	s.after(end, func() {
		vol.vm, vol.deviceID = nil, 0
		s.succeedJob(j, map[string]any{"volume": st.volumeJSON(vol)})
	})
	return map[string]string{"jobid": j.id}, nil
}

// cmdDeleteVolume deletes a detached volume (synchronous: DeleteVolumeCmd is a BaseCmd answering {success}).
func cmdDeleteVolume(s *Server, r *request) (any, *apiError) {
	st := s.st
	vol, aerr := s.volumeForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if vol.vm != nil {
		return nil, errParam("Please specify a volume that is not attached to any VM.")
	}
	st.deleteVolumes([]*volume{vol})
	return map[string]any{"success": true}, nil
}

func (st *cloud) zoneByName(name string) *zone {
	for _, z := range st.zones {
		if z.Name == name {
			return z
		}
	}
	return nil
}

func (st *cloud) volumesOf(v *vm) []*volume {
	var out []*volume
	for _, vol := range st.volumes {
		if vol.vm == v {
			out = append(out, vol)
		}
	}
	return out
}
