package nodeclass

import (
	"context"
	"fmt"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/diskoffering"
)

// Reasons of DataDisksReady=False.
const (
	ReasonDiskOfferingsNotFound   = "DiskOfferingsNotFound"
	ReasonDiskOfferingNotInZones  = "DiskOfferingNotInZones"
	ReasonDataDiskSizeRequired    = "DataDiskSizeRequired"
	ReasonDataDiskSizeNotAllowed  = "DataDiskSizeNotAllowed"
	ReasonDiskOfferingNotSelected = "DiskOfferingAmbiguous"
)

type dataDisks struct{ provider diskoffering.Provider }

// reconcile resolves each data disk's offering and checks what only CloudStack knows: that the offering exists, is
// available in every zone of the NodeClass (a launch in a zone without it fails with 431 after the candidate was
// chosen), and that size is given exactly for customized offerings (CloudStack refuses the deploy otherwise).
func (d *dataDisks) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	disks := nodeClass.Spec.DataDisks
	if len(disks) == 0 {
		nodeClass.Status.DataDisks = nil
		conds.SetTrueWithReason(v1.ConditionTypeDataDisksReady, ReasonNotConfigured, "spec.dataDisks is not set")
		return nil
	}
	if len(nodeClass.Status.Zones) == 0 {
		nodeClass.Status.DataDisks = nil
		awaitingZones(conds, v1.ConditionTypeDataDisksReady, "spec.dataDisks")
		return nil
	}
	terms := lo.Map(disks, func(disk v1.DataDisk, _ int) v1.SelectorTerm { return disk.DiskOffering.Term() })
	_, unmatched, err := resolveEveryTerm(ctx, terms, d.provider.Resolve)
	if err != nil {
		return fmt.Errorf("resolving disk offerings, %w", err)
	}
	fail := func(reason, message string) error {
		nodeClass.Status.DataDisks = nil
		conds.SetFalse(v1.ConditionTypeDataDisksReady, reason, message)
		return nil
	}
	if unmatched != "" {
		return fail(ReasonDiskOfferingsNotFound, "spec.dataDisks: no disk offering of the account matches "+strings.ReplaceAll(unmatched, "[", "spec.dataDisks[")+".diskOffering")
	}
	resolved := make([]v1.ResolvedDataDisk, 0, len(disks))
	for i, disk := range disks {
		found, err := d.provider.Resolve(ctx, terms[i:i+1])
		if err != nil {
			return fmt.Errorf("resolving disk offerings, %w", err)
		}
		field := fmt.Sprintf("spec.dataDisks[%d]", i)
		if len(found) > 1 {
			return fail(ReasonDiskOfferingNotSelected, fmt.Sprintf("%s.diskOffering: %d disk offerings are named %q; select one by id", field, len(found), disk.DiskOffering.Name))
		}
		o := found[0]
		var missing []string
		for _, z := range nodeClass.Status.Zones {
			if !diskoffering.InZone(o, z.ID) {
				missing = append(missing, z.Name)
			}
		}
		if len(missing) > 0 {
			return fail(ReasonDiskOfferingNotInZones, fmt.Sprintf("%s.diskOffering: disk offering %q is not available in zone(s) %s of this NodeClass; "+
				"choose an offering of every zone, or select only the zones that have it", field, o.Name, quoteJoin(missing)))
		}
		size, hasSize := disk.SizeGiB()
		switch {
		case o.Iscustomized && !hasSize:
			return fail(ReasonDataDiskSizeRequired, fmt.Sprintf("%s.size: disk offering %q is customized, so CloudStack needs the size of the disk; set size", field, o.Name))
		case !o.Iscustomized && hasSize:
			return fail(ReasonDataDiskSizeNotAllowed, fmt.Sprintf("%s.size: disk offering %q has a fixed size of %d GiB and CloudStack refuses another; remove size",
				field, o.Name, o.Disksize))
		case !o.Iscustomized:
			size = o.Disksize
		}
		resolved = append(resolved, resolvedDisk(disk, o, size, i, nodeClass.Status.Zones))
	}
	nodeClass.Status.DataDisks = resolved
	conds.SetTrue(v1.ConditionTypeDataDisksReady)
	return nil
}

func resolvedDisk(disk v1.DataDisk, o *csgo.DiskOffering, sizeGiB int64, i int, zones []v1.Zone) v1.ResolvedDataDisk {
	return v1.ResolvedDataDisk{Name: disk.Name, DiskOfferingID: o.Id, DiskOfferingName: o.Name, Customized: o.Iscustomized, SizeGiB: sizeGiB,
		DeviceID: v1.DataDiskDeviceID(i), Zones: lo.Map(zones, func(z v1.Zone, _ int) string { return z.Name })}
}
