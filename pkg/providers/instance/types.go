package instance

import (
	"strings"
	"time"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
)

// VM states this package acts on (CloudStack's VirtualMachine.State).
const (
	StateRunning   = "Running"
	StateStarting  = "Starting"
	StateStopped   = "Stopped"
	StateError     = "Error"
	StateDestroyed = "Destroyed"
	StateExpunging = "Expunging"
	StateExpunged  = "Expunged"
)

// Instance is the provider's view of a VM; it carries no SDK type so the CloudProvider does not depend on the SDK.
type Instance struct {
	ID                  string
	Name                string
	DisplayName         string
	Group               string
	State               string
	ZoneID              string
	ZoneName            string
	ServiceOfferingID   string
	ServiceOfferingName string
	TemplateID          string
	// Arch is the Kubernetes architecture of the VM (CloudStack 4.20 reports the template's; older servers none,
	// and they only run amd64).
	Arch string
	// NetworkIDs are the VM's networks, default NIC first.
	NetworkIDs []string
	CPU        int
	MemoryMiB  int
	Tags       map[string]string
	Created    time.Time
}

// NewInstance converts an SDK VM.
func NewInstance(vm *csgo.VirtualMachine) *Instance {
	inst := &Instance{
		ID:                  vm.Id,
		Name:                vm.Name,
		DisplayName:         vm.Displayname,
		Group:               vm.Group,
		State:               vm.State,
		ZoneID:              vm.Zoneid,
		ZoneName:            vm.Zonename,
		ServiceOfferingID:   vm.Serviceofferingid,
		ServiceOfferingName: vm.Serviceofferingname,
		TemplateID:          vm.Templateid,
		Arch:                template.Architecture(vm.Arch),
		CPU:                 vm.Cpunumber,
		MemoryMiB:           vm.Memory,
		Tags:                cloudstack.TagMap(vm.Tags),
	}
	for _, nic := range vm.Nic {
		if nic.Isdefault {
			inst.NetworkIDs = append([]string{nic.Networkid}, inst.NetworkIDs...)
		} else {
			inst.NetworkIDs = append(inst.NetworkIDs, nic.Networkid)
		}
	}
	if t, err := time.Parse(cloudstack.TimeLayout, vm.Created); err == nil {
		inst.Created = t
	}
	return inst
}

// isGone reports the states in which a VM no longer backs a node: Karpenter must treat it as not found.
func isGone(state string) bool {
	switch {
	case strings.EqualFold(state, StateError), strings.EqualFold(state, StateDestroyed),
		strings.EqualFold(state, StateExpunging), strings.EqualFold(state, StateExpunged):
		return true
	}
	return false
}

// isDestroyed reports the states after a destroy call, in which nothing is left to delete.
func isDestroyed(state string) bool {
	return strings.EqualFold(state, StateDestroyed) || strings.EqualFold(state, StateExpunging) || strings.EqualFold(state, StateExpunged)
}
