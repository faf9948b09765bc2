package v1

import "strings"

// ZoneLabelValue is the topology.kubernetes.io/zone value of a CloudStack zone name. CloudStack allows zone names
// such as "Zone 1 (Paris)", which are no valid label value as they are, so every character other than ASCII letters,
// digits, '-', '_' and '.' becomes '_', leading and trailing '-', '_' and '.' are trimmed, and the result is cut to
// 63 characters and trimmed again ("Zone_1__Paris"). A valid zone name is kept as it is, which is also what the
// CloudStack cloud-controller-manager (apache/cloudstack-kubernetes-provider v1.2.0, InstanceMetadata) writes: the
// CCM copies the zone name unchanged, so it cannot label a node of a zone whose name is no valid label value at all.
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
