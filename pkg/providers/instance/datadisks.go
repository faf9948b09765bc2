package instance

import (
	"context"
	"fmt"
	"strconv"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/samber/lo"
	"go.uber.org/multierr"
	"sigs.k8s.io/controller-runtime/pkg/log"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// addDataDisks gives a new VM the data disks after the deploy's first one: CloudStack 4.19 and 4.20 take one data
// disk at deploy, so each further one is created, tagged as this cluster's and attached at its device ID. Every data
// disk is tagged before any attach, so a disk this process leaves detached (it dies, an attach fails and the delete
// too) is one the garbage collector finds and deletes. On failure the volumes created here and not attached are
// deleted; the caller destroys the VM with the attached ones.
func (p *DefaultProvider) addDataDisks(ctx context.Context, nodeClass *v1.CloudStackNodeClass, nodeClaim *karpv1.NodeClaim, vmID, zoneID string) error {
	disks := nodeClass.Status.DataDisks
	if len(disks) == 0 {
		return nil
	}
	var created []string
	fail := func(err error) error {
		p.deleteVolumes(ctx, created)
		return err
	}
	for i := 1; i < len(disks); i++ {
		d := disks[i]
		id, err := p.api.CreateVolume(ctx, volumeName(nodeClaim, i, d.Name), d.DiskOfferingID, zoneID, lo.Ternary(d.Customized, d.SizeGiB, 0))
		if id != "" {
			created = append(created, id)
		}
		if err != nil {
			return fail(fmt.Errorf("creating data disk %d (spec.dataDisks[%d]) of VM %s, %w", i, i, vmID, err))
		}
	}
	attached, err := p.api.ListDataDisks(ctx, vmID, nil)
	if err != nil {
		return fail(fmt.Errorf("listing the data disks of VM %s, %w", vmID, err))
	}
	ids := append(lo.Map(attached, func(v *csgo.Volume, _ int) string { return v.Id }), created...)
	if err := p.api.CreateTags(ctx, ids, cloudstack.ResourceTypeVolume, p.owner.Tags()); err != nil {
		return fail(fmt.Errorf("tagging the data disks of VM %s, %w", vmID, err))
	}
	for i, id := range created {
		if err := p.api.AttachVolume(ctx, id, vmID, disks[i+1].DeviceID); err != nil {
			created = created[i:]
			return fail(fmt.Errorf("attaching data disk %d (spec.dataDisks[%d]) to VM %s, %w", i+1, i+1, vmID, err))
		}
	}
	return nil
}

// volumeName names a created data disk after its VM and the disk, so an operator sees in CloudStack what it is for.
func volumeName(nodeClaim *karpv1.NodeClaim, i int, name string) string {
	return Hostname(nodeClaim.Name) + "-" + lo.Ternary(name != "", name, "data"+strconv.Itoa(i))
}

// deleteVolumes deletes detached volumes a failed launch created, even when the launch's context is done. A volume
// left behind carries this cluster's tags, so the garbage collector deletes it later.
func (p *DefaultProvider) deleteVolumes(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for _, id := range ids {
		if err := p.api.DeleteVolume(ctx, id); err != nil {
			log.FromContext(ctx).Error(err, "deleting a data disk of a failed launch; the garbage collector will retry", "volume-id", id)
		}
	}
}

// dataDiskIDs returns the data disks to destroy with a VM: only a VM launched with spec.dataDisks (TagKeyDataDisks)
// costs the listing.
func (p *DefaultProvider) dataDiskIDs(ctx context.Context, vm *csgo.VirtualMachine) ([]string, error) {
	if _, ok := cloudstack.TagMap(vm.Tags)[v1.TagKeyDataDisks]; !ok {
		return nil, nil
	}
	disks, err := p.api.ListDataDisks(ctx, vm.Id, nil)
	if err != nil {
		return nil, fmt.Errorf("listing the data disks of VM %q, %w", vm.Id, err)
	}
	return lo.Map(disks, func(d *csgo.Volume, _ int) string { return d.Id }), nil
}

// DeleteDetachedDataDisks implements Provider. The listing is the key's own account only and filtered by this
// cluster's ID, so another cluster's or a person's volume is never considered; createdBefore (the garbage
// collector's grace period) keeps a disk between its createVolume and attachVolume.
func (p *DefaultProvider) DeleteDetachedDataDisks(ctx context.Context, createdBefore time.Time) (int, error) {
	disks, err := p.api.ListDataDisks(ctx, "", map[string]string{v1.TagKeyClusterID: p.owner.ClusterID})
	if err != nil {
		return 0, fmt.Errorf("listing this cluster's data disks, %w", err)
	}
	deleted := 0
	var errs error
	for _, d := range disks {
		created, err := time.Parse(cloudstack.TimeLayout, d.Created)
		if d.Virtualmachineid != "" || err != nil || !created.Before(createdBefore) {
			continue
		}
		if err := p.api.DeleteVolume(ctx, d.Id); err != nil && !cserrors.IsNotFound(err) {
			errs = multierr.Append(errs, fmt.Errorf("deleting detached data disk %s (%s), %w", d.Name, d.Id, err))
			continue
		}
		log.FromContext(ctx).Info("deleted a detached data disk of this cluster", "volume-id", d.Id, "volume-name", d.Name)
		deleted++
	}
	return deleted, errs
}
