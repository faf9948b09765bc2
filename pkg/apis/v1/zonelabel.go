package v1

import "strings"

// ZoneLabelValue is the topology.kubernetes.io/zone value of a CloudStack zone name, exactly as the CloudStack
// cloud-controller-manager (apache/cloudstack-kubernetes-provider, sanitizeLabel) writes it, so the CCM never rewrites
// the label under Karpenter: every character other than ASCII letters, digits, '-', '_' and '.' becomes '_', leading
// and trailing '-', '_' and '.' are trimmed, and the result is cut to 63 characters and trimmed again. CloudStack
// allows zone names such as "Zone 1 (Paris)" (label "Zone_1__Paris"), which are no valid label value as they are.
func ZoneLabelValue(zoneName string) string {
	value := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, zoneName)
	value = strings.Trim(value, "-_.")
	if len(value) > 63 {
		value = strings.Trim(value[:63], "-_.")
	}
	return value
}
