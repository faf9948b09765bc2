package instancetype

import (
	"context"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// LaunchSpec is everything deploying a VM of an instance type in one zone needs. The provider resolves it from the
// offering catalog and the NodeClass's status when it builds the instance type, so the instance provider never reads
// it back from requirement labels.
type LaunchSpec struct {
	// OfferingID is the service offering; Details size a VM of a customized offering (nil for a fixed one).
	OfferingID string
	Details    map[string]string
	// CPU and MemoryMiB are the VM's size.
	CPU, MemoryMiB int
	Zone           v1.Zone
	// Arch is the architecture of Template, the zone's first template of that architecture in status order.
	Arch     string
	Template v1.Template
	// NetworkIDs are the zone's networks in status order; the first is the VM's default NIC.
	NetworkIDs []string
}

// LaunchSpecs are the launch specs of one NodeClass's instance types.
type LaunchSpecs struct {
	// byType maps an instance type name to the zone's label value (v1.ZoneLabelValue, what an offering's zone
	// requirement holds) to one spec per architecture.
	byType map[string]map[string][]LaunchSpec
	// bySize maps an offering and size to the instance type, for VMs read back from CloudStack.
	bySize map[sizeKey]string
}

type sizeKey struct {
	offeringID     string
	cpu, memoryMiB int
}

func newLaunchSpecs() LaunchSpecs {
	return LaunchSpecs{byType: map[string]map[string][]LaunchSpec{}, bySize: map[sizeKey]string{}}
}

func (l LaunchSpecs) add(instanceType string, s LaunchSpec) {
	zones := l.byType[instanceType]
	if zones == nil {
		zones = map[string][]LaunchSpec{}
		l.byType[instanceType] = zones
	}
	zone := v1.ZoneLabelValue(s.Zone.Name)
	zones[zone] = append(zones[zone], s)
	l.bySize[sizeKey{s.OfferingID, s.CPU, s.MemoryMiB}] = instanceType
}

// For returns the specs of an instance type in a zone, given as the zone's label value (an offering's Zone()), one
// per architecture the zone has a template of. Nil when the NodeClass cannot launch the type there. The specs are
// shared and must not be modified.
func (l LaunchSpecs) For(instanceType, zone string) []LaunchSpec { return l.byType[instanceType][zone] }

// InstanceTypeOf names the instance type of a VM deployed from the offering at the size.
func (l LaunchSpecs) InstanceTypeOf(offeringID string, cpu, memoryMiB int) (string, bool) {
	name, ok := l.bySize[sizeKey{offeringID, cpu, memoryMiB}]
	return name, ok
}

// LaunchSpecs implements Provider. It shares List's cache: a warm call makes no API request.
func (p *DefaultProvider) LaunchSpecs(ctx context.Context, nodeClass *v1.CloudStackNodeClass) (LaunchSpecs, error) {
	e, err := p.entry(ctx, nodeClass)
	if err != nil {
		return LaunchSpecs{}, err
	}
	return e.specs, nil
}
