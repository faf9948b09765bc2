package v1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// DataDisk is one data disk of every VM of a NodeClass.
type DataDisk struct {
	// DiskOffering selects the CloudStack disk offering of the disk, by id or by name.
	// +required
	DiskOffering DiskOfferingSelector `json:"diskOffering"`
	// Size is the disk's size for a customized disk offering (iscustomized), rounded up to whole GiB; CloudStack
	// accepts custom.diskoffering.size.min to .max (1 to 1024 GiB by default). A fixed-size offering has its own
	// size and CloudStack refuses one here: the NodeClass reports DataDisksReady=False when size is missing for a
	// customized offering or set for a fixed one (admission cannot know which kind the offering is).
	// +kubebuilder:validation:XValidation:message="spec.dataDisks[].size must be at least 1Gi",rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0"
	// +kubebuilder:validation:XValidation:message="spec.dataDisks[].size must be at most 64Ti",rule="quantity(string(self)).compareTo(quantity('64Ti')) <= 0"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// Name names the disk for userData templates ({{ range .DataDisks }}{{ .Name }}{{ end }}) and is part of the
	// names of the volumes created for it. It is a device hint, not a Linux device name: the guest sees the disk at
	// the CloudStack device ID its position gives it.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Name string `json:"name,omitempty"`
}

// DiskOfferingSelector selects one disk offering. Disk offerings carry no resource tags in CloudStack (their tags
// field is storage tags), so only id and name select.
// +kubebuilder:validation:XValidation:message="spec.dataDisks[].diskOffering: set exactly one of id or name",rule="has(self.id) != has(self.name)"
type DiskOfferingSelector struct {
	// ID is the disk offering's UUID.
	// +kubebuilder:validation:Pattern="^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
	// +optional
	ID string `json:"id,omitempty"`
	// Name is the disk offering's name, matched exactly.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`
}

// Term is the selector as a selector term, so disk offerings resolve like every other selected resource.
func (s DiskOfferingSelector) Term() SelectorTerm { return SelectorTerm{ID: s.ID, Name: s.Name} }

// ResolvedDataDisk is a data disk with its resolved disk offering.
type ResolvedDataDisk struct {
	// Name is spec.dataDisks[].name.
	// +optional
	Name string `json:"name,omitempty"`
	// DiskOfferingID is the resolved disk offering's UUID.
	DiskOfferingID string `json:"diskOfferingID"`
	// DiskOfferingName is the resolved disk offering's name.
	DiskOfferingName string `json:"diskOfferingName"`
	// Customized is true for an offering whose size the caller gives (spec size).
	// +optional
	Customized bool `json:"customized,omitempty"`
	// SizeGiB is the disk's size: the offering's, or spec size for a customized offering.
	SizeGiB int64 `json:"sizeGiB"`
	// DeviceID is the CloudStack device ID the disk is attached at.
	DeviceID int64 `json:"deviceID"`
	// Zones are the NodeClass's zones the offering is available in: every one of them, or the NodeClass is not Ready.
	// +optional
	Zones []string `json:"zones,omitempty"`
}

// DataDiskDeviceID is the CloudStack device ID of the i-th data disk: 1, 2, 4, 5, ... CloudStack gives the deploy's
// data disk device 1 and keeps 3 for the CD-ROM (VolumeApiServiceImpl.getDeviceId refuses it).
func DataDiskDeviceID(i int) int64 {
	if i < 2 {
		return int64(i + 1)
	}
	return int64(i + 2)
}

// DataDisksRecord is the resolved data disks in the form recorded on a NodeClaim when its VM is launched
// ("<offering-id>:<GiB>,..."): drift compares it with the NodeClass's current resolution.
func DataDisksRecord(disks []ResolvedDataDisk) string {
	parts := make([]string, 0, len(disks))
	for _, d := range disks {
		parts = append(parts, fmt.Sprintf("%s:%d", d.DiskOfferingID, d.SizeGiB))
	}
	return strings.Join(parts, ",")
}

// SizeGiB is the disk's size in whole GiB, rounded up; false without a size.
func (d DataDisk) SizeGiB() (int64, bool) {
	if d.Size == nil {
		return 0, false
	}
	const giB = int64(1) << 30
	return (d.Size.Value() + giB - 1) / giB, true
}
