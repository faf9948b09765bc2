package simulator

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hostnameRE is CloudStack's rule for VM names (they become hostnames): RFC 1123 labels, no leading digit.
var hostnameRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

const jobClass = "org.apache.cloudstack.api.command.user."

func errPermission(format string, args ...any) *apiError {
	return &apiError{code: 531, csCode: 4365, text: fmt.Sprintf(format, args...)}
}

// deployFailureText is what a failed deployment job reports (InsufficientServerCapacityException).
func deployFailureText(v *vm) string {
	return fmt.Sprintf("Unable to create a deployment for VM[User|%s]", v.instanceName)
}

func cmdDeployVirtualMachine(s *Server, r *request) (any, *apiError) {
	st := s.st
	for _, p := range []string{"serviceofferingid", "templateid", "zoneid"} {
		if !r.has(p) {
			return nil, errMissing(r, p)
		}
	}
	z := st.zoneByID(r.get("zoneid"))
	if z == nil {
		return nil, errInvalidID(r, "zoneid", r.get("zoneid"))
	}
	o := st.offeringByID(r.get("serviceofferingid"))
	if o == nil {
		return nil, errInvalidID(r, "serviceofferingid", r.get("serviceofferingid"))
	}
	t := st.templateByID(r.get("templateid"))
	if t == nil {
		return nil, errInvalidID(r, "templateid", r.get("templateid"))
	}
	var nets []*network
	for _, id := range listParam(r, "networkids") {
		n := st.networkByID(id)
		if n == nil {
			return nil, errInvalidID(r, "networkids", id)
		}
		nets = append(nets, n)
	}
	owner, aerr := st.deployOwner(r)
	if aerr != nil {
		return nil, aerr
	}
	groups, aerr := s.deployGroups(r, owner)
	if aerr != nil {
		return nil, aerr
	}
	if z.Disabled && !r.acct.RootAdmin {
		return nil, errPermission("Cannot perform this operation, Zone is currently disabled: %s", z.ID)
	}
	if !slices.Contains(t.Zones, z.Name) || t.NotReady {
		return nil, errParam("Please specify a valid template: template %s is not ready in zone %s", t.ID, z.ID)
	}
	if o.System {
		return nil, errParam("Unable to find service offering: %s", o.ID)
	}
	if len(o.Zones) > 0 && !slices.Contains(o.Zones, z.Name) {
		return nil, errParam("Service offering %s is not available in zone %s", o.ID, z.ID)
	}
	details := map[string]string{}
	for _, m := range indexedMap(r, "details") {
		for k, v := range m {
			details[k] = v
		}
	}
	cpu, speed, mem, aerr := customSize(o, details)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.validateUserData(r); aerr != nil {
		return nil, aerr
	}
	name := r.get("name")
	if name != "" && !hostnameRE.MatchString(name) {
		return nil, errParam("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', " +
			"and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit")
	}
	if len(nets) == 0 {
		for _, n := range st.networks {
			if n.zone == z && n.Type == "Isolated" && n.Account == owner.Name && n.State != "Destroy" {
				nets = append(nets, n)
				break
			}
		}
		if len(nets) == 0 {
			return nil, errParam("Unable to find a default network for account %s in zone %s; specify networkids", owner.Name, z.ID)
		}
	}
	for _, n := range nets {
		if n.zone != z {
			return nil, errParam("Network id=%s doesn't belong to zone %s", n.ID, z.ID)
		}
		if n.Type == "Isolated" && n.Account != owner.Name && r.acct.kind != acctRootAdmin {
			return nil, errPermission("Account %s does not have permission to use network %s", owner.Name, n.ID)
		}
		if n.State == "Destroy" {
			return nil, errParam("Network %s is not in a state that allows deploying VMs", n.ID)
		}
	}
	keypairs, aerr := s.deployKeyPairs(r, owner)
	if aerr != nil {
		return nil, aerr
	}
	sgs, aerr := s.deploySecurityGroups(r, owner, z)
	if aerr != nil {
		return nil, aerr
	}
	dataOffering, dataGiB, aerr := s.deployDataDisk(r, z)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkLimits(owner, cpu, mem); aerr != nil {
		return nil, aerr
	}
	if aerr := checkRootDiskOverride(details, r, t); aerr != nil {
		return nil, aerr
	}
	failMode := s.deployFailure(z, o)
	if failMode == deployRefused {
		return nil, errDeployRefused()
	}
	id := st.newID("vm")
	st.seq++
	v := &vm{id: id, name: name, group: r.get("group"), state: StateStopped, owner: owner, zone: z, offering: o, template: t,
		userData: r.get("userdata"), keyPairs: keypairs, groups: groups, sgs: sgs, cpu: cpu, speed: speed, memory: mem, details: details,
		created: r.now, updated: r.now, counted: true, instanceName: fmt.Sprintf("i-%d-%d-VM", owner.num, st.seq)}
	if v.name == "" {
		v.name = "VM-" + id
	}
	// The hostname must be unique among the VMs attached to each network until they are expunged.
	for _, n := range nets {
		for _, other := range st.vms {
			if !strings.EqualFold(other.name, v.name) {
				continue
			}
			for _, on := range other.nics {
				if on.network == n {
					return nil, errParam("The vm with hostName %s already exists in the network domain: %s; network=%s", v.name, n.Domain, n.Name)
				}
			}
		}
	}
	v.displayName = r.get("displayname")
	if v.displayName == "" {
		v.displayName = v.name
	}
	v.rootDiskGiB = t.SizeGiB
	if o.RootDiskGiB > 0 {
		v.rootDiskGiB = o.RootDiskGiB
	}
	if d, ok := details["rootdisksize"]; ok {
		v.rootDiskGiB, _ = strconv.ParseInt(d, 10, 64)
	} else if d := r.get("rootdisksize"); d != "" {
		v.rootDiskGiB, _ = strconv.ParseInt(d, 10, 64)
	}
	for i, n := range nets {
		ip, ok := n.allocateIP()
		if !ok {
			// GuestNetworkGuru.allocate runs in the synchronous part of deploy: InsufficientVirtualNetworkCapacity,
			// whose text ApiServer hides from everyone but root admins.
			for _, nic := range v.nics {
				nic.network.releaseIP(nic.ip)
			}
			text := "Internal error executing command, please contact your system administrator"
			if r.acct.kind == acctRootAdmin {
				text = fmt.Sprintf("Unable to acquire Guest IP address for network Ntwk[%s|Guest|%s]", n.ID, n.Name)
			}
			return nil, &apiError{code: 533, csCode: 4330, text: text}
		}
		st.idSeq++
		v.nics = append(v.nics, vmNIC{id: st.newID("nic"), network: n, ip: ip, isDefault: i == 0,
			mac: fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", byte(st.idSeq>>24), byte(st.idSeq>>16), byte(st.idSeq>>8), byte(st.idSeq))})
	}
	startVM := true
	if b, set, aerr := parseBool(r, "startvm"); aerr != nil {
		return nil, aerr
	} else if set {
		startVM = b
	}
	st.vms = append(st.vms, v)
	st.vmByID[v.id] = v
	st.addVMVolumes(v, dataOffering, dataGiB)
	v.cloud = st
	st.touch(v)

	failure, failCode := "", 533
	if startVM {
		switch {
		case s.faults.takeDeployFailure(z, o) || failMode == deployJobCapacity || !st.reserve(v):
			failure = deployFailureText(v)
			if len(groups) > 0 {
				failure += ", Please check the affinity groups provided, there may not be sufficient capacity to follow them"
			}
		case failMode == deployJobInternal:
			failure, failCode = deployInternalFailureText(v), 530
		}
	}
	j := s.newJob(r, jobClass+"vm.DeployVMCmd", "VirtualMachine", v.id)
	lat := s.jobLatency()
	v.busyUntil = r.now.Add(lat)
	// Timers may fire out of order on a loaded machine, so every transition checks the state it starts from:
	// a late step never undoes a later one.
	if startVM {
		s.after(lat/2, func() {
			if j.status == jobPending && v.state == StateStopped {
				v.setState(StateStarting)
			}
		})
	}
	s.after(lat, func() {
		pristine := v.state == StateStopped || v.state == StateStarting
		switch {
		case failure != "":
			// A failed start leaves the VM in Error with its resource counts returned.
			if pristine {
				st.release(v)
				v.uncount()
				v.setState(StateError)
				// updateVmStateForFailedVmCreation destroys the failed VM's volumes, data disks included.
				st.deleteVolumes(st.volumesOf(v))
			}
			s.failJob(j, failCode, failure)
		case startVM:
			if pristine {
				v.hostID = StableID("host", z.Name+"/"+strconv.Itoa(st.seq%4))
				v.setState(StateRunning)
			}
			s.succeedJob(j, map[string]any{"virtualmachine": st.vmJSON(v, r.acct.RootAdmin)})
		default:
			s.succeedJob(j, map[string]any{"virtualmachine": st.vmJSON(v, r.acct.RootAdmin)})
		}
	})
	return map[string]string{"id": v.id, "jobid": j.id}, nil
}

// deployOwner is the account a new VM belongs to: the project of projectid, the account named by account (and
// domainid) when the caller may act for it, or the caller.
func (st *cloud) deployOwner(r *request) (*account, *apiError) {
	if pid := r.get("projectid"); pid != "" {
		p := st.projectByID(pid)
		if p == nil {
			return nil, errInvalidID(r, "projectid", pid)
		}
		// BaseCmd.finalyzeAccountId (DeployVMCmd.getEntityOwnerId, enabledOnly) runs first and checks the state only.
		if state := projectState(p); state != "Active" {
			return nil, errPermission("Can't add resources to the project with specified projectId in state=%s as it's no longer active", state)
		}
		if !st.canAccessProject(r.acct, p) {
			// AccountManagerImpl.finalizeOwner words it differently from the listings' "can't access project".
			return nil, errPermission("Account %s is unauthorised to use project id=%s", r.acct.Name, p.ID)
		}
		return p.account, nil
	}
	name := r.get("account")
	if name == "" {
		return r.acct, nil
	}
	domain := r.acct.domainPath
	if id := r.get("domainid"); id != "" {
		if domain = st.domainByID(id); domain == "" {
			return nil, errInvalidID(r, "domainid", id)
		}
	}
	target := st.accountIn(name, domain)
	if target == nil {
		return nil, errParam("could not find account %s in domain %s", name, st.domainIDOf(domain))
	}
	if aerr := checkAccountAccess(r.acct, target); aerr != nil {
		return nil, aerr
	}
	return target, nil
}

func (s *Server) deployGroups(r *request, owner *account) ([]*AffinityGroup, *apiError) {
	ids, names := listParam(r, "affinitygroupids"), listParam(r, "affinitygroupnames")
	if len(ids) > 0 && len(names) > 0 {
		return nil, errParam("affinitygroupids parameter is mutually exclusive with affinitygroupnames parameter")
	}
	var out []*AffinityGroup
	for _, id := range ids {
		g := s.st.groupByID(id)
		if g == nil {
			return nil, errInvalidID(r, "affinitygroupids", id)
		}
		if g.Account != owner.Name {
			return nil, errPermission("Affinity group %s does not belong to account %s", g.ID, owner.Name)
		}
		out = append(out, g)
	}
	for _, name := range names {
		var found *AffinityGroup
		for _, g := range s.st.groups {
			if g.Name == name && g.Account == owner.Name {
				found = g
			}
		}
		if found == nil {
			return nil, errParam("Unable to find affinity group by name %s", name)
		}
		out = append(out, found)
	}
	return out, nil
}

func (s *Server) deployKeyPairs(r *request, owner *account) ([]string, *apiError) {
	names := listParam(r, "keypairs")
	if k := r.get("keypair"); k != "" && !slices.Contains(names, k) {
		names = append([]string{k}, names...)
	}
	for _, n := range names {
		found := false
		for _, k := range s.st.keypairs {
			found = found || (k.Name == n && k.Account == owner.Name)
		}
		if !found {
			return nil, errParam("A key pair with name '%s' was not found for account %s in specified domain id", n, owner.Name)
		}
	}
	return names, nil
}

// customSize resolves CPU, speed and memory, enforcing UserVmManagerImpl's rules for customized offerings.
func customSize(o *ServiceOffering, details map[string]string) (int, int, int, *apiError) {
	cpu, speed, mem := o.CPUNumber, o.CPUSpeed, o.MemoryMiB
	num := func(key string) (int, bool, *apiError) {
		v, ok := details[key]
		if !ok {
			return 0, false, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, true, errParam("Invalid %s value %q: it must be an integer", key, v)
		}
		return n, true, nil
	}
	vals := map[string]int{}
	for _, k := range []string{"cpuNumber", "cpuSpeed", "memory"} {
		n, ok, aerr := num(k)
		if aerr != nil {
			return 0, 0, 0, aerr
		}
		if ok {
			vals[k] = n
		}
	}
	_, hasCPU := vals["cpuNumber"]
	_, hasSpeed := vals["cpuSpeed"]
	_, hasMem := vals["memory"]
	if o.Customized && ((cpu == 0 && !hasCPU) || (speed == 0 && !hasSpeed) || (mem == 0 && !hasMem)) {
		return 0, 0, 0, errParam("Need to specify custom parameter values cpu, cpu speed and memory when using custom offering")
	}
	if cpu != 0 && hasCPU {
		return 0, 0, 0, errParam("The cpu cores of this offering id:%s is not customizable. This is predefined in the template.", o.ID)
	}
	if speed != 0 && hasSpeed {
		return 0, 0, 0, errParam("The cpu speed of this offering id:%s is not customizable. This is predefined in the template.", o.ID)
	}
	if mem != 0 && hasMem {
		return 0, 0, 0, errParam("The memory of this offering id:%s is not customizable. This is predefined in the template.", o.ID)
	}
	if cpu == 0 {
		cpu = vals["cpuNumber"]
		lo, hi := max(o.MinCPU, 1), o.MaxCPU
		if hi == 0 {
			hi = 64
		}
		if cpu < lo || cpu > hi {
			return 0, 0, 0, errParam("Invalid cpu cores value, specify a value between %d and %d", lo, hi)
		}
	}
	if speed == 0 {
		speed = vals["cpuSpeed"]
		if speed < 1 {
			return 0, 0, 0, errParam("Invalid cpu speed value, specify a value between 1 and %d", 1<<31-1)
		}
	}
	if mem == 0 {
		mem = vals["memory"]
		lo, hi := max(o.MinMemory, 32), o.MaxMemory
		if hi == 0 {
			hi = 1 << 20
		}
		if mem < lo || mem > hi {
			return 0, 0, 0, errParam("Invalid memory value, specify a value between %d and %d", lo, hi)
		}
	}
	return cpu, speed, mem, nil
}

// validateUserData follows UserDataManagerImpl.validateUserData.
func (s *Server) validateUserData(r *request) *apiError {
	if _, sent := r.params["userdata"]; !sent {
		return nil
	}
	ud := r.get("userdata")
	if r.method == "GET" && len(ud) >= 4096 {
		return errParam("User data is too long for an http GET request")
	}
	if len(ud) >= 1048576 {
		return errParam("User data is too long for an http POST request")
	}
	if max := s.cat.Settings.UserDataMaxLength; len(ud) > max {
		return errParam("User data has exceeded configurable max length : %d", max)
	}
	decoded, ok := decodeBase64(ud)
	if !ok {
		return errParam("User data is not base64 encoded")
	}
	if len(decoded) < 1 {
		return errParam("User data is too short")
	}
	return nil
}

func (s *Server) checkLimits(a *account, cpu, mem int) *apiError {
	vms, usedCPU, usedMem := s.st.usage(a)
	exceeded := func(kind string) *apiError {
		return &apiError{code: 535, csCode: 4370, text: fmt.Sprintf(
			"Maximum number of resources of type '%s' for account name=%s in domain id=%s has been exceeded.", kind, a.Name, a.domainID)}
	}
	if l := a.Limits.UserVM; l != nil && *l >= 0 && vms+1 > *l {
		return exceeded("user_vm")
	}
	if l := a.Limits.CPU; l != nil && *l >= 0 && usedCPU+int64(cpu) > *l {
		return exceeded("cpu")
	}
	if l := a.Limits.MemoryMiB; l != nil && *l >= 0 && usedMem+int64(mem) > *l {
		return exceeded("memory")
	}
	return nil
}

// vmForOp resolves the `id` of a VM operation, with the real server's errors for unknown or foreign VMs.
func (s *Server) vmForOp(r *request) (*vm, *apiError) {
	id := r.get("id")
	if id == "" {
		return nil, errMissing(r, "id")
	}
	v := s.st.vmByID[id]
	if v == nil {
		return nil, errInvalidID(r, "id", id)
	}
	if !s.st.canOperate(r.acct, v.owner) {
		return nil, errPermission("Account %s does not have permission to operate on VM %s", r.acct.Name, id)
	}
	return v, nil
}

// queue schedules a job on a VM after any job already running on it, and returns when it starts and ends.
func (s *Server) queue(r *request, v *vm) (time.Duration, time.Duration) {
	begin := r.now
	if v.busyUntil.After(begin) {
		begin = v.busyUntil
	}
	lat := s.jobLatency()
	v.busyUntil = begin.Add(lat)
	return begin.Sub(r.now), begin.Add(lat).Sub(r.now)
}

func (s *Server) vmResult(r *request, v *vm) map[string]any {
	return map[string]any{"virtualmachine": s.st.vmJSON(v, r.acct.RootAdmin)}
}

func cmdDestroyVirtualMachine(s *Server, r *request) (any, *apiError) {
	v, aerr := s.vmForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	expunge, _, aerr := parseBool(r, "expunge")
	if aerr != nil {
		return nil, aerr
	}
	j := s.newJob(r, jobClass+"vm.DestroyVMCmd", "VirtualMachine", v.id)
	begin, end := s.queue(r, v)
	if expunge && !s.mayExpunge(r.acct) {
		// The check runs in the job (UserVmManagerImpl.destroyVm via checkExpungeVmPermission), before the VM
		// changes, so the destroy is accepted and its job fails with PermissionDeniedException.
		s.after(begin, func() { s.failJob(j, 531, "Account does not have permission for expunging.") })
		return map[string]string{"jobid": j.id}, nil
	}
	st := s.st
	// The job stops the VM first: VirtualMachineManagerImpl.advanceStop moves it to Stopping (Event.StopRequested)
	// before it sends the StopCommand, so the VM is Stopping for the hypervisor's whole stop, not Running.
	s.after(begin, func() {
		if j.status == jobPending && v.state == StateRunning {
			v.setState(StateStopping)
		}
	})
	s.after(end, func() {
		if _, live := st.vmByID[v.id]; !live {
			s.failJob(j, 431, fmt.Sprintf("Unable to find vm or vm is removed: %s", v.id))
			return
		}
		if v.state == StateDestroyed && !expunge || v.state == StateExpunging {
			s.succeedJob(j, s.vmResult(r, v))
			return
		}
		vols, aerr := st.destroyVolumes(r, v)
		if aerr != nil {
			s.failJob(j, aerr.code, aerr.text)
			return
		}
		// destroyVm detaches and destroys the volumes of volumeids with the VM.
		st.deleteVolumes(vols)
		st.release(v)
		v.uncount()
		if expunge || v.state == StateError {
			v.setState(StateExpunging)
			s.succeedJob(j, s.vmResult(r, v))
			st.remove(v)
			return
		}
		v.setState(StateDestroyed)
		s.succeedJob(j, s.vmResult(r, v))
		s.scheduleExpunge(v)
	})
	return map[string]string{"jobid": j.id}, nil
}

// mayExpunge is checkExpungeVmPermission: admins (root and domain), or users where allow.user.expunge.recover.vm
// is set, and in either case only when the caller's role also allows expungeVirtualMachine.
func (s *Server) mayExpunge(a *account) bool {
	admin := a.kind == acctRootAdmin || a.kind == acctDomainAdmin
	return (admin || s.cat.Settings.AllowUserExpungeRecoverVM) && a.mayCall("expungevirtualmachine")
}

// scheduleExpunge models the expunge thread: after expunge.delay a Destroyed VM turns Expunging, then goes.
func (s *Server) scheduleExpunge(v *vm) {
	s.after(s.cat.Settings.ExpungeDelay.Duration, func() {
		if v.state != StateDestroyed {
			return
		}
		v.setState(StateExpunging)
		s.after(s.jobLatency(), func() {
			if v.state == StateExpunging {
				s.st.remove(v)
			}
		})
	})
}

func cmdExpungeVirtualMachine(s *Server, r *request) (any, *apiError) {
	v, aerr := s.vmForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if !r.acct.RootAdmin && !s.cat.Settings.AllowUserExpungeRecoverVM {
		return nil, errPermission("Parameter expunge can be passed by Admin only. Or when the allow.user.expunge.recover.vm key is set.")
	}
	if v.state != StateDestroyed && v.state != StateExpunging && v.state != StateError {
		return nil, errParam("Please destroy vm with specified vmId before expunge")
	}
	j := s.newJob(r, "org.apache.cloudstack.api.command.admin.vm.ExpungeVMCmd", "VirtualMachine", v.id)
	_, end := s.queue(r, v)
	v.setState(StateExpunging)
	s.after(end, func() {
		if _, live := s.st.vmByID[v.id]; live {
			s.st.remove(v)
		}
		s.succeedJob(j, map[string]any{"success": true})
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdStopVirtualMachine(s *Server, r *request) (any, *apiError) {
	v, aerr := s.vmForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if v.terminal() || v.state == StateError {
		return nil, errParam("Unable to stop VM %s: it is in state %s", v.id, v.state)
	}
	j := s.newJob(r, jobClass+"vm.StopVMCmd", "VirtualMachine", v.id)
	begin, end := s.queue(r, v)
	// Stopping as soon as the job runs, as for a destroy (advanceStop).
	s.after(begin, func() {
		if j.status == jobPending && v.state == StateRunning {
			v.setState(StateStopping)
		}
	})
	s.after(end, func() {
		if v.state == StateRunning || v.state == StateStopping || v.state == StateStarting {
			s.st.release(v)
			v.setState(StateStopped)
		}
		s.succeedJob(j, s.vmResult(r, v))
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdStartVirtualMachine(s *Server, r *request) (any, *apiError) {
	v, aerr := s.vmForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if v.terminal() || v.state == StateError {
		return nil, errParam("Unable to start VM %s: it is in state %s", v.id, v.state)
	}
	j := s.newJob(r, jobClass+"vm.StartVMCmd", "VirtualMachine", v.id)
	begin, end := s.queue(r, v)
	s.after(begin, func() {
		if j.status == jobPending && v.state == StateStopped {
			v.setState(StateStarting)
		}
	})
	s.after(end, func() {
		switch {
		case v.state == StateRunning:
			s.succeedJob(j, s.vmResult(r, v))
		case v.state != StateStarting:
			s.failJob(j, 431, fmt.Sprintf("Unable to start VM %s: it is in state %s", v.id, v.state))
		case s.faults.takeDeployFailure(v.zone, v.offering) || !s.st.reserve(v):
			v.setState(StateStopped)
			s.failJob(j, 533, deployFailureText(v))
		default:
			v.hostID = StableID("host", v.zone.Name+"/0")
			v.setState(StateRunning)
			s.succeedJob(j, s.vmResult(r, v))
		}
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdRebootVirtualMachine(s *Server, r *request) (any, *apiError) {
	v, aerr := s.vmForOp(r)
	if aerr != nil {
		return nil, aerr
	}
	if v.state != StateRunning {
		return nil, errParam("Unable to reboot VM %s: it is in state %s, not Running", v.id, v.state)
	}
	j := s.newJob(r, jobClass+"vm.RebootVMCmd", "VirtualMachine", v.id)
	_, end := s.queue(r, v)
	s.after(end, func() {
		if v.state != StateRunning {
			s.failJob(j, 530, fmt.Sprintf("Unable to reboot VM %s: it is in state %s", v.id, v.state))
			return
		}
		v.reboots++
		v.updated = time.Now()
		s.st.touch(v)
		s.succeedJob(j, s.vmResult(r, v))
	})
	return map[string]string{"jobid": j.id}, nil
}

func cmdListVirtualMachines(s *Server, r *request) (any, *apiError) {
	st := s.st
	ids := listParam(r, "ids")
	if id := r.get("id"); id != "" {
		ids = append(ids, id)
	}
	sc, aerr := st.scope(r, r.has("id"))
	if aerr != nil {
		return nil, aerr
	}
	for _, id := range ids {
		if st.vmByID[id] == nil && !st.removed[id] {
			return nil, errInvalidID(r, "id", id)
		}
	}
	for param, exists := range map[string]func(string) bool{
		"zoneid":            func(id string) bool { return st.zoneByID(id) != nil },
		"templateid":        func(id string) bool { return st.templateByID(id) != nil },
		"serviceofferingid": func(id string) bool { return st.offeringByID(id) != nil },
		"networkid":         func(id string) bool { return st.networkByID(id) != nil },
		"affinitygroupid":   func(id string) bool { return st.groupByID(id) != nil },
	} {
		if v := r.get(param); v != "" && !exists(v) {
			return nil, errInvalidID(r, param, v)
		}
	}
	tags := tagPairs(r)
	name, keyword, state := r.get("name"), r.get("keyword"), r.get("state")
	substring := st.settings.NameFilter == "substring"
	showDestroyed := r.acct.kind == acctRootAdmin || r.acct.kind == acctDomainAdmin || st.settings.AllowUserViewDestroyedVM
	var out []*vm
	for _, v := range st.vms {
		switch {
		case !sc.sees(v.owner),
			v.terminal() && !showDestroyed,
			len(ids) > 0 && !slices.Contains(ids, v.id),
			r.has("zoneid") && v.zone.ID != r.get("zoneid"),
			r.has("templateid") && v.template.ID != r.get("templateid"),
			r.has("serviceofferingid") && v.offering.ID != r.get("serviceofferingid"),
			r.has("networkid") && !slices.ContainsFunc(v.nics, func(n vmNIC) bool { return n.network.ID == r.get("networkid") }),
			r.has("affinitygroupid") && !slices.ContainsFunc(v.groups, func(g *AffinityGroup) bool { return g.ID == r.get("affinitygroupid") }),
			r.has("keypair") && !slices.Contains(v.keyPairs, r.get("keypair")),
			name != "" && !substring && v.name != name,
			name != "" && substring && !strings.Contains(v.name, name),
			keyword != "" && !containsFold(v.name, keyword) && !containsFold(v.displayName, keyword) && !strings.EqualFold(v.state, keyword),
			state != "" && !matchState(v.state, state),
			!st.matchesTags(v.id, tags):
			continue
		}
		out = append(out, v)
	}
	page, total, aerr := pageOf(s, r, out)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]vmJSON, 0, len(page))
	for _, v := range page {
		items = append(items, st.vmJSON(v, r.acct.RootAdmin))
	}
	return listBody("virtualmachine", items, total), nil
}

func matchState(state, filter string) bool {
	if strings.EqualFold(filter, "Present") {
		return state != StateDestroyed && state != StateExpunging
	}
	return strings.EqualFold(state, filter)
}

// checkRootDiskOverride is UserVmManagerImpl.validateRootDiskResize: a root disk override (GiB) smaller than the
// template's size is refused before anything is created.
func checkRootDiskOverride(details map[string]string, r *request, t *Template) *apiError {
	d, ok := details["rootdisksize"]
	if !ok {
		d = r.get("rootdisksize")
	}
	if d == "" {
		return nil
	}
	gib, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return nil
	}
	if gib<<30 < t.SizeGiB<<30 {
		return errParam("Unsupported: rootdisksize override (%d GB) is smaller than template size %s", gib, humanReadableSize(t.SizeGiB<<30))
	}
	return nil
}

// humanReadableSize is NumbersUtil.toHumanReadableSize: two decimals in the largest binary unit below the size.
func humanReadableSize(size int64) string {
	const kb = 1024
	switch {
	case size < kb:
		return fmt.Sprintf("%d bytes", size)
	case size < kb*kb:
		return fmt.Sprintf("%.2f KB", float64(size)/kb)
	case size < kb*kb*kb:
		return fmt.Sprintf("%.2f MB", float64(size)/(kb*kb))
	default:
		return fmt.Sprintf("%.2f GB", float64(size)/(kb*kb*kb))
	}
}
