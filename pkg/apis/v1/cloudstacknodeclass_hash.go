package v1

import (
	"fmt"

	"github.com/mitchellh/hashstructure/v2"
	"github.com/samber/lo"
)

// NodeClassHashVersion changes whenever the hash function or the hashed fields change, so that a provider
// upgrade does not mark every node as drifted: NodeClaims whose hash version differs are not compared.
const NodeClassHashVersion = "v1"

// Hash returns the hash of the fields of the spec that, when changed, make existing nodes drift. Selector
// terms are not hashed: their resolved results are compared instead (dynamic drift).
func (in *CloudStackNodeClass) Hash() string {
	return fmt.Sprint(lo.Must(hashstructure.Hash(struct {
		UserData     *string
		Tags         map[string]string
		SSHKeyPair   *string
		RootDiskSize string
		Kubelet      *KubeletConfiguration
	}{
		UserData:     in.Spec.UserData,
		Tags:         in.Spec.Tags,
		SSHKeyPair:   in.Spec.SSHKeyPair,
		RootDiskSize: rootDiskSizeString(in),
		Kubelet:      in.Spec.Kubelet,
	}, hashstructure.FormatV2, &hashstructure.HashOptions{SlicesAsSets: true, IgnoreZeroValue: true, ZeroNil: true})))
}

func rootDiskSizeString(in *CloudStackNodeClass) string {
	if in.Spec.RootDiskSize == nil {
		return ""
	}
	return in.Spec.RootDiskSize.String()
}
