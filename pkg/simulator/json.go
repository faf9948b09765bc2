package simulator

import (
	"encoding/json"
	"sort"
)

// The structs below are the wire shapes of the real server's responses. Field names and JSON types follow
// the SDK's structs and listApis; fields the real server omits when empty are omitempty here too.

type tagJSON struct {
	Account      string `json:"account,omitempty"`
	Domain       string `json:"domain"`
	DomainID     string `json:"domainid"`
	Key          string `json:"key"`
	ResourceID   string `json:"resourceid"`
	ResourceType string `json:"resourcetype"`
	Value        string `json:"value"`
}

type nicJSON struct {
	BroadcastURI    string   `json:"broadcasturi,omitempty"`
	DeviceID        string   `json:"deviceid"`
	ExtraDHCPOption []string `json:"extradhcpoption"`
	Gateway         string   `json:"gateway"`
	ID              string   `json:"id"`
	IPAddress       string   `json:"ipaddress"`
	IsDefault       bool     `json:"isdefault"`
	IsolationURI    string   `json:"isolationuri,omitempty"`
	MACAddress      string   `json:"macaddress"`
	Netmask         string   `json:"netmask"`
	NetworkID       string   `json:"networkid"`
	NetworkName     string   `json:"networkname"`
	SecondaryIP     []any    `json:"secondaryip"`
	TrafficType     string   `json:"traffictype"`
	Type            string   `json:"type"`
}

type vmAffinityGroupJSON struct {
	Account           string   `json:"account"`
	Description       string   `json:"description,omitempty"`
	Domain            string   `json:"domain"`
	DomainID          string   `json:"domainid"`
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	VirtualMachineIDs []string `json:"virtualmachineIds,omitempty"`
}

type vmJSON struct {
	Project               string                `json:"project,omitempty"`
	ProjectID             string                `json:"projectid,omitempty"`
	Account               string                `json:"account"`
	AffinityGroup         []vmAffinityGroupJSON `json:"affinitygroup"`
	Arch                  string                `json:"arch,omitempty"`
	CPUNumber             int                   `json:"cpunumber"`
	CPUSpeed              int                   `json:"cpuspeed"`
	Created               string                `json:"created"`
	Details               map[string]string     `json:"details"`
	DisplayName           string                `json:"displayname"`
	DisplayVM             bool                  `json:"displayvm"`
	Domain                string                `json:"domain"`
	DomainID              string                `json:"domainid"`
	GPUCardName           string                `json:"gpucardname,omitempty"`
	GPUCount              int                   `json:"gpucount,omitempty"`
	Group                 string                `json:"group,omitempty"`
	GuestOSID             string                `json:"guestosid"`
	HAEnable              bool                  `json:"haenable"`
	HostID                string                `json:"hostid,omitempty"`
	HostName              string                `json:"hostname,omitempty"`
	Hypervisor            string                `json:"hypervisor"`
	ID                    string                `json:"id"`
	InstanceName          string                `json:"instancename,omitempty"`
	IPAddress             string                `json:"ipaddress,omitempty"`
	IsDynamicallyScalable bool                  `json:"isdynamicallyscalable"`
	KeyPairs              string                `json:"keypairs,omitempty"`
	LastUpdated           string                `json:"lastupdated,omitempty"`
	Memory                int                   `json:"memory"`
	Name                  string                `json:"name"`
	NIC                   []nicJSON             `json:"nic"`
	OSDisplayName         string                `json:"osdisplayname"`
	OSTypeID              string                `json:"ostypeid"`
	PasswordEnabled       bool                  `json:"passwordenabled"`
	RootDeviceID          int64                 `json:"rootdeviceid"`
	RootDeviceType        string                `json:"rootdevicetype"`
	SecurityGroup         []vmSecurityGroupJSON `json:"securitygroup"`
	ServiceOfferingID     string                `json:"serviceofferingid"`
	ServiceOfferingName   string                `json:"serviceofferingname"`
	State                 string                `json:"state"`
	Tags                  []tagJSON             `json:"tags"`
	TemplateDisplayText   string                `json:"templatedisplaytext"`
	TemplateID            string                `json:"templateid"`
	TemplateName          string                `json:"templatename"`
	TemplateType          string                `json:"templatetype"`
	UserID                string                `json:"userid"`
	UserName              string                `json:"username"`
	VGPUProfileName       string                `json:"vgpuprofilename,omitempty"`
	ZoneID                string                `json:"zoneid"`
	ZoneName              string                `json:"zonename"`
}

type zoneJSON struct {
	AllocationState       string            `json:"allocationstate"`
	DHCPProvider          string            `json:"dhcpprovider"`
	DNS1                  string            `json:"dns1"`
	GuestCIDRAddress      string            `json:"guestcidraddress"`
	ID                    string            `json:"id"`
	InternalDNS1          string            `json:"internaldns1"`
	IsMultiArch           bool              `json:"ismultiarch"`
	LocalStorageEnabled   bool              `json:"localstorageenabled"`
	Name                  string            `json:"name"`
	NetworkType           string            `json:"networktype"`
	ResourceDetails       map[string]string `json:"resourcedetails,omitempty"`
	SecurityGroupsEnabled bool              `json:"securitygroupsenabled"`
	Tags                  []tagJSON         `json:"tags"`
	Type                  string            `json:"type"`
	ZoneToken             string            `json:"zonetoken"`
}

type networkJSON struct {
	Account             string            `json:"account,omitempty"`
	ACLType             string            `json:"acltype"`
	BroadcastDomainType string            `json:"broadcastdomaintype"`
	CanUseForDeploy     bool              `json:"canusefordeploy"`
	CIDR                string            `json:"cidr"`
	Created             string            `json:"created"`
	Details             map[string]string `json:"details"`
	DisplayNetwork      bool              `json:"displaynetwork"`
	DisplayText         string            `json:"displaytext"`
	Domain              string            `json:"domain"`
	DomainID            string            `json:"domainid"`
	Gateway             string            `json:"gateway"`
	ID                  string            `json:"id"`
	IsDefault           bool              `json:"isdefault"`
	IsPersistent        bool              `json:"ispersistent"`
	IsSystem            bool              `json:"issystem"`
	Name                string            `json:"name"`
	Netmask             string            `json:"netmask"`
	NetworkDomain       string            `json:"networkdomain"`
	NetworkOfferingID   string            `json:"networkofferingid"`
	NetworkOfferingName string            `json:"networkofferingname"`
	RedundantRouter     bool              `json:"redundantrouter"`
	RestartRequired     bool              `json:"restartrequired"`
	SpecifyIPRanges     bool              `json:"specifyipranges"`
	State               string            `json:"state"`
	Tags                []tagJSON         `json:"tags"`
	TrafficType         string            `json:"traffictype"`
	Type                string            `json:"type"`
	VLAN                string            `json:"vlan,omitempty"`
	ZoneID              string            `json:"zoneid"`
	ZoneName            string            `json:"zonename"`
}

type templateJSON struct {
	Account               string              `json:"account"`
	Arch                  string              `json:"arch"`
	Bootable              bool                `json:"bootable"`
	Created               string              `json:"created"`
	CrossZones            bool                `json:"crossZones"`
	Details               map[string]string   `json:"details"`
	DisplayText           string              `json:"displaytext"`
	Domain                string              `json:"domain"`
	DomainID              string              `json:"domainid"`
	DownloadDetails       []map[string]string `json:"downloaddetails"`
	Format                string              `json:"format"`
	Hypervisor            string              `json:"hypervisor"`
	ID                    string              `json:"id"`
	IsDynamicallyScalable bool                `json:"isdynamicallyscalable"`
	IsExtractable         bool                `json:"isextractable"`
	IsFeatured            bool                `json:"isfeatured"`
	IsPublic              bool                `json:"ispublic"`
	IsReady               bool                `json:"isready"`
	Name                  string              `json:"name"`
	OSTypeID              string              `json:"ostypeid"`
	OSTypeName            string              `json:"ostypename"`
	PasswordEnabled       bool                `json:"passwordenabled"`
	PhysicalSize          int64               `json:"physicalsize,omitempty"`
	Size                  int64               `json:"size,omitempty"`
	SSHKeyEnabled         bool                `json:"sshkeyenabled"`
	Status                string              `json:"status"`
	Tags                  []tagJSON           `json:"tags"`
	TemplateType          string              `json:"templatetype"`
	ZoneID                string              `json:"zoneid"`
	ZoneName              string              `json:"zonename"`
}

type offeringJSON struct {
	CacheMode              string            `json:"cacheMode"`
	CPUNumber              int               `json:"cpunumber,omitempty"`
	CPUSpeed               int               `json:"cpuspeed,omitempty"`
	Created                string            `json:"created"`
	DefaultUse             bool              `json:"defaultuse"`
	DisplayText            string            `json:"displaytext"`
	DynamicScalingEnabled  bool              `json:"dynamicscalingenabled"`
	GPUCardID              string            `json:"gpucardid,omitempty"`
	GPUCardName            string            `json:"gpucardname,omitempty"`
	GPUCount               int               `json:"gpucount,omitempty"`
	GPUDisplay             bool              `json:"gpudisplay"`
	HostTags               string            `json:"hosttags,omitempty"`
	ID                     string            `json:"id"`
	IsCustomized           bool              `json:"iscustomized"`
	IsCustomizedIOPS       bool              `json:"iscustomizediops"`
	IsSystem               bool              `json:"issystem"`
	IsVolatile             bool              `json:"isvolatile"`
	LimitCPUUse            bool              `json:"limitcpuuse"`
	Memory                 int               `json:"memory,omitempty"`
	Name                   string            `json:"name"`
	OfferHA                bool              `json:"offerha"`
	ProvisioningType       string            `json:"provisioningtype"`
	RootDiskSize           int64             `json:"rootdisksize"`
	ServiceOfferingDetails map[string]string `json:"serviceofferingdetails,omitempty"`
	State                  string            `json:"state"`
	StorageType            string            `json:"storagetype"`
	SystemVMType           string            `json:"systemvmtype,omitempty"`
	VGPUProfileID          string            `json:"vgpuprofileid,omitempty"`
	VGPUProfileName        string            `json:"vgpuprofilename,omitempty"`
	Zone                   string            `json:"zone,omitempty"`
	ZoneID                 string            `json:"zoneid,omitempty"`
}

type affinityGroupJSON struct {
	Account           string   `json:"account"`
	Description       string   `json:"description,omitempty"`
	Domain            string   `json:"domain"`
	DomainID          string   `json:"domainid"`
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	VirtualMachineIDs []string `json:"virtualmachineIds,omitempty"`
}

type sshKeyPairJSON struct {
	Account     string `json:"account"`
	Domain      string `json:"domain"`
	DomainID    string `json:"domainid"`
	Fingerprint string `json:"fingerprint"`
	ID          string `json:"id"`
	Name        string `json:"name"`
}

type capabilityJSON struct {
	AllowUserCreateProjects        bool   `json:"allowusercreateprojects"`
	AllowUserExpungeRecoverVM      bool   `json:"allowuserexpungerecovervm"`
	AllowUserExpungeRecoverVolume  bool   `json:"allowuserexpungerecovervolume"`
	AllowUserViewAllDomainAccounts bool   `json:"allowuserviewalldomainaccounts"`
	AllowUserViewDestroyedVM       bool   `json:"allowuserviewdestroyedvm"`
	APILimitInterval               int    `json:"apilimitinterval,omitempty"`
	APILimitMax                    int    `json:"apilimitmax,omitempty"`
	CloudStackVersion              string `json:"cloudstackversion"`
	CustomDiskOfferingMaxSize      int64  `json:"customdiskofferingmaxsize"`
	CustomDiskOfferingMinSize      int64  `json:"customdiskofferingminsize"`
	DefaultUIPageSize              int64  `json:"defaultuipagesize"`
	DynamicRolesEnabled            bool   `json:"dynamicrolesenabled"`
	KubernetesServiceEnabled       bool   `json:"kubernetesserviceenabled"`
	KVMSnapshotEnabled             bool   `json:"kvmsnapshotenabled"`
	ProjectInviteRequired          bool   `json:"projectinviterequired"`
	RegionSecondaryEnabled         bool   `json:"regionsecondaryenabled"`
	SecurityGroupsEnabled          bool   `json:"securitygroupsenabled"`
	SupportELB                     string `json:"supportELB"`
	UserPublicTemplateEnabled      bool   `json:"userpublictemplateenabled"`
}

type resourceLimitJSON struct {
	Account          string `json:"account"`
	Domain           string `json:"domain"`
	DomainID         string `json:"domainid"`
	Max              int64  `json:"max"`
	ResourceType     string `json:"resourcetype"`
	ResourceTypeName string `json:"resourcetypename"`
}

type capacityJSON struct {
	CapacityAllocated int64  `json:"capacityallocated"`
	CapacityTotal     int64  `json:"capacitytotal"`
	CapacityUsed      int64  `json:"capacityused"`
	Name              string `json:"name"`
	PercentUsed       string `json:"percentused"`
	Type              int    `json:"type"`
	ZoneID            string `json:"zoneid"`
	ZoneName          string `json:"zonename"`
}

type jobJSON struct {
	AccountID       string          `json:"accountid"`
	Cmd             string          `json:"cmd"`
	Completed       string          `json:"completed,omitempty"`
	Created         string          `json:"created"`
	JobID           string          `json:"jobid"`
	JobInstanceID   string          `json:"jobinstanceid,omitempty"`
	JobInstanceType string          `json:"jobinstancetype,omitempty"`
	JobProcStatus   int             `json:"jobprocstatus"`
	JobResult       json.RawMessage `json:"jobresult,omitempty"`
	JobResultCode   int             `json:"jobresultcode"`
	JobResultType   string          `json:"jobresulttype,omitempty"`
	JobStatus       int             `json:"jobstatus"`
	UserID          string          `json:"userid"`
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
