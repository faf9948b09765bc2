package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// CCMProviderIDPrefix is the providerID scheme of the CloudStack cloud-controller-manager
// (apache/cloudstack-kubernetes-provider: ProviderName "external-cloudstack", providerID "<name>://<vm-uuid>").
const CCMProviderIDPrefix = "external-cloudstack://"

// ccmLabelInvalidChars is the CCM's own rule for turning a service offering name into a label value: it strips
// these characters (cloudstack_instances.go, labelInvalidCharsRegex).
var ccmLabelInvalidChars = regexp.MustCompile(`([^A-Za-z0-9][^-A-Za-z0-9_.]*)?[^A-Za-z0-9]`)

// EnableCCM turns the simulated CloudStack cloud-controller-manager on or off, as installing or removing the CCM
// in a cluster would.
func (a *Agent) EnableCCM(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ccm = on
}

// CCMEnabled reports whether the simulated CCM runs.
func (a *Agent) CCMEnabled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ccm
}

// initializeNodes does what the CloudStack CCM's cloud-node controller does to a node that registered with the
// uninitialized taint (kubelet --cloud-provider=external): find the VM by the node's name (the CCM calls
// listVirtualMachines name=<node name>; the node name must be the VM's name), set the providerID if the kubelet set
// none, add the instance type, zone and region labels and the addresses, and remove the taint. A node whose VM
// cannot be found stays uninitialized, as with the real CCM.
func (a *Agent) initializeNodes(ctx context.Context, nodes map[string]*corev1.Node, vms []simulator.VM) error {
	var errs []error
	for _, node := range nodes {
		if !hasTaint(node, TaintUninitialized) {
			continue
		}
		var found []simulator.VM
		for _, vm := range vms {
			if vm.Name == node.Name && !gone[vm.State] {
				found = append(found, vm)
			}
		}
		if len(found) != 1 {
			a.log.Warn("ccm: cannot initialize node: no single VM has its name", "node", node.Name, "vms", len(found))
			continue
		}
		vm := found[0]
		patch := client.MergeFrom(node.DeepCopy())
		node = node.DeepCopy()
		if node.Spec.ProviderID == "" {
			node.Spec.ProviderID = CCMProviderIDPrefix + vm.ID
		}
		offering := ccmLabelInvalidChars.ReplaceAllString(vm.ServiceOfferingName, "")
		for k, v := range map[string]string{
			corev1.LabelInstanceTypeStable: offering, corev1.LabelInstanceType: offering,
			corev1.LabelTopologyZone: vm.ZoneName, corev1.LabelFailureDomainBetaZone: vm.ZoneName,
			corev1.LabelTopologyRegion: vm.ZoneName, corev1.LabelFailureDomainBetaRegion: vm.ZoneName,
		} {
			node.Labels[k] = v
		}
		var keep []corev1.Taint
		for _, t := range node.Spec.Taints {
			if !t.MatchTaint(&TaintUninitialized) {
				keep = append(keep, t)
			}
		}
		node.Spec.Taints = keep
		if err := a.kube.Patch(ctx, node, patch); err != nil {
			errs = append(errs, fmt.Errorf("ccm: initializing node %s, %w", node.Name, err))
			continue
		}
		// The rest of the pass works on the initialized node, so its taint patches do not bring the taint back.
		nodes[node.Name] = node
		a.log.Info("ccm: initialized node", "node", node.Name, "provider-id", node.Spec.ProviderID)
	}
	return errors.Join(errs...)
}

func hasTaint(node *corev1.Node, taint corev1.Taint) bool {
	for i := range node.Spec.Taints {
		if node.Spec.Taints[i].MatchTaint(&taint) {
			return true
		}
	}
	return false
}
