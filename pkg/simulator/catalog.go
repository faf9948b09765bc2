package simulator

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Catalog is the declarative description of the simulated cloud, read from YAML.
type Catalog struct {
	Settings         Settings          `json:"settings,omitempty"`
	Accounts         []Account         `json:"accounts"`
	Zones            []Zone            `json:"zones"`
	Networks         []Network         `json:"networks,omitempty"`
	Templates        []Template        `json:"templates,omitempty"`
	ServiceOfferings []ServiceOffering `json:"serviceOfferings,omitempty"`
	AffinityGroups   []AffinityGroup   `json:"affinityGroups,omitempty"`
	SSHKeyPairs      []SSHKeyPair      `json:"sshKeyPairs,omitempty"`
	SecurityGroups   []SecurityGroup   `json:"securityGroups,omitempty"`
	DiskOfferings    []DiskOffering    `json:"diskOfferings,omitempty"`
	Projects         []Project         `json:"projects,omitempty"`
	Roles            []Role            `json:"roles,omitempty"`
}

// Role is a CloudStack role with its rule list (RolePermission entries of the dynamic role checker): the API
// commands the accounts holding it may call. The simulator keeps only ALLOW rules on exact command names, which is
// how an operator builds a least-privilege role; every other command is refused as DynamicRoleBasedAPIAccessChecker
// refuses it.
type Role struct {
	Name string `json:"name"`
	// Commands are the allowed API command names, e.g. listZones.
	Commands []string `json:"commands"`
}

// Settings mirror the management server's global configuration values that change API behaviour.
type Settings struct {
	// CloudStackVersion is reported by listCapabilities.
	CloudStackVersion string `json:"cloudstackVersion,omitempty"`
	// UserDataMaxLength is vm.userdata.max.length: the longest base64 userdata accepted (default 32768).
	UserDataMaxLength int `json:"userdataMaxLength,omitempty"`
	// MaxPageSize is default.page.size: the largest pagesize a list call accepts (default 500).
	MaxPageSize int `json:"maxPageSize,omitempty"`
	// ExpungeDelay is how long a destroyed VM stays in Destroyed before it is expunged (default 60s; real
	// servers default to a day, which would make lists grow without bound in a demo).
	ExpungeDelay Duration `json:"expungeDelay,omitempty"`
	// NameFilter selects how listVirtualMachines treats `name`: "exact" (CloudStack 4.19+, the default) or
	// "substring" (up to 4.18).
	NameFilter string `json:"nameFilter,omitempty"`
	// AllowUserExpungeRecoverVM is allow.user.expunge.recover.vm: whether non-admins may pass expunge=true.
	AllowUserExpungeRecoverVM bool `json:"allowUserExpungeRecoverVm,omitempty"`
	// AllowUserViewDestroyedVM is allow.user.view.destroyed.vm: whether non-admins see Destroyed VMs.
	AllowUserViewDestroyedVM bool `json:"allowUserViewDestroyedVm,omitempty"`
	// APIThrottling is api.throttling.enabled: each non-root account may send APILimitMax requests per
	// APILimitInterval seconds, later ones fail with 429 (see apiLimiter). listCapabilities reports the limit only
	// when it is enabled, as ManagementServerImpl.listCapabilities does.
	APIThrottling bool `json:"apiThrottling,omitempty"`
	// APILimitInterval and APILimitMax are api.throttling.interval/max (defaults 1 and 25).
	APILimitInterval int `json:"apiLimitInterval,omitempty"`
	APILimitMax      int `json:"apiLimitMax,omitempty"`
	// GuestMemoryOverheadPercent is the share of a VM's memory its guest OS does not see (MemTotal is smaller than
	// the offering: kernel reservations, crashkernel, firmware). It is not an API setting; the node agent reads it
	// through VM.GuestMemoryKiB to report the memory capacity a real kubelet would. Default 0.
	GuestMemoryOverheadPercent float64 `json:"guestMemoryOverheadPercent,omitempty"`
}

// Account is a CloudStack account with one user whose API keys sign requests.
type Account struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Domain is the account's domain as a path from ROOT, e.g. "ROOT/tenants/acme" (default "ROOT").
	Domain string `json:"domain,omitempty"`
	// RootAdmin accounts (type ADMIN) see and operate on everything.
	RootAdmin bool `json:"rootAdmin,omitempty"`
	// DomainAdmin accounts (type DOMAIN_ADMIN) see and operate on the accounts of their domain and its subdomains.
	DomainAdmin bool   `json:"domainAdmin,omitempty"`
	APIKey      string `json:"apiKey"`
	SecretKey   string `json:"secretKey"`
	Limits      Limits `json:"limits,omitempty"`
	// Role names one of the catalog's roles. Without it the account holds its type's built-in role (Root Admin,
	// Domain Admin or User), which here allows every command the simulator serves to that account type.
	Role string `json:"role,omitempty"`
}

// Limits are an account's resource limits; nil means unlimited (-1 in listResourceLimits).
type Limits struct {
	UserVM    *int64 `json:"userVm,omitempty"`
	CPU       *int64 `json:"cpu,omitempty"`
	MemoryMiB *int64 `json:"memoryMiB,omitempty"`
}

// Zone is an availability zone with finite capacity.
type Zone struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name"`
	NetworkType string            `json:"networkType,omitempty"`
	Disabled    bool              `json:"disabled,omitempty"`
	Capacity    ZoneCapacity      `json:"capacity,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// SecurityGroupsEnabled makes an Advanced zone with security groups: deploys there join the given security
	// groups (or the account's default one); every other zone refuses securitygroupids.
	SecurityGroupsEnabled bool `json:"securityGroupsEnabled,omitempty"`
}

// ZoneCapacity is what VMs in a zone may allocate in total; zero means unlimited.
type ZoneCapacity struct {
	CPUCores    int   `json:"cpuCores,omitempty"`
	MemoryMiB   int64 `json:"memoryMiB,omitempty"`
	CPUSpeedMHz int   `json:"cpuSpeedMHz,omitempty"`
}

// Network is a guest network in one zone.
type Network struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name"`
	Zone    string `json:"zone"`
	Type    string `json:"type,omitempty"`
	State   string `json:"state,omitempty"`
	CIDR    string `json:"cidr,omitempty"`
	Account string `json:"account,omitempty"`
	// Project names the project that owns the network instead of an account.
	Project string            `json:"project,omitempty"`
	Domain  string            `json:"networkDomain,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// Template is a VM image registered in one or more zones.
type Template struct {
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name"`
	Zones    []string `json:"zones"`
	Arch     string   `json:"arch,omitempty"`
	NotReady bool     `json:"notReady,omitempty"`
	Featured bool     `json:"featured,omitempty"`
	Public   *bool    `json:"public,omitempty"`
	Account  string   `json:"account,omitempty"`
	// Project names the project that owns the template instead of an account.
	Project    string            `json:"project,omitempty"`
	OSType     string            `json:"osType,omitempty"`
	Hypervisor string            `json:"hypervisor,omitempty"`
	Format     string            `json:"format,omitempty"`
	SizeGiB    int64             `json:"sizeGiB,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// ServiceOffering is a compute offering. CPUNumber, CPUSpeed or MemoryMiB left at zero on a customized
// offering must be supplied at deploy time through details, within the Min/Max bounds.
type ServiceOffering struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name"`
	DisplayText string            `json:"displayText,omitempty"`
	CPUNumber   int               `json:"cpuNumber,omitempty"`
	CPUSpeed    int               `json:"cpuSpeed,omitempty"`
	MemoryMiB   int               `json:"memoryMiB,omitempty"`
	Customized  bool              `json:"customized,omitempty"`
	MinCPU      int               `json:"minCpu,omitempty"`
	MaxCPU      int               `json:"maxCpu,omitempty"`
	MinMemory   int               `json:"minMemoryMiB,omitempty"`
	MaxMemory   int               `json:"maxMemoryMiB,omitempty"`
	HostTags    string            `json:"hostTags,omitempty"`
	StorageType string            `json:"storageType,omitempty"`
	RootDiskGiB int64             `json:"rootDiskGiB,omitempty"`
	GPUCard     string            `json:"gpuCard,omitempty"`
	GPUCount    int               `json:"gpuCount,omitempty"`
	VGPUProfile string            `json:"vgpuProfile,omitempty"`
	System      bool              `json:"system,omitempty"`
	Zones       []string          `json:"zones,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// AffinityGroup is a (anti-)affinity group owned by an account.
type AffinityGroup struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	Account     string `json:"account,omitempty"`
	// Project names the project that owns the group instead of an account.
	Project string `json:"project,omitempty"`
}

// SSHKeyPair is a registered SSH public key owned by an account.
type SSHKeyPair struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Account     string `json:"account,omitempty"`
	// Project names the project that owns the key pair instead of an account.
	Project string `json:"project,omitempty"`
}

// SecurityGroup is a security group owned by an account. Security groups are not zonal: any zone with security groups
// enabled accepts them.
type SecurityGroup struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Account     string `json:"account,omitempty"`
	// Project names the project that owns the group instead of an account.
	Project string            `json:"project,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// Project is a CloudStack project in a domain. VMs deployed with its projectid belong to its project account, which
// its members (accounts named in Members) see with projectid; catalog resources name it with `project:`. State is
// Active (default), Suspended or Disabled.
type Project struct {
	ID      string   `json:"id,omitempty"`
	Name    string   `json:"name"`
	Domain  string   `json:"domain,omitempty"`
	State   string   `json:"state,omitempty"`
	Members []string `json:"members,omitempty"`
}

// ProjectAccountName is the name of the account that owns the resources of the i-th project of a catalog (CloudStack
// names it PrjAcct-<project>-<id>); responses show it as the owning account.
func ProjectAccountName(project string, i int) string {
	return fmt.Sprintf("PrjAcct-%s-%d", project, i+1)
}

// Duration is a time.Duration that reads from YAML/JSON strings such as "90s".
type Duration struct{ time.Duration }

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// LoadCatalog reads and validates a YAML catalog file.
func LoadCatalog(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading catalog %q: %w", path, err)
	}
	c, err := ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %q: %w", path, err)
	}
	return c, nil
}

// ParseCatalog parses a YAML catalog, fills in defaults and derived IDs, and validates references.
func ParseCatalog(data []byte) (*Catalog, error) {
	c := &Catalog{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, fmt.Errorf("parsing catalog YAML: %w", err)
	}
	if err := c.complete(); err != nil {
		return nil, err
	}
	return c, nil
}

// StableID is the ID the simulator gives a catalog object of the given kind and name when the catalog sets
// none: a UUIDv5-style hash, so tests can predict IDs and they do not change across runs.
func StableID(kind, name string) string {
	h := sha1.Sum([]byte("karpenter-provider-cloudstack/simulator/" + kind + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func defaultID(id *string, kind, name string) {
	if *id == "" {
		*id = StableID(kind, name)
	}
	*id = strings.ToLower(*id)
}

// complete applies defaults and checks that every name a catalog object refers to exists.
func (c *Catalog) complete() error {
	s := &c.Settings
	if s.CloudStackVersion == "" {
		s.CloudStackVersion = "4.20.1.0"
	}
	if s.UserDataMaxLength == 0 {
		s.UserDataMaxLength = 32768
	}
	if s.MaxPageSize == 0 {
		s.MaxPageSize = 500
	}
	if s.ExpungeDelay.Duration == 0 {
		s.ExpungeDelay.Duration = time.Minute
	}
	switch s.NameFilter {
	case "":
		s.NameFilter = "exact"
	case "exact", "substring":
	default:
		return fmt.Errorf("settings.nameFilter must be exact or substring, not %q", s.NameFilter)
	}
	if s.APILimitInterval == 0 {
		s.APILimitInterval = 1
	}
	if s.APILimitMax == 0 {
		s.APILimitMax = 25
	}
	if s.GuestMemoryOverheadPercent < 0 || s.GuestMemoryOverheadPercent >= 100 {
		return fmt.Errorf("settings.guestMemoryOverheadPercent must be in [0, 100), not %v", s.GuestMemoryOverheadPercent)
	}
	if len(c.Accounts) == 0 {
		return fmt.Errorf("catalog needs at least one account")
	}
	if len(c.Zones) == 0 {
		return fmt.Errorf("catalog needs at least one zone")
	}
	seen := map[string]bool{}
	unique := func(kind, name string) error {
		if name == "" {
			return fmt.Errorf("a %s has no name", kind)
		}
		if seen[kind+"/"+name] {
			return fmt.Errorf("%s name %q is used twice", kind, name)
		}
		seen[kind+"/"+name] = true
		return nil
	}
	keys := map[string]bool{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if err := unique("account", a.Name); err != nil {
			return err
		}
		if a.APIKey == "" || a.SecretKey == "" {
			return fmt.Errorf("account %q needs apiKey and secretKey", a.Name)
		}
		if keys[a.APIKey] {
			return fmt.Errorf("account %q reuses another account's apiKey", a.Name)
		}
		keys[a.APIKey] = true
		if a.Domain == "" {
			a.Domain = "ROOT"
		}
		if a.Domain != "ROOT" && !strings.HasPrefix(a.Domain, "ROOT/") {
			return fmt.Errorf("account %q: domain %q must be a path that starts at ROOT, such as ROOT/tenants", a.Name, a.Domain)
		}
		if a.RootAdmin && a.DomainAdmin {
			return fmt.Errorf("account %q cannot be both rootAdmin and domainAdmin", a.Name)
		}
		defaultID(&a.ID, "account", a.Name)
	}
	account := func(kind, owner, name string) (string, error) {
		if owner == "" {
			return c.Accounts[0].Name, nil
		}
		if !seen["account/"+owner] {
			return "", fmt.Errorf("%s %q refers to unknown account %q", kind, name, owner)
		}
		return owner, nil
	}
	// owner is account for objects that may belong to a project instead: they then belong to its project account.
	owner := func(kind, acct, project, name string) (string, error) {
		if project == "" {
			return account(kind, acct, name)
		}
		if acct != "" {
			return "", fmt.Errorf("%s %q names both account %q and project %q; a resource has one owner", kind, name, acct, project)
		}
		for i := range c.Projects {
			if c.Projects[i].Name == project {
				return ProjectAccountName(project, i), nil
			}
		}
		return "", fmt.Errorf("%s %q refers to unknown project %q", kind, name, project)
	}
	zone := func(kind, z, name string) error {
		if !seen["zone/"+z] {
			return fmt.Errorf("%s %q refers to unknown zone %q", kind, name, z)
		}
		return nil
	}
	for i := range c.Zones {
		z := &c.Zones[i]
		if err := unique("zone", z.Name); err != nil {
			return err
		}
		defaultID(&z.ID, "zone", z.Name)
		if z.NetworkType == "" {
			z.NetworkType = "Advanced"
		}
		if z.Capacity.CPUSpeedMHz == 0 {
			z.Capacity.CPUSpeedMHz = 2000
		}
	}
	var err error
	for i := range c.Networks {
		n := &c.Networks[i]
		if err = unique("network", n.Name); err != nil {
			return err
		}
		if err = zone("network", n.Zone, n.Name); err != nil {
			return err
		}
		defaultID(&n.ID, "network", n.Name)
		if n.Type == "" {
			n.Type = "Isolated"
		}
		if n.State == "" {
			n.State = "Implemented"
		}
		if n.CIDR == "" {
			n.CIDR = fmt.Sprintf("10.%d.%d.0/24", 1+i/250, i%250)
		}
		if n.Domain == "" {
			n.Domain = "cs.internal"
		}
		if n.Account, err = owner("network", n.Account, n.Project, n.Name); err != nil {
			return err
		}
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		if err = unique("template", t.Name); err != nil {
			return err
		}
		defaultID(&t.ID, "template", t.Name)
		if len(t.Zones) == 0 {
			return fmt.Errorf("template %q needs at least one zone", t.Name)
		}
		for _, z := range t.Zones {
			if err = zone("template", z, t.Name); err != nil {
				return err
			}
		}
		if t.Arch == "" {
			t.Arch = "x86_64"
		}
		if t.OSType == "" {
			t.OSType = "Other Linux (64-bit)"
		}
		if t.Hypervisor == "" {
			t.Hypervisor = "KVM"
		}
		if t.Format == "" {
			t.Format = "QCOW2"
		}
		if t.SizeGiB == 0 {
			t.SizeGiB = 8
		}
		if t.Account, err = owner("template", t.Account, t.Project, t.Name); err != nil {
			return err
		}
	}
	for i := range c.ServiceOfferings {
		o := &c.ServiceOfferings[i]
		// CloudStack does not make offering names unique: operators often define one offering per zone under the
		// same name. A repeated name must then be limited to zones, and its derived ID includes them.
		key := o.Name
		for n := 1; seen["serviceoffering/"+key] && len(o.Zones) > 0; n++ {
			key = o.Name + "@" + strings.Join(o.Zones, ",")
			if n > 1 {
				key += fmt.Sprintf("#%d", n)
			}
		}
		if err = unique("serviceoffering", key); err != nil {
			return err
		}
		defaultID(&o.ID, "serviceoffering", key)
		if !o.Customized && (o.CPUNumber == 0 || o.MemoryMiB == 0) {
			return fmt.Errorf("service offering %q is not customized, so it needs cpuNumber and memoryMiB", o.Name)
		}
		if !o.Customized && o.CPUSpeed == 0 {
			o.CPUSpeed = 1000
		}
		if o.StorageType == "" {
			o.StorageType = "shared"
		}
		if o.DisplayText == "" {
			o.DisplayText = o.Name
		}
		for _, z := range o.Zones {
			if err = zone("service offering", z, o.Name); err != nil {
				return err
			}
		}
	}
	for i := range c.AffinityGroups {
		g := &c.AffinityGroups[i]
		if err = unique("affinitygroup", g.Name); err != nil {
			return err
		}
		defaultID(&g.ID, "affinitygroup", g.Name)
		if g.Type == "" {
			g.Type = "host anti-affinity"
		}
		if g.Account, err = owner("affinity group", g.Account, g.Project, g.Name); err != nil {
			return err
		}
	}
	for i := range c.SecurityGroups {
		g := &c.SecurityGroups[i]
		if g.Account, err = owner("security group", g.Account, g.Project, g.Name); err != nil {
			return err
		}
		// Names are unique per account, as the server's security_group table has them.
		if err = unique("securitygroup", g.Account+"/"+g.Name); err != nil {
			return err
		}
		defaultID(&g.ID, "securitygroup", g.Account+"/"+g.Name)
	}
	for i := range c.DiskOfferings {
		o := &c.DiskOfferings[i]
		if err = unique("diskoffering", o.Name); err != nil {
			return err
		}
		defaultID(&o.ID, "diskoffering", o.Name)
		if !o.Customized && o.DiskSizeGiB <= 0 {
			return fmt.Errorf("disk offering %q is not customized, so it needs diskSizeGiB", o.Name)
		}
		if o.DisplayText == "" {
			o.DisplayText = o.Name
		}
		for _, z := range o.Zones {
			if err = zone("disk offering", z, o.Name); err != nil {
				return err
			}
		}
	}
	for i := range c.Projects {
		p := &c.Projects[i]
		if err = unique("project", p.Name); err != nil {
			return err
		}
		defaultID(&p.ID, "project", p.Name)
		if p.Domain == "" {
			p.Domain = "ROOT"
		}
		switch p.State {
		case "":
			p.State = "Active"
		case "Active", "Suspended", "Disabled":
		default:
			return fmt.Errorf("project %q: state %q is none of Active, Suspended, Disabled", p.Name, p.State)
		}
		for _, m := range p.Members {
			if !seen["account/"+m] {
				return fmt.Errorf("project %q refers to unknown account %q", p.Name, m)
			}
		}
	}
	for i := range c.SSHKeyPairs {
		k := &c.SSHKeyPairs[i]
		if err = unique("sshkeypair", k.Name); err != nil {
			return err
		}
		defaultID(&k.ID, "sshkeypair", k.Name)
		if k.Fingerprint == "" {
			h := sha1.Sum([]byte(k.Name))
			parts := make([]string, 16)
			for j := range parts {
				parts[j] = fmt.Sprintf("%02x", h[j])
			}
			k.Fingerprint = strings.Join(parts, ":")
		}
		if k.Account, err = owner("ssh keypair", k.Account, k.Project, k.Name); err != nil {
			return err
		}
	}
	return nil
}
