package v1

import (
	"fmt"

	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
)

// Labels the provider sets on NodeClaims and Nodes. They are well-known, so NodePools and pods can select on them.
const (
	// LabelServiceOfferingID is the UUID of the VM's service offering.
	LabelServiceOfferingID = apis.Group + "/service-offering-id"
	// LabelInstanceCPU is the number of vCPUs of the offering.
	LabelInstanceCPU = apis.Group + "/instance-cpu"
	// LabelInstanceMemory is the memory of the offering in MiB.
	LabelInstanceMemory = apis.Group + "/instance-memory"
	// LabelInstanceGPUName is the GPU card (or vGPU profile) of a GPU offering.
	LabelInstanceGPUName = apis.Group + "/instance-gpu-name"
	// LabelInstanceGPUCount is the number of GPUs of a GPU offering.
	LabelInstanceGPUCount = apis.Group + "/instance-gpu-count"
	// LabelInstanceHostTag is the host tag of the offering: CloudStack places such VMs only on hosts with that tag.
	LabelInstanceHostTag = apis.Group + "/instance-host-tag"
	// LabelInstanceStorageType is the storage type of the offering's root disk: shared or local.
	LabelInstanceStorageType = apis.Group + "/instance-storage-type"
	// LabelZoneID is the UUID of the VM's zone (topology.kubernetes.io/zone carries its name).
	LabelZoneID = apis.Group + "/zone-id"
)

// Annotations the provider sets on NodeClasses and NodeClaims to detect static drift.
const (
	AnnotationNodeClassHash        = apis.Group + "/cloudstacknodeclass-hash"
	AnnotationNodeClassHashVersion = apis.Group + "/cloudstacknodeclass-hash-version"
)

// AnnotationTags on a NodeClaim records, as a JSON object, the spec.tags of its NodeClass last applied to its VM.
// Tags are not part of the hash (a changed tag does not replace nodes): the tagging controller compares this record
// with the NodeClass to find the VMs whose tags to update, and removes from a VM exactly the keys recorded here that
// the NodeClass no longer has, never a tag it did not put there.
const AnnotationTags = apis.Group + "/tags"

// AnnotationDataDisks records on a NodeClaim the data disks its VM was launched with (v1.DataDisksRecord of the
// NodeClass's resolved spec.dataDisks): DataDiskDrift compares it with the current resolution at no request.
const AnnotationDataDisks = apis.Group + "/data-disks"

// Tag keys the provider puts on every VM it launches. TagKeyClusterID (with the instance group, see
// instance.Owner) proves ownership; the others say what the VM is for.
const (
	TagKeyCluster   = apis.Group + "/cluster"
	TagKeyClusterID = apis.Group + "/cluster-id"
	TagKeyNodeClass = apis.Group + "/cloudstacknodeclass"
	TagKeyNodePool  = karpv1.NodePoolLabelKey
	// TagKeyDataDisks is the number of spec.dataDisks a VM was launched with, on VMs that have some: deleting such a
	// VM lists its data disks to destroy them with it, and no other delete pays that listing.
	TagKeyDataDisks = apis.Group + "/data-disks"
	// TagKeyNodeClaim named the NodeClaim on VMs of earlier releases. The VM's display name carries it now, so the
	// tags of a launch are the same for many VMs and one createTags call sets them.
	TagKeyNodeClaim = "karpenter.sh/nodeclaim"
)

// TerminationFinalizer blocks deletion of a NodeClass while NodeClaims still use it.
const TerminationFinalizer = apis.Group + "/termination"

// ProviderIDPrefix is the scheme of providerIDs this provider sets: cloudstack:///<vm-uuid>, as CAPC does.
const ProviderIDPrefix = "cloudstack:///"

// ProviderIDPrefixCCM is the scheme the CloudStack cloud-controller-manager sets on a node that registered without
// a providerID. NodeClaims never carry it, and Karpenter matches nodes by the exact string, so such a node never
// registers: ParseProviderID accepts it only so that the provider can recognise that node and say why
// (pkg/controllers/node/providerid). The supported setup keeps the kubelet's --provider-id (docs/bootstrap.md).
const ProviderIDPrefixCCM = "external-cloudstack://"

// ProviderID returns the providerID of a VM.
func ProviderID(vmID string) string { return ProviderIDPrefix + vmID }

// ParseProviderID returns the VM UUID of a providerID in the provider's format, or in the CCM's format (which a
// NodeClaim never matches; see ProviderIDPrefixCCM).
func ParseProviderID(providerID string) (string, error) {
	for _, prefix := range []string{ProviderIDPrefix, ProviderIDPrefixCCM} {
		if len(providerID) > len(prefix) && providerID[:len(prefix)] == prefix {
			id := providerID[len(prefix):]
			for len(id) > 0 && id[0] == '/' {
				id = id[1:]
			}
			if id != "" {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("providerID %q is not of the form %s<vm-uuid> or %s<vm-uuid>", providerID, ProviderIDPrefix, ProviderIDPrefixCCM)
}

func init() {
	karpv1.RestrictedLabelDomains = karpv1.RestrictedLabelDomains.Insert(apis.Group)
	karpv1.WellKnownLabels = karpv1.WellKnownLabels.Insert(
		LabelServiceOfferingID,
		LabelInstanceCPU,
		LabelInstanceMemory,
		LabelInstanceGPUName,
		LabelInstanceGPUCount,
		LabelInstanceHostTag,
		LabelInstanceStorageType,
		LabelZoneID,
	)
}
