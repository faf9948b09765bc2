package cloudprovider

import (
	"context"
	"fmt"
	"strings"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	"github.com/samber/lo"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
)

// Drift reasons of this provider. Core adds its own (NodePool, requirements, instance type).
const (
	// NodeClassDrift: a hashed field of the NodeClass spec (userData, tags, keypair, root disk, kubelet) changed.
	NodeClassDrift cloudprovider.DriftReason = "NodeClassDrift"
	// ZoneDrift: the VM's zone is enabled, but no longer one the NodeClass selects.
	ZoneDrift cloudprovider.DriftReason = "ZoneDrift"
	// TemplateDrift: the NodeClass now resolves another template in the VM's zone.
	TemplateDrift cloudprovider.DriftReason = "TemplateDrift"
	// NetworkDrift: the VM's default network is no longer the first network the NodeClass resolves in its zone.
	NetworkDrift cloudprovider.DriftReason = "NetworkDrift"
	// ServiceOfferingDrift: the VM's service offering is no longer selected by the NodeClass.
	ServiceOfferingDrift cloudprovider.DriftReason = "ServiceOfferingDrift"
	// SecurityGroupDrift: the security groups the NodeClass resolves are no longer the VM's (CloudStack changes a
	// VM's groups only while it is stopped, so the node is replaced).
	SecurityGroupDrift cloudprovider.DriftReason = "SecurityGroupDrift"
	// DataDiskDrift: the data disks the NodeClass resolves (offering and size, in order) are not the ones the VM was
	// launched with.
	DataDiskDrift cloudprovider.DriftReason = "DataDiskDrift"
)

// IsDrifted tells whether the NodeClaim's VM no longer matches its NodeClass.
func (c *CloudProvider) IsDrifted(ctx context.Context, nodeClaim *karpv1.NodeClaim) (cloudprovider.DriftReason, error) {
	nodeClass, err := c.resolveNodeClassFromNodeClaim(ctx, nodeClaim)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("resolving node class, %w", err)
	}
	if reason := staticDrift(nodeClaim, nodeClass); reason != "" {
		return reason, nil
	}
	if reason := dataDiskDrift(nodeClaim, nodeClass); reason != "" {
		return reason, nil
	}
	id, err := v1.ParseProviderID(nodeClaim.Status.ProviderID)
	if err != nil {
		return "", fmt.Errorf("checking drift of NodeClaim %q, %w", nodeClaim.Name, err)
	}
	inst, err := c.instanceProvider.GetForDrift(ctx, id)
	if err != nil {
		return "", fmt.Errorf("getting instance, %w", err)
	}
	reason := dynamicDrift(inst, nodeClass)
	if reason == ZoneDrift {
		// A zone that is no longer selected only because an operator disabled it (allocationstate=Disabled; user
		// keys no longer even list it) stops launches there, but is no reason to replace the nodes running in it.
		open, err := c.zoneEnabled(ctx, inst.ZoneID)
		if err != nil || !open {
			return "", err
		}
	}
	return reason, nil
}

// zoneEnabled reports whether the account sees the zone and it accepts new VMs.
func (c *CloudProvider) zoneEnabled(ctx context.Context, zoneID string) (bool, error) {
	zones, err := c.zoneProvider.List(ctx)
	if err != nil {
		return false, fmt.Errorf("listing zones, %w", err)
	}
	return lo.ContainsBy(zones, func(z *csgo.Zone) bool { return z.Id == zoneID && z.Allocationstate == "Enabled" }), nil
}

// staticDrift compares the spec hash stamped at launch with the NodeClass's current one. Hashes of another
// hash version are not comparable, so they never count as drift.
func staticDrift(nodeClaim *karpv1.NodeClaim, nodeClass *v1.CloudStackNodeClass) cloudprovider.DriftReason {
	claimHash, ok := nodeClaim.Annotations[v1.AnnotationNodeClassHash]
	if !ok || nodeClaim.Annotations[v1.AnnotationNodeClassHashVersion] != v1.NodeClassHashVersion {
		return ""
	}
	if nodeClass.Annotations[v1.AnnotationNodeClassHashVersion] != v1.NodeClassHashVersion {
		return ""
	}
	if classHash, ok := nodeClass.Annotations[v1.AnnotationNodeClassHash]; ok && classHash != claimHash {
		return NodeClassDrift
	}
	return ""
}

// dataDiskDrift compares the data disks recorded at launch with the NodeClass's current resolution. A NodeClaim
// without the record was launched before data disks existed, so without any. Data disks that do not resolve now
// (the NodeClass is not Ready) are not drift.
func dataDiskDrift(nodeClaim *karpv1.NodeClaim, nodeClass *v1.CloudStackNodeClass) cloudprovider.DriftReason {
	if len(nodeClass.Spec.DataDisks) > 0 && len(nodeClass.Status.DataDisks) == 0 {
		return ""
	}
	if nodeClaim.Annotations[v1.AnnotationDataDisks] != v1.DataDisksRecord(nodeClass.Status.DataDisks) {
		return DataDiskDrift
	}
	return ""
}

// dynamicDrift compares the VM with what the NodeClass resolves now. An empty resolution (the NodeClass is not
// ready) is not drift: replacing nodes cannot help until it resolves again.
func dynamicDrift(inst *instance.Instance, nodeClass *v1.CloudStackNodeClass) cloudprovider.DriftReason {
	st := nodeClass.Status
	if len(st.Zones) > 0 && !lo.ContainsBy(st.Zones, func(z v1.Zone) bool { return z.ID == inst.ZoneID }) {
		return ZoneDrift
	}
	// A zone has one template per architecture: the VM drifts when its architecture's template changed or is gone.
	if zoneTemplates := lo.Filter(st.Templates, func(t v1.Template, _ int) bool { return t.ZoneID == inst.ZoneID }); len(zoneTemplates) > 0 {
		tmpl, ok := lo.Find(zoneTemplates, func(t v1.Template) bool { return template.Architecture(t.Architecture) == inst.Arch })
		if !ok || tmpl.ID != inst.TemplateID {
			return TemplateDrift
		}
	}
	zoneNetworks := lo.Filter(st.Networks, func(n v1.Network, _ int) bool { return n.ZoneID == inst.ZoneID })
	if len(zoneNetworks) > 0 && len(inst.NetworkIDs) > 0 && zoneNetworks[0].ID != inst.NetworkIDs[0] {
		return NetworkDrift
	}
	if len(st.ServiceOfferings) > 0 && !lo.ContainsBy(st.ServiceOfferings, func(o v1.ServiceOffering) bool { return o.ID == inst.ServiceOfferingID }) {
		return ServiceOfferingDrift
	}
	if len(st.SecurityGroups) > 0 && !sameIDs(lo.Map(st.SecurityGroups, func(g v1.SecurityGroup, _ int) string { return g.ID }), inst.SecurityGroupIDs) {
		return SecurityGroupDrift
	}
	return ""
}

// sameIDs compares two sets of UUIDs, in any order and letter case.
func sameIDs(a, b []string) bool {
	norm := func(ids []string) []string {
		return lo.Uniq(lo.Map(ids, func(id string, _ int) string { return strings.ToLower(id) }))
	}
	x, y := norm(a), norm(b)
	return len(x) == len(y) && len(lo.Intersect(x, y)) == len(x)
}
