package v1

import (
	"encoding/json"
	"maps"
	"strings"
)

// reservedTagPrefixes are the tag key prefixes spec.tags may not use (the CEL rules on spec.tags say the same): the
// provider's ownership and identity tags live there.
var reservedTagPrefixes = []string{"karpenter.sh/", "karpenter.k8s.cloudstack/", "kubernetes.io/cluster/"}

// IsReservedTagKey reports a key of a reserved domain, compared as CloudStack compares keys (trimmed, any case).
func IsReservedTagKey(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	for _, p := range reservedTagPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// TagsRecord is the AnnotationTags value that records tags as applied to a VM.
func TagsRecord(tags map[string]string) string {
	if tags == nil {
		tags = map[string]string{}
	}
	b, _ := json.Marshal(tags) // a map of strings always marshals; keys come out sorted
	return string(b)
}

// ParseTagsRecord reads an AnnotationTags value; ok is false when the NodeClaim has none or it is not valid.
func ParseTagsRecord(annotations map[string]string) (tags map[string]string, ok bool) {
	s, found := annotations[AnnotationTags]
	if !found {
		return nil, false
	}
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, false
	}
	return tags, true
}

// TagsEqual compares spec.tags maps, nil and empty alike.
func TagsEqual(a, b map[string]string) bool { return len(a) == len(b) && maps.Equal(a, b) }
