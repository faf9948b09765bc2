package simulator

import (
	"sort"
	"strings"
)

// command is one API command the simulator serves.
type command struct {
	name      string
	async     bool
	post      bool // what the SDK uses; the server accepts GET and POST for every command, as the real one does
	rootAdmin bool
	params    []string
	handle    func(*Server, *request) (any, *apiError)
}

var pagingParams = []string{"page", "pagesize", "keyword"}

func withPaging(p ...string) []string { return append(p, pagingParams...) }

// commands is keyed by lower-case name: the servlet resolves command names case-insensitively.
var commands = map[string]*command{}

func register(c *command) { commands[strings.ToLower(c.name)] = c }

func init() {
	for _, c := range []*command{
		{name: "listZones", handle: cmdListZones, params: withPaging("id", "ids", "name", "available", "networktype", "tags")},
		{name: "listNetworks", handle: cmdListNetworks, params: withPaging("id", "name", "zoneid", "type", "canusefordeploy", "traffictype", "issystem", "listall", "tags", "projectid")},
		{name: "listTemplates", handle: cmdListTemplates, params: withPaging("templatefilter", "id", "ids", "name", "zoneid", "isready", "hypervisor", "arch", "tags", "listall", "projectid")},
		{name: "listServiceOfferings", handle: cmdListServiceOfferings, params: withPaging("id", "name", "zoneid", "issystem", "gpuenabled", "listall")},
		{name: "listAffinityGroups", handle: cmdListAffinityGroups, params: withPaging("id", "name", "type", "virtualmachineid", "listall", "projectid")},
		{name: "listSecurityGroups", handle: cmdListSecurityGroups, params: withPaging("id", "securitygroupname", "virtualmachineid", "tags", "listall", "projectid")},
		{name: "listSSHKeyPairs", handle: cmdListSSHKeyPairs, params: withPaging("id", "name", "fingerprint", "listall", "projectid")},
		{name: "listProjects", handle: cmdListProjects, params: withPaging("id", "name", "state", "listall")},
		{name: "listTags", handle: cmdListTags, params: withPaging("resourceid", "resourcetype", "key", "value", "listall", "projectid")},
		{name: "createTags", async: true, post: true, handle: cmdCreateTags, params: []string{"resourceids", "resourcetype", "tags"}},
		{name: "deleteTags", async: true, post: true, handle: cmdDeleteTags, params: []string{"resourceids", "resourcetype", "tags"}},
		{name: "deployVirtualMachine", async: true, post: true, handle: cmdDeployVirtualMachine, params: []string{"serviceofferingid",
			"templateid", "zoneid", "name", "displayname", "group", "networkids", "affinitygroupids", "affinitygroupnames", "keypair",
			"keypairs", "startvm", "details", "rootdisksize", "userdata", "securitygroupids", "securitygroupnames", "diskofferingid", "size",
			"projectid"}},
		{name: "destroyVirtualMachine", async: true, post: true, handle: cmdDestroyVirtualMachine, params: []string{"id", "expunge", "volumeids"}},
		{name: "expungeVirtualMachine", async: true, post: true, handle: cmdExpungeVirtualMachine, params: []string{"id"}},
		{name: "rebootVirtualMachine", async: true, post: true, handle: cmdRebootVirtualMachine, params: []string{"id", "forced"}},
		{name: "startVirtualMachine", async: true, post: true, handle: cmdStartVirtualMachine, params: []string{"id"}},
		{name: "stopVirtualMachine", async: true, post: true, handle: cmdStopVirtualMachine, params: []string{"id", "forced"}},
		{name: "listVirtualMachines", handle: cmdListVirtualMachines, params: withPaging("id", "ids", "name", "zoneid", "state", "tags",
			"networkid", "affinitygroupid", "serviceofferingid", "templateid", "keypair", "listall", "details", "projectid")},
		{name: "queryAsyncJobResult", handle: cmdQueryAsyncJobResult, params: []string{"jobid"}},
		{name: "listCapabilities", handle: cmdListCapabilities},
		{name: "listResourceLimits", handle: cmdListResourceLimits, params: withPaging("account", "resourcetype", "resourcetypename")},
		{name: "listCapacity", rootAdmin: true, handle: cmdListCapacity, params: withPaging("zoneid", "type")},
	} {
		register(c)
	}
}

// CommandInfo describes a command the simulator serves.
type CommandInfo struct {
	Name string
	// Async commands return {jobid} (plus id for deploy) and finish through queryAsyncJobResult.
	Async bool
	// Post is true when the SDK sends the command as a form POST rather than a GET.
	Post bool
	// RootAdmin commands answer 401 to other accounts, as commands outside a role do.
	RootAdmin bool
	// Params are the request parameters the simulator accepts (map parameters by their base name); a few, such
	// as forced, details on listVirtualMachines and listall on offerings and templates, change nothing here.
	Params []string
}

// Commands lists the commands the simulator serves, sorted by name.
func Commands() []CommandInfo {
	out := make([]CommandInfo, 0, len(commands))
	for _, c := range commands {
		out = append(out, CommandInfo{Name: c.name, Async: c.async, Post: c.post, RootAdmin: c.rootAdmin, Params: append([]string(nil), c.params...)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
