package cloudstack

import "slices"

// Command is one CloudStack API command the role of the provider's API key must allow.
type Command struct {
	// Name is the API command name, as a CloudStack role rule names it.
	Name string
	// Use says what the provider needs it for; INSTALLATION.md shows it next to the name.
	Use string
	// Checked is true for a command the provider never sends but the server checks against the role on its
	// behalf (expungeVirtualMachine, checked by destroyVirtualMachine with expunge=true).
	Checked bool
}

// requiredCommands is the single list of the commands the provider's key needs. hack/docgen renders it into
// INSTALLATION.md, the example catalog gives exactly these to the provider's account, and a test fails when the
// client calls a command that is not listed here.
var requiredCommands = []Command{
	{Name: "listZones", Use: "resolving `spec.zone` / `spec.zoneSelectorTerms`"},
	{Name: "listNetworks", Use: "resolving `spec.networkSelectorTerms` per zone"},
	{Name: "listTemplates", Use: "resolving `spec.templateSelectorTerms` per zone (executable, ready templates)"},
	{Name: "listServiceOfferings", Use: "the offerings that become instance types"},
	{Name: "listTags", Use: "matching selector terms with `tags` (zones, networks, templates, offerings)"},
	{Name: "listAffinityGroups", Use: "resolving `spec.affinityGroupSelectorTerms` (only when set)"},
	{Name: "listSSHKeyPairs", Use: "checking `spec.sshKeyPair` (only when set)"},
	{Name: "listSecurityGroups", Use: "resolving `spec.securityGroupSelectorTerms` (only when set)"},
	{Name: "listDiskOfferings", Use: "resolving `spec.dataDisks` offerings per zone (only when set)"},
	{Name: "listProjects", Use: "resolving `--cloudstack-project` by name or ID, and checking every minute that the key's account is still a member (only when set)"},
	{Name: "deployVirtualMachine", Use: "launching a node"},
	{Name: "listVirtualMachines", Use: "finding and listing the cluster's VMs"},
	{Name: "queryAsyncJobResult", Use: "waiting for deploy, destroy, reboot and tag jobs"},
	{Name: "createTags", Use: "the ownership tags on every VM (`karpenter.k8s.cloudstack/cluster-id`, `karpenter.sh/nodepool`, ...), and `spec.tags`, also on running VMs when they change"},
	{Name: "deleteTags", Use: "replacing tags whose value changed, and removing from running VMs the keys dropped from `spec.tags`"},
	{Name: "destroyVirtualMachine", Use: "removing a node's VM (and VMs whose launch failed or that garbage collection finds)"},
	{Name: "expungeVirtualMachine", Checked: true, Use: "never sent: CloudStack checks it against the role when " +
		"`destroyVirtualMachine` passes `expunge=true`, which the provider does when `listCapabilities` reports " +
		"`allowuserexpungerecovervm`. Without it that destroy job fails (531 \"Account does not have permission for " +
		"expunging.\"); the provider then destroys without expunge and CloudStack expunges after `expunge.delay`"},
	{Name: "rebootVirtualMachine", Use: "node repair by reboot"},
	{Name: "listVolumes", Use: "the data disks of a VM, passed to `destroyVirtualMachine` as `volumeids`, and detached data disks of this cluster that garbage collection deletes (only with `spec.dataDisks`)"},
	{Name: "createVolume", Use: "the second and later entries of `spec.dataDisks` (the first comes with the deploy)"},
	{Name: "attachVolume", Use: "attaching those volumes to the new VM"},
	{Name: "deleteVolume", Use: "deleting a data disk whose attach failed, and detached data disks of this cluster's VMs"},
	{Name: "listCapabilities", Use: "whether destroys may expunge, and the reachability probe every 30 s (the karpenter_cloudstack_api_reachable gauge)"},
}

// RequiredCommands returns the commands the role of the provider's API key must allow, and needs no others.
func RequiredCommands() []Command { return slices.Clone(requiredCommands) }
