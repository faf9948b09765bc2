package nodeagent

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

// Metadata is what CloudStack's metadata service (the virtual router's /latest/meta-data/) tells a VM about itself.
// It is the only thing the agent knows about a VM besides its userData when it registers the node.
type Metadata struct {
	// InstanceID is meta-data/instance-id: the VM's UUID.
	InstanceID string
	// LocalHostname is meta-data/local-hostname: the VM's name, which cloud-init makes the guest's hostname.
	LocalHostname string
}

// MetadataOf is the metadata service's answer for a VM.
func MetadataOf(vm simulator.VM) Metadata {
	return Metadata{InstanceID: vm.ID, LocalHostname: vm.Name}
}

// instanceIDPlaceholders are how boot scripts write "the instance ID read from the metadata service" into a kubelet
// flag: the examples' sed substitution (@INSTANCE_ID@) and a shell variable set from
// `cloud-init query v1.instance_id` (docs/bootstrap.md). The agent fills them in as that script would.
var instanceIDPlaceholders = []string{"@INSTANCE_ID@", "${INSTANCE_ID}", "$INSTANCE_ID"}

// TaintUninitialized is the taint a kubelet started with --cloud-provider=external registers with; the
// cloud-controller-manager removes it once it has initialized the node.
var TaintUninitialized = corev1.Taint{Key: "node.cloudprovider.kubernetes.io/uninitialized", Value: "true", Effect: corev1.TaintEffectNoSchedule}

// Registration is what a kubelet registers its Node with: exactly what its flags in the userData say, completed
// with the VM's metadata. Nothing in it comes from the provider's code.
type Registration struct {
	// Name is --hostname-override, else the VM's hostname, lower-cased as the kubelet does.
	Name string
	// ProviderID is --provider-id with the instance ID filled in; empty without the flag (a CCM may set it later).
	ProviderID string
	// Labels are --node-labels plus the kubelet's own (hostname, os, arch).
	Labels map[string]string
	// Taints are --register-with-taints, plus the uninitialized taint with --cloud-provider=external.
	Taints []corev1.Taint
}

// NewRegistration resolves the kubelet's registration from its flags and the VM's metadata.
func NewRegistration(cfg *KubeletConfig, meta Metadata) (Registration, error) {
	reg := Registration{Name: strings.ToLower(meta.LocalHostname), Labels: map[string]string{}}
	if cfg.HostnameOverride != "" {
		reg.Name = strings.ToLower(cfg.HostnameOverride)
	}
	if reg.Name == "" {
		return Registration{}, fmt.Errorf("no node name: the VM has no hostname and the userData no --hostname-override")
	}
	if cfg.ProviderID != "" {
		reg.ProviderID = cfg.ProviderID
		for _, p := range instanceIDPlaceholders {
			reg.ProviderID = strings.ReplaceAll(reg.ProviderID, p, meta.InstanceID)
		}
		if strings.ContainsAny(reg.ProviderID, "@$") {
			return Registration{}, fmt.Errorf("--provider-id=%s has a placeholder the boot script does not fill in (use @INSTANCE_ID@ or ${INSTANCE_ID})", cfg.ProviderID)
		}
	}
	for k, v := range cfg.Labels {
		reg.Labels[k] = v
	}
	arch := reg.Labels[corev1.LabelArchStable]
	if arch == "" {
		arch = "amd64"
	}
	reg.Labels[corev1.LabelHostname] = reg.Name
	reg.Labels[corev1.LabelOSStable] = "linux"
	reg.Labels[corev1.LabelArchStable] = arch
	reg.Taints = append([]corev1.Taint{}, cfg.Taints...)
	if cfg.CloudProvider == "external" {
		reg.Taints = append(reg.Taints, TaintUninitialized)
	}
	return reg, nil
}
