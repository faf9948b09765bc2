package v1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CloudStackNodeClassSpec describes how Karpenter launches CloudStack VMs for the NodePools that reference it.
// +kubebuilder:validation:XValidation:message="set exactly one of spec.zone or spec.zoneSelectorTerms",rule="has(self.zone) != has(self.zoneSelectorTerms)"
// +kubebuilder:validation:XValidation:message="spec.userDataSecretRef is only read by a spec.userData template ({{ .Secret.<key> }}); set spec.userData or remove the reference",rule="!has(self.userDataSecretRef) || has(self.userData)"
type CloudStackNodeClassSpec struct {
	// Zone is the name or ID of the single CloudStack zone VMs are launched in.
	// Use zoneSelectorTerms instead to let one NodePool spread across several zones.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Zone string `json:"zone,omitempty"`
	// ZoneSelectorTerms select the zones VMs may be launched in. Terms are OR-ed; the fields of one term are AND-ed.
	// Every selected zone must have a network and a template that the other selector terms resolve.
	// +kubebuilder:validation:XValidation:message="spec.zoneSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.zoneSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +optional
	ZoneSelectorTerms []SelectorTerm `json:"zoneSelectorTerms,omitempty"`
	// NetworkSelectorTerms select the guest networks VMs are attached to, resolved in each zone.
	// In a zone, the first network that matches the first matching term becomes the VM's default NIC;
	// every other matching network is attached as an additional NIC.
	// +kubebuilder:validation:XValidation:message="spec.networkSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.networkSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +required
	NetworkSelectorTerms []SelectorTerm `json:"networkSelectorTerms"`
	// ServiceOfferingSelectorTerms select the compute (service) offerings Karpenter may launch; each becomes an instance type.
	// +kubebuilder:validation:XValidation:message="spec.serviceOfferingSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.serviceOfferingSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +required
	ServiceOfferingSelectorTerms []SelectorTerm `json:"serviceOfferingSelectorTerms"`
	// TemplateSelectorTerms select the template (image) VMs boot from, resolved in each zone among executable,
	// ready templates. When several templates match in a zone, the newest wins.
	// +kubebuilder:validation:XValidation:message="spec.templateSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.templateSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +required
	TemplateSelectorTerms []SelectorTerm `json:"templateSelectorTerms"`
	// AffinityGroupSelectorTerms select affinity groups (for example host anti-affinity) every VM joins.
	// +kubebuilder:validation:XValidation:message="spec.affinityGroupSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.affinityGroupSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:XValidation:message="spec.affinityGroupSelectorTerms: affinity groups have no tags in CloudStack; select them by id or name",rule="self.all(t, !has(t.tags))"
	// +kubebuilder:validation:MaxItems=30
	// +optional
	AffinityGroupSelectorTerms []SelectorTerm `json:"affinityGroupSelectorTerms,omitempty"`
	// SecurityGroupSelectorTerms select the security groups every VM joins (deployVirtualMachine's securitygroupids).
	// Security groups belong to the account, not to a zone, and only zones with security groups enabled accept them:
	// the NodeClass reports SecurityGroupsReady=False when a selected zone has them disabled, or when a term matches
	// no security group. Without terms, VMs in a security-group zone join the account's default group. A change of
	// the groups the terms resolve to drifts the nodes (a VM's groups cannot be changed while it runs).
	// +kubebuilder:validation:XValidation:message="spec.securityGroupSelectorTerms: each term must set id, name or tags",rule="self.all(t, has(t.id) || has(t.name) || has(t.tags))"
	// +kubebuilder:validation:XValidation:message="spec.securityGroupSelectorTerms: a term with id must not also set name or tags; put them in a separate term",rule="self.all(t, !has(t.id) || (!has(t.name) && !has(t.tags)))"
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +optional
	SecurityGroupSelectorTerms []SelectorTerm `json:"securityGroupSelectorTerms,omitempty"`
	// UserData is the cloud-init user data (or shell script) passed to every VM. The provider appends nothing to it;
	// it is sent compressed as userDataEncoding says and base64-encoded, and its encoded size must fit the management server's
	// vm.userdata.max.length (32768 bytes by default): the NodeClass reports UserDataReady=False when it does not.
	// +kubebuilder:validation:MaxLength=1048576
	// +optional
	UserData *string `json:"userData,omitempty"`
	// UserDataEncoding is how the rendered userData is packed before CloudStack's base64: gzip (the default), which
	// cloud-init detects and decompresses, or plain, for images whose agent reads userData as is: Ignition (Flatcar,
	// Fedora CoreOS), Talos and cloudbase-init. vm.userdata.max.length applies to the result.
	// +kubebuilder:validation:Enum=gzip;plain
	// +optional
	UserDataEncoding UserDataEncoding `json:"userDataEncoding,omitempty"`
	// UserDataSecretRef names a Secret whose data a userData template reads as .Secret, for example
	// {{ .Secret.token }}: join credentials (a kubeadm bootstrap token, the CA hash, the API endpoint) then live in a
	// Secret, not in this cluster-scoped object. The Secret is read when a VM is launched (and when the NodeClass is
	// validated); its values are rendered into that VM's userData only, never into status, events, logs or the drift
	// hash, so rotating them changes what new VMs get and does not replace existing nodes. The controller reads only
	// the Secrets the chart's userDataSecrets value grants it.
	// +optional
	UserDataSecretRef *SecretReference `json:"userDataSecretRef,omitempty"`
	// Tags are CloudStack resource tags applied to every VM, in addition to the tags the provider uses to track ownership.
	// A change is applied to the running VMs in place, within about a minute, without replacing any node: changed
	// values are updated, added keys added, and removed keys deleted from the VMs (only keys this field put there).
	// CloudStack compares tag keys case-insensitively and trims them, so the reserved prefixes below are refused in
	// any letter case and with leading or trailing blanks.
	// +kubebuilder:validation:XValidation:message="spec.tags: keys must not be empty and must be at most 255 characters",rule="self.all(k, size(k) > 0 && size(k) <= 255)"
	// +kubebuilder:validation:XValidation:message="spec.tags: values must be at most 255 characters",rule="self.all(k, size(self[k]) <= 255)"
	// +kubebuilder:validation:XValidation:message="spec.tags: values must not be empty: CloudStack refuses a tag without a value, and with it every other tag of the VM; set a value or remove the key",rule="self.all(k, size(self[k]) > 0)"
	// +kubebuilder:validation:XValidation:message="spec.tags: keys in the karpenter.sh/ domain are reserved for Karpenter; choose another key",rule="self.all(k, !k.trim().lowerAscii().startsWith('karpenter.sh/'))"
	// +kubebuilder:validation:XValidation:message="spec.tags: keys in the karpenter.k8s.cloudstack/ domain are reserved for this provider; choose another key",rule="self.all(k, !k.trim().lowerAscii().startsWith('karpenter.k8s.cloudstack/'))"
	// +kubebuilder:validation:XValidation:message="spec.tags: keys starting with kubernetes.io/cluster/ are reserved; choose another key",rule="self.all(k, !k.trim().lowerAscii().startsWith('kubernetes.io/cluster/'))"
	// +kubebuilder:validation:MaxProperties=40
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// SSHKeyPair is the name of a CloudStack SSH key pair installed on every VM.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	SSHKeyPair *string `json:"sshKeyPair,omitempty"`
	// RootDiskSize overrides the root disk size of the template (CloudStack rounds to whole GiB; at least 1Gi).
	// It is the ephemeral-storage capacity Karpenter schedules against.
	// +kubebuilder:validation:XValidation:message="spec.rootDiskSize must be at least 1Gi",rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0"
	// +kubebuilder:validation:XValidation:message="spec.rootDiskSize must be at most 64Ti",rule="quantity(string(self)).compareTo(quantity('64Ti')) <= 0"
	// +optional
	RootDiskSize *resource.Quantity `json:"rootDiskSize,omitempty"`
	// DataDisks are data disks (CloudStack DATADISK volumes) every VM gets besides its root disk, in this order. The
	// first comes with the VM's deploy and is there when the VM first boots; CloudStack 4.19 and 4.20 take only one
	// data disk at deploy, so every further one is created and attached right after, while the VM boots. Disks are
	// attached at CloudStack device IDs 1, 2, 4, 5, ... in this order (3 is the CD-ROM's), which a userData template
	// reads as {{ range .DataDisks }}{{ .DeviceID }}{{ end }} to format and mount them, for example a first disk at
	// /var/lib/containerd. They are deleted with the VM. The root disk (spec.rootDiskSize) stays the only
	// ephemeral-storage Karpenter schedules against. See docs/data-disks.md.
	// +kubebuilder:validation:XValidation:message="spec.dataDisks: names must be unique",rule="self.all(d, !has(d.name) || self.exists_one(e, has(e.name) && e.name == d.name))"
	// +kubebuilder:validation:MaxItems=14
	// +optional
	DataDisks []DataDisk `json:"dataDisks,omitempty"`
	// Kubelet holds the kubelet settings Karpenter uses to compute node allocatable and pod density.
	// Your userData must configure the kubelet with the same values.
	// +optional
	Kubelet *KubeletConfiguration `json:"kubelet,omitempty"`
}

// SecretReference names a Secret in a namespace.
type SecretReference struct {
	// Namespace is the Secret's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Namespace string `json:"namespace"`
	// Name is the Secret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// UserDataEncoding is how userData is packed before it is base64-encoded.
type UserDataEncoding string

const (
	// UserDataEncodingGzip compresses userData with gzip, which cloud-init decompresses on its own.
	UserDataEncodingGzip UserDataEncoding = "gzip"
	// UserDataEncodingPlain sends userData as is (only base64-encoded, as the API requires).
	UserDataEncodingPlain UserDataEncoding = "plain"
)

// SelectorTerm selects CloudStack resources. Within one term every set field must match; a resource matches the
// list of terms when it matches any term.
type SelectorTerm struct {
	// ID is the UUID of the resource. A term with an id has no other field.
	// +kubebuilder:validation:Pattern="^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
	// +optional
	ID string `json:"id,omitempty"`
	// Name is the exact name of the resource.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`
	// Tags are CloudStack resource tags the resource must all carry, with these exact values.
	// +kubebuilder:validation:XValidation:message="tags in a selector term must have non-empty keys and values",rule="self.all(k, k != '' && self[k] != '')"
	// +kubebuilder:validation:XValidation:message="tags in a selector term: keys and values must be at most 255 characters (CloudStack's own limit)",rule="self.all(k, size(k) <= 255 && size(self[k]) <= 255)"
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// KubeletConfiguration is the subset of kubelet settings that affect scheduling. Values must match what the
// userData configures on the node, or Karpenter's view of a node's allocatable will be wrong.
type KubeletConfiguration struct {
	// MaxPods is the kubelet's maximum number of pods per node. Defaults to 110.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxPods *int32 `json:"maxPods,omitempty"`
	// KubeReserved reserves resources for Kubernetes system daemons (keys: cpu, memory, ephemeral-storage, pid).
	// +kubebuilder:validation:XValidation:message="spec.kubelet.kubeReserved: valid keys are cpu, memory, ephemeral-storage and pid",rule="self.all(x, x in ['cpu', 'memory', 'ephemeral-storage', 'pid'])"
	// +kubebuilder:validation:XValidation:message="spec.kubelet.kubeReserved: values must be non-negative quantities such as 100m or 1Gi",rule="self.all(x, !self[x].startsWith('-') && isQuantity(self[x]))"
	// +kubebuilder:validation:MaxProperties=4
	// +optional
	KubeReserved map[string]string `json:"kubeReserved,omitempty"`
	// SystemReserved reserves resources for OS system daemons (keys: cpu, memory, ephemeral-storage, pid).
	// +kubebuilder:validation:XValidation:message="spec.kubelet.systemReserved: valid keys are cpu, memory, ephemeral-storage and pid",rule="self.all(x, x in ['cpu', 'memory', 'ephemeral-storage', 'pid'])"
	// +kubebuilder:validation:XValidation:message="spec.kubelet.systemReserved: values must be non-negative quantities such as 100m or 1Gi",rule="self.all(x, !self[x].startsWith('-') && isQuantity(self[x]))"
	// +kubebuilder:validation:MaxProperties=4
	// +optional
	SystemReserved map[string]string `json:"systemReserved,omitempty"`
	// EvictionHard are the kubelet's hard eviction thresholds, as quantities (100Mi) or percentages (5%).
	// +kubebuilder:validation:XValidation:message="spec.kubelet.evictionHard: valid keys are memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree and pid.available",rule="self.all(x, x in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'])"
	// +kubebuilder:validation:XValidation:message="spec.kubelet.evictionHard: percentages must be between 0% and 100%, such as 5% or 7.5%",rule="self.all(x, !self[x].endsWith('%') || double(self[x].replace('%', '')) <= 100.0)"
	// +kubebuilder:validation:XValidation:message="spec.kubelet.evictionHard: values must be a non-negative percentage or quantity, such as 5% or 100Mi",rule="self.all(x, !self[x].startsWith('-') && (self[x].endsWith('%') || isQuantity(self[x])))"
	// +kubebuilder:validation:MaxProperties=6
	// +optional
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
}

// CloudStackNodeClass is the CloudStack-specific configuration of the nodes Karpenter launches: zone(s), networks,
// service offerings, template, user data and tags. NodePools reference it through spec.template.spec.nodeClassRef.
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=cloudstacknodeclasses,scope=Cluster,categories=karpenter,shortName={csnc,csncs}
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Zone",type="string",JSONPath=".spec.zone",description="The zone, when a single zone is set"
// +kubebuilder:printcolumn:name="Zones",type="string",JSONPath=".status.zones[*].name",priority=1,description="The resolved zones"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type CloudStackNodeClass struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	// +required
	Spec CloudStackNodeClassSpec `json:"spec"`
	// Status is what the provider resolved in CloudStack.
	// +optional
	Status CloudStackNodeClassStatus `json:"status,omitempty"`
}

// CloudStackNodeClassList is a list of CloudStackNodeClasses.
// +kubebuilder:object:root=true
type CloudStackNodeClassList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CloudStackNodeClass `json:"items"`
}

// RootDiskSizeGiB is spec.rootDiskSize as deployVirtualMachine's rootdisksize takes it: whole GiB, rounded up.
// ok is false when spec.rootDiskSize is unset.
func (in *CloudStackNodeClass) RootDiskSizeGiB() (gib int64, ok bool) {
	if in.Spec.RootDiskSize == nil {
		return 0, false
	}
	const giB = 1 << 30
	return (in.Spec.RootDiskSize.Value() + giB - 1) / giB, true
}
