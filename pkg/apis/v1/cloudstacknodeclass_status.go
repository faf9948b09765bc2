package v1

import (
	"github.com/awslabs/operatorpkg/status"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Condition types of a CloudStackNodeClass. Ready is true when all of them are.
const (
	ConditionTypeZonesReady            = "ZonesReady"
	ConditionTypeNetworksReady         = "NetworksReady"
	ConditionTypeTemplatesReady        = "TemplatesReady"
	ConditionTypeServiceOfferingsReady = "ServiceOfferingsReady"
	ConditionTypeUserDataReady         = "UserDataReady"
	ConditionTypeSSHKeyPairReady       = "SSHKeyPairReady"
	ConditionTypeAffinityGroupsReady   = "AffinityGroupsReady"
	ConditionTypeSecurityGroupsReady   = "SecurityGroupsReady"
	ConditionTypeDataDisksReady        = "DataDisksReady"
	// ConditionTypeProjectReady is about the controller's project setting (--cloudstack-project), not a NodeClass
	// field: while the project cannot be used, no NodeClass is Ready and nothing is launched.
	ConditionTypeProjectReady = "ProjectReady"
)

// CloudStackNodeClassStatus is what the provider resolved for the NodeClass in CloudStack.
type CloudStackNodeClassStatus struct {
	// Zones are the zones VMs are launched in.
	// +optional
	Zones []Zone `json:"zones,omitempty"`
	// Networks are the networks VMs are attached to, per zone. The first network of a zone is the default NIC.
	// +optional
	Networks []Network `json:"networks,omitempty"`
	// Templates are the templates VMs boot from: in each zone, the newest matching template of each architecture.
	// +optional
	Templates []Template `json:"templates,omitempty"`
	// ServiceOfferings are the service offerings that became instance types.
	// +optional
	ServiceOfferings []ServiceOffering `json:"serviceOfferings,omitempty"`
	// AffinityGroups are the affinity groups VMs join.
	// +optional
	AffinityGroups []AffinityGroup `json:"affinityGroups,omitempty"`
	// SecurityGroups are the security groups VMs join (in every zone: the NodeClass is not Ready when a selected zone
	// has security groups disabled).
	// +optional
	SecurityGroups []SecurityGroup `json:"securityGroups,omitempty"`
	// DataDisks are the resolved spec.dataDisks, in the same order.
	// +optional
	DataDisks []ResolvedDataDisk `json:"dataDisks,omitempty"`
	// SSHKeyPair is the resolved SSH key pair name.
	// +optional
	SSHKeyPair string `json:"sshKeyPair,omitempty"`
	// Conditions tell whether each dependency resolved, and why not.
	// +optional
	Conditions []status.Condition `json:"conditions,omitempty"`
}

// Zone is a resolved CloudStack zone.
type Zone struct {
	// ID is the zone's UUID.
	ID string `json:"id"`
	// Name is the zone's name, used as the topology.kubernetes.io/zone label.
	Name string `json:"name"`
}

// Network is a resolved CloudStack network in one zone.
type Network struct {
	// ID is the network's UUID.
	ID string `json:"id"`
	// Name is the network's name.
	Name string `json:"name"`
	// ZoneID is the UUID of the network's zone.
	ZoneID string `json:"zoneID"`
}

// Template is a resolved CloudStack template in one zone.
type Template struct {
	// ID is the template's UUID.
	ID string `json:"id"`
	// Name is the template's name.
	Name string `json:"name"`
	// ZoneID is the UUID of the zone the template is ready in.
	ZoneID string `json:"zoneID"`
	// Architecture is the Kubernetes architecture (amd64 or arm64) of the template.
	Architecture string `json:"architecture"`
	// Size is the template's virtual size: the root disk, and so the ephemeral-storage capacity, of a VM deployed
	// without spec.rootDiskSize from an offering that sets no root disk size. Absent when CloudStack reports none.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
}

// ServiceOffering is a resolved CloudStack service offering.
type ServiceOffering struct {
	// ID is the offering's UUID.
	ID string `json:"id"`
	// Name is the offering's name.
	Name string `json:"name"`
}

// AffinityGroup is a resolved CloudStack affinity group.
type AffinityGroup struct {
	// ID is the affinity group's UUID.
	ID string `json:"id"`
	// Name is the affinity group's name.
	Name string `json:"name"`
}

// SecurityGroup is a resolved CloudStack security group.
type SecurityGroup struct {
	// ID is the security group's UUID.
	ID string `json:"id"`
	// Name is the security group's name.
	Name string `json:"name"`
}

// StatusConditions lists one condition per dependency; operatorpkg derives Ready from them.
func (in *CloudStackNodeClass) StatusConditions(opts ...status.ForOption) status.ConditionSet {
	return status.NewReadyConditions(
		ConditionTypeZonesReady,
		ConditionTypeNetworksReady,
		ConditionTypeTemplatesReady,
		ConditionTypeServiceOfferingsReady,
		ConditionTypeUserDataReady,
		ConditionTypeSSHKeyPairReady,
		ConditionTypeAffinityGroupsReady,
		ConditionTypeSecurityGroupsReady,
		ConditionTypeDataDisksReady,
		ConditionTypeProjectReady,
	).For(in, opts...)
}

// GetConditions implements status.Object.
func (in *CloudStackNodeClass) GetConditions() []status.Condition { return in.Status.Conditions }

// SetConditions implements status.Object.
func (in *CloudStackNodeClass) SetConditions(conditions []status.Condition) {
	in.Status.Conditions = conditions
}
