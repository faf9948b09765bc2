package v1

import (
	"fmt"

	"github.com/mitchellh/hashstructure/v2"
	"github.com/samber/lo"
)

// NodeClassHashVersion changes whenever the hash function or the hashed fields change, so that a provider
// upgrade does not mark every node as drifted: NodeClaims whose hash version differs are not compared, and the
// hash controller re-stamps those that have not drifted with the new hash.
//
// v2: spec.tags left the hash; they are updated on running VMs in place (docs/VERSIONING.md).
const NodeClassHashVersion = "v2"

// Hash returns the hash of the fields of the spec that, when changed, make existing nodes drift. Selector
// terms are not hashed: their resolved results are compared instead (dynamic drift). Tags are not hashed either:
// the tagging controller updates them on running VMs.
func (in *CloudStackNodeClass) Hash() string {
	return fmt.Sprint(lo.Must(hashstructure.Hash(hashedSpec{
		UserData: lo.FromPtr(in.Spec.UserData),
		// gzip is the default: spelling it out must not make nodes drift.
		UserDataEncoding: string(lo.Ternary(in.Spec.UserDataEncoding == UserDataEncodingGzip, "", in.Spec.UserDataEncoding)),
		SSHKeyPair:       lo.FromPtr(in.Spec.SSHKeyPair),
		RootDiskSize:     rootDiskSizeString(in),
		Kubelet:          hashedKubeletOf(in.Spec.Kubelet),
	}, hashstructure.FormatV2, &hashstructure.HashOptions{SlicesAsSets: true, IgnoreZeroValue: true, ZeroNil: true})))
}

// hashedSpec holds the drift-relevant fields in a normal form: the apiserver drops empty maps and strings
// (omitempty), so a NodeClass read back from it must hash like the object that was written.
type hashedSpec struct {
	UserData         string
	UserDataEncoding string
	SSHKeyPair       string
	RootDiskSize     string
	Kubelet          hashedKubelet
}

type hashedKubelet struct {
	MaxPods        *int32
	KubeReserved   map[string]string
	SystemReserved map[string]string
	EvictionHard   map[string]string
}

func hashedKubeletOf(k *KubeletConfiguration) hashedKubelet {
	if k == nil {
		return hashedKubelet{}
	}
	return hashedKubelet{
		MaxPods:        k.MaxPods,
		KubeReserved:   nilIfEmpty(k.KubeReserved),
		SystemReserved: nilIfEmpty(k.SystemReserved),
		EvictionHard:   nilIfEmpty(k.EvictionHard),
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// rootDiskSizeString uses the canonical form, so 40Gi and 40960Mi hash alike.
func rootDiskSizeString(in *CloudStackNodeClass) string {
	if in.Spec.RootDiskSize == nil {
		return ""
	}
	return in.Spec.RootDiskSize.String()
}
