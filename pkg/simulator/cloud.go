package simulator

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// cloud is the simulated management server's database. Every field is guarded by Server.mu.
type cloud struct {
	settings Settings
	domainID string

	accounts []*account
	byKey    map[string]*account
	byName   map[string]*account
	projects []*project

	zones     []*zone
	networks  []*network
	templates []*Template
	offerings []*ServiceOffering
	groups    []*AffinityGroup
	keypairs  []*SSHKeyPair
	sgs       []*SecurityGroup
	// diskOfferings and volumes: see volumes.go.
	diskOfferings []*DiskOffering
	volumes       []*volume

	vms     []*vm          // creation order, which is what list calls return
	vmByID  map[string]*vm // includes VMs until expunged
	removed map[string]bool
	// expunged keeps a snapshot of every expunged VM, for the tests' history of launches (Server.ExpungedVirtualMachines).
	expunged []VM

	tags []*resourceTag
	jobs map[string]*job
	// changes records which VMs changed when, for GET /vms/changes.
	changes vmChangeLog
	seq     int
	idSeq   int
}

type account struct {
	Account
	kind       string // acctNormal, acctRootAdmin, acctDomainAdmin or acctProject
	userID     string
	domainPath string
	domainID   string
	num        int      // the numeric id that appears in instance names (i-<account>-<vm>-VM)
	project    *project // set on project accounts
	// allowed are the lower-case command names of the account's catalog role; nil = the built-in role of its type.
	allowed map[string]bool
}

// mayCall is DynamicRoleBasedAPIAccessChecker.checkAccess for the command (lower case): a custom role allows only
// its listed commands; built-in roles allow everything served to the account type.
func (a *account) mayCall(lc string) bool {
	return a.allowed == nil || a.allowed[lc]
}

type zone struct {
	Zone
	usedCPU int
	usedMem int64
}

type network struct {
	Network
	zone   *zone
	prefix netip.Prefix
	used   map[int]bool // host offsets of the addresses NICs hold, until their VM is expunged
}

// resourceTag is one tag on one resource, as listTags returns it.
type resourceTag struct {
	key, value, resourceType, resourceID string
	owner                                *account
}

func newCloud(c *Catalog) (*cloud, error) {
	st := &cloud{
		settings: c.Settings,
		domainID: StableID("domain", "ROOT"),
		byKey:    map[string]*account{},
		byName:   map[string]*account{},
		vmByID:   map[string]*vm{},
		removed:  map[string]bool{},
		jobs:     map[string]*job{},
		changes:  newVMChangeLog(),
	}
	// Roles are checked here rather than in Catalog.complete so that catalogs built in code are checked too.
	roles := map[string]map[string]bool{}
	for _, r := range c.Roles {
		if r.Name == "" || roles[r.Name] != nil {
			return nil, fmt.Errorf("role names must be set and unique, got %q", r.Name)
		}
		roles[r.Name] = map[string]bool{}
		for _, cmd := range r.Commands {
			if _, ok := commands[strings.ToLower(cmd)]; !ok {
				return nil, fmt.Errorf("role %q allows %q, which the simulator does not serve", r.Name, cmd)
			}
			roles[r.Name][strings.ToLower(cmd)] = true
		}
	}
	for i := range c.Accounts {
		a := &account{Account: c.Accounts[i], kind: accountKind(c.Accounts[i]), userID: StableID("user", c.Accounts[i].Name), num: i + 2}
		a.domainPath, a.domainID = a.Domain, StableID("domain", a.Domain)
		if a.Role != "" {
			if a.allowed = roles[a.Role]; a.allowed == nil {
				return nil, fmt.Errorf("account %q holds role %q, which the catalog's roles do not define", a.Name, a.Role)
			}
		}
		st.accounts = append(st.accounts, a)
		st.byKey[a.APIKey] = a
		st.byName[a.Name] = a
	}
	if err := st.addProjects(c); err != nil {
		return nil, err
	}
	zones := map[string]*zone{}
	for i := range c.Zones {
		z := &zone{Zone: c.Zones[i]}
		st.zones = append(st.zones, z)
		zones[z.Name] = z
		st.addCatalogTags("Zone", z.ID, st.accounts[0], z.Tags)
	}
	for i := range c.Networks {
		n := &network{Network: c.Networks[i], zone: zones[c.Networks[i].Zone], used: map[int]bool{}}
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("network %q: cidr %q is not an IPv4 prefix", n.Name, n.CIDR)
		}
		n.prefix = p.Masked()
		st.networks = append(st.networks, n)
		st.addCatalogTags("Network", n.ID, st.byName[n.Account], n.Tags)
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		st.templates = append(st.templates, t)
		st.addCatalogTags("Template", t.ID, st.byName[t.Account], t.Tags)
	}
	for i := range c.ServiceOfferings {
		o := &c.ServiceOfferings[i]
		st.offerings = append(st.offerings, o)
		st.addCatalogTags("ServiceOffering", o.ID, st.accounts[0], o.Tags)
	}
	for i := range c.AffinityGroups {
		st.groups = append(st.groups, &c.AffinityGroups[i])
	}
	for i := range c.SSHKeyPairs {
		st.keypairs = append(st.keypairs, &c.SSHKeyPairs[i])
	}
	for i := range c.SecurityGroups {
		g := &c.SecurityGroups[i]
		st.sgs = append(st.sgs, g)
		st.addCatalogTags("SecurityGroup", g.ID, st.byName[g.Account], g.Tags)
	}
	for i := range c.DiskOfferings {
		st.diskOfferings = append(st.diskOfferings, &c.DiskOfferings[i])
	}
	return st, nil
}

func (st *cloud) addCatalogTags(resourceType, id string, owner *account, tags map[string]string) {
	for _, k := range sortedKeys(tags) {
		st.tags = append(st.tags, &resourceTag{key: k, value: tags[k], resourceType: resourceType, resourceID: id, owner: owner})
	}
}

// newID returns a fresh lowercase UUID for a runtime object (VM, job, NIC); deterministic per server so
// that runs are reproducible.
func (st *cloud) newID(kind string) string {
	st.idSeq++
	return StableID(kind, fmt.Sprintf("%d-%d", st.idSeq, time.Now().UnixNano()))
}

func (st *cloud) zoneByID(id string) *zone {
	for _, z := range st.zones {
		if z.ID == id {
			return z
		}
	}
	return nil
}

func (st *cloud) networkByID(id string) *network {
	for _, n := range st.networks {
		if n.ID == id {
			return n
		}
	}
	return nil
}

func (st *cloud) templateByID(id string) *Template {
	for _, t := range st.templates {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (st *cloud) offeringByID(id string) *ServiceOffering {
	for _, o := range st.offerings {
		if o.ID == id {
			return o
		}
	}
	return nil
}

func (st *cloud) groupByID(id string) *AffinityGroup {
	for _, g := range st.groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// zoneByRef resolves a zone by UUID or name (for the Go knobs, which take either).
func (st *cloud) zoneByRef(ref string) *zone {
	for _, z := range st.zones {
		if z.ID == ref || z.Name == ref {
			return z
		}
	}
	return nil
}

// tagsOf returns the tags on one resource in creation order.
func (st *cloud) tagsOf(resourceID string) []*resourceTag {
	var out []*resourceTag
	for _, t := range st.tags {
		if t.resourceID == resourceID {
			out = append(out, t)
		}
	}
	return out
}

// matchesTags applies list-call tag filters the way CloudStack does: the filters are OR-ed, so a resource
// matches when any one key/value pair is on it.
func (st *cloud) matchesTags(resourceID string, filters []tagPair) bool {
	if len(filters) == 0 {
		return true
	}
	for _, t := range st.tags {
		if t.resourceID != resourceID {
			continue
		}
		for _, f := range filters {
			if t.key == f.key && (f.value == "" || t.value == f.value) {
				return true
			}
		}
	}
	return false
}

// ownJob reports whether the caller may read a job: its own, or any as root admin.
func ownJob(r *request, owner *account) bool {
	return owner == r.acct || r.acct.kind == acctRootAdmin
}

func (st *cloud) tagJSON(t *resourceTag) tagJSON {
	out := tagJSON{Key: t.key, Value: t.value, ResourceType: t.resourceType, ResourceID: t.resourceID, Domain: "ROOT", DomainID: st.domainID}
	if t.owner != nil {
		out.Account, out.Domain, out.DomainID = t.owner.Name, domainName(t.owner.domainPath), t.owner.domainID
	}
	return out
}

func (st *cloud) tagsJSON(resourceID string) []tagJSON {
	out := []tagJSON{}
	for _, t := range st.tagsOf(resourceID) {
		out = append(out, st.tagJSON(t))
	}
	return out
}

// allocateIP hands out the lowest free guest address of the network's CIDR, or false when every one is taken:
// the network address, the gateway (.1) and the broadcast address are never handed out, and large networks start at
// host 10 (below it sit the virtual router and other system addresses). An address is free again once its VM is
// expunged.
func (n *network) allocateIP() (string, bool) {
	size := 1 << (32 - n.prefix.Bits())
	first := 2
	if size > 32 {
		first = 10
	}
	for off := first; off < size-1; off++ {
		if !n.used[off] {
			n.used[off] = true
			return n.addr(off), true
		}
	}
	return "", false
}

// releaseIP returns an address to the network.
func (n *network) releaseIP(ip string) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	b, base := a.As4(), n.prefix.Addr().As4()
	delete(n.used, int(be32(b)-be32(base)))
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (n *network) addr(off int) string {
	v := be32(n.prefix.Addr().As4()) + uint32(off)
	return fmt.Sprintf("%d.%d.%d.%d", v>>24, byte(v>>16), byte(v>>8), byte(v))
}

func (n *network) gateway() string {
	a := n.prefix.Addr().As4()
	return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]+1)
}

func (n *network) netmask() string {
	bits := n.prefix.Bits()
	m := ^uint32(0) << (32 - bits)
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, byte(m>>16), byte(m>>8), byte(m))
}

func canonicalResourceType(t string) (string, bool) {
	for _, c := range []string{"UserVm", "Network", "Template", "ServiceOffering", "Zone", "SecurityGroup", "Volume"} {
		if strings.EqualFold(c, t) {
			return c, true
		}
	}
	return "", false
}
