package cloudstack

import (
	"context"
	"fmt"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
)

// ResourceTypeVolume is the resource type of volumes in the tag APIs.
const ResourceTypeVolume = "Volume"

// VolumeTypeDataDisk is the type of a data disk volume (the other type is ROOT).
const VolumeTypeDataDisk = "DATADISK"

// Volumes are the calls behind spec.dataDisks. CloudStack 4.19 and 4.20 give a template deploy one data disk
// (deployVirtualMachine's diskofferingid and size; datadiskofferinglist only maps the disks of a multi-disk OVA
// template, and datadisksdetails arrived in 4.21); more data disks are created and attached afterwards.
type Volumes interface {
	// ListDiskOfferings lists the disk offerings the account may use, in every zone.
	ListDiskOfferings(ctx context.Context) ([]*csgo.DiskOffering, error)
	// ListDataDisks lists the key's own account's (or, with a project configured, the project's) DATADISK volumes attached to vmID (any, when empty) that carry all
	// of the given tags. Like ListVMs it never passes listall, and checks the tags itself (CloudStack ORs them).
	ListDataDisks(ctx context.Context, vmID string, tags map[string]string) ([]*csgo.Volume, error)
	// CreateVolume creates a data disk in a zone and waits for the job; sizeGiB is for customized offerings only (0
	// leaves it out). It returns the volume's ID.
	CreateVolume(ctx context.Context, name, diskOfferingID, zoneID string, sizeGiB int64) (string, error)
	// AttachVolume attaches a volume to a VM at deviceID (0: CloudStack's next free one) and waits for the job.
	AttachVolume(ctx context.Context, volumeID, vmID string, deviceID int64) error
	// DeleteVolume deletes a detached volume.
	DeleteVolume(ctx context.Context, volumeID string) error
}

// ListDiskOfferings implements Volumes.
func (c *Client) ListDiskOfferings(ctx context.Context) ([]*csgo.DiskOffering, error) {
	return listAll(ctx, c, "listDiskOfferings", func(n, size int) (page[*csgo.DiskOffering], error) {
		p := &csgo.ListDiskOfferingsParams{}
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().DiskOffering.ListDiskOfferings(p)
		if err != nil {
			return page[*csgo.DiskOffering]{}, err
		}
		return page[*csgo.DiskOffering]{r.DiskOfferings, r.Count}, nil
	})
}

// ListDataDisks implements Volumes.
func (c *Client) ListDataDisks(ctx context.Context, vmID string, tags map[string]string) ([]*csgo.Volume, error) {
	vols, err := listScoped(ctx, c, "listVolumes", func(pid string, n, size int) (page[*csgo.Volume], error) {
		p := &csgo.ListVolumesParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetType(VolumeTypeDataDisk)
		if vmID != "" {
			p.SetVirtualmachineid(vmID)
		}
		if len(tags) > 0 {
			p.SetTags(tags)
		}
		p.SetPage(n)
		p.SetPagesize(size)
		r, err := c.sdk.Load().Volume.ListVolumes(p)
		if err != nil {
			return page[*csgo.Volume]{}, err
		}
		return page[*csgo.Volume]{r.Volumes, r.Count}, nil
	})
	if err != nil {
		return nil, err
	}
	out := vols[:0]
	for _, v := range vols {
		if hasAllTags(v.Tags, tags) {
			out = append(out, v)
		}
	}
	return out, nil
}

// CreateVolume implements Volumes.
func (c *Client) CreateVolume(ctx context.Context, name, diskOfferingID, zoneID string, sizeGiB int64) (string, error) {
	// A data disk belongs to the VM's owner: in a project, attaching an account's volume to the project's VM fails.
	pid, err := c.projectID(ctx)
	if err != nil {
		return "", err
	}
	r, err := do(ctx, c, "createVolume", func() (*csgo.CreateVolumeResponse, error) {
		p := &csgo.CreateVolumeParams{}
		setIfSet(pid, p.SetProjectid)
		p.SetName(name)
		p.SetDiskofferingid(diskOfferingID)
		p.SetZoneid(zoneID)
		if sizeGiB > 0 {
			p.SetSize(sizeGiB)
		}
		return c.sdk.Load().Volume.CreateVolume(p)
	})
	if err != nil {
		return "", c.inProject(err)
	}
	c.startedJob("createVolume", r.JobID)
	if _, err := c.WaitForJob(ctx, r.JobID); err != nil {
		return r.Id, fmt.Errorf("creating volume %s, %w", name, err)
	}
	return r.Id, nil
}

// AttachVolume implements Volumes.
func (c *Client) AttachVolume(ctx context.Context, volumeID, vmID string, deviceID int64) error {
	r, err := do(ctx, c, "attachVolume", func() (*csgo.AttachVolumeResponse, error) {
		p := &csgo.AttachVolumeParams{}
		p.SetId(volumeID)
		p.SetVirtualmachineid(vmID)
		if deviceID > 0 {
			p.SetDeviceid(deviceID)
		}
		return c.sdk.Load().Volume.AttachVolume(p)
	})
	if err != nil {
		return err
	}
	c.startedJob("attachVolume", r.JobID)
	if _, err := c.WaitForJob(ctx, r.JobID); err != nil {
		return fmt.Errorf("attaching volume %s to VM %s, %w", volumeID, vmID, err)
	}
	return nil
}

// DeleteVolume implements Volumes.
func (c *Client) DeleteVolume(ctx context.Context, volumeID string) error {
	_, err := do(ctx, c, "deleteVolume", func() (*csgo.DeleteVolumeResponse, error) {
		p := &csgo.DeleteVolumeParams{}
		p.SetId(volumeID)
		return c.sdk.Load().Volume.DeleteVolume(p)
	})
	return err
}
