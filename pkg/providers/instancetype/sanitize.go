package instancetype

import "strings"

// maxLabelValueLength is the Kubernetes limit on label values.
const maxLabelValueLength = 63

// SanitizeName turns a service offering name into the node.kubernetes.io/instance-type value the CloudStack
// cloud-controller-manager writes for the same VM, so that both agree when that CCM runs next to Karpenter. It follows
// sanitizeLabel in apache/cloudstack-kubernetes-provider cloudstack/util.go (used by InstanceMetadata in
// cloudstack/cloudstack_instances.go): every character outside [-A-Za-z0-9_.] becomes '_', leading and trailing
// '-', '_' and '.' are trimmed, and the result is cut to 63 bytes and trimmed again. Case is preserved.
func SanitizeName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if isLabelChar(r) {
			b.WriteRune(r)
		} else {
			// One '_' per rune, not per byte, as the CCM maps runes.
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "-_.")
	if len(out) > maxLabelValueLength {
		out = strings.Trim(out[:maxLabelValueLength], "-_.")
	}
	return out
}

func isLabelChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}
