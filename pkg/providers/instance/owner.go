package instance

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// Owner is the identity of one cluster's VMs.
//
// A CloudStack cloud is shared, and two clusters may carry the same name in one account, so the cluster name alone
// proves nothing. A VM belongs to this cluster when, listed with the key's own account scope (never listall, so no
// other account's or project's VM is ever considered), it either carries the tag TagKeyClusterID with this cluster's
// ID, or is in the instance group Group(), which deploy sets atomically with the VM and which also names the ID, so
// ownership survives a failed tagging call. The cluster ID is the UID of the cluster's kube-system namespace: unique
// per cluster and stable for its lifetime.
type Owner struct {
	ClusterName string
	ClusterID   string
}

// Group is the instance group of the cluster's VMs.
func (o Owner) Group() string { return GroupPrefix(o.ClusterName) + "-" + o.ClusterID }

// GroupPrefix is what the instance group of every cluster of that name starts with; it proves nothing alone.
func GroupPrefix(clusterName string) string { return "karpenter-" + clusterName }

// Owns reports whether a VM of the key's own account, with these tags and instance group, is this cluster's.
func (o Owner) Owns(tags map[string]string, group string) bool {
	return o.ClusterID != "" && (tags[v1.TagKeyClusterID] == o.ClusterID || group == o.Group())
}

// Tags are the ownership tags every VM of the cluster carries.
func (o Owner) Tags() map[string]string {
	return map[string]string{v1.TagKeyCluster: o.ClusterName, v1.TagKeyClusterID: o.ClusterID}
}

// hostnameRE is CloudStack's rule for VM names, which become hostnames: ASCII letters, digits and '-', 1-63
// characters, neither starting with a digit or '-' nor ending with '-'.
var hostnameRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// hostnameHashLen is how many hex digits of the NodeClaim name's SHA-256 a mapped hostname ends with.
const hostnameHashLen = 8

// Hostname is the VM name of a NodeClaim. A NodeClaim name that already is a valid hostname is used as is; any other
// (NodePool names are DNS subdomains: dots, a leading digit, up to 253 characters) is mapped to letters, digits and
// '-', prefixed with "n" when it does not start with a letter, cut to fit, and suffixed with a hash of the full name,
// so distinct NodeClaims never share a hostname. The mapping is deterministic: a repeated Create, a restarted
// controller and the garbage collector all find the VM again by it.
func Hostname(nodeClaimName string) string {
	if hostnameRE.MatchString(nodeClaimName) {
		return nodeClaimName
	}
	var b strings.Builder
	for _, r := range strings.ToLower(nodeClaimName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	base := b.String()
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "n" + base
	}
	sum := sha256.Sum256([]byte(nodeClaimName))
	suffix := "-" + hex.EncodeToString(sum[:])[:hostnameHashLen]
	if max := 63 - len(suffix); len(base) > max {
		base = base[:max]
	}
	return strings.TrimRight(base, "-") + suffix
}
