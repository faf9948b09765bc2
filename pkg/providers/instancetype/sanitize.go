package instancetype

import "strings"

// maxLabelValueLength is the Kubernetes limit on label values.
const maxLabelValueLength = 63

// SanitizeName turns a CloudStack name (offering, host tag, storage type, GPU) into a valid label value: every
// character outside [-A-Za-z0-9_.] becomes '_', leading and trailing '-', '_' and '.' are trimmed, and the result is
// cut to 63 bytes and trimmed again. Case is preserved. Note that the CloudStack cloud-controller-manager (v1.2.0,
// InstanceType) labels node.kubernetes.io/instance-type differently: it drops every character that is not an ASCII
// letter or digit ("k8s.small" becomes "k8ssmall"), so with that CCM the label agrees only for offerings named with
// letters and digits alone (INSTALLATION.md says so).
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
