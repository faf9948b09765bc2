package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
)

// ReasonSSHKeyPairNotFound is the reason of SSHKeyPairReady=False.
const ReasonSSHKeyPairNotFound = "SSHKeyPairNotFound"

type sshKeyPair struct{ provider sshkeypair.Provider }

func (s *sshKeyPair) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if nodeClass.Spec.SSHKeyPair == nil {
		nodeClass.Status.SSHKeyPair = ""
		conds.SetTrueWithReason(v1.ConditionTypeSSHKeyPairReady, ReasonNotConfigured, "spec.sshKeyPair is not set")
		return nil
	}
	name, found, err := s.provider.Get(ctx, *nodeClass.Spec.SSHKeyPair)
	if err != nil {
		return fmt.Errorf("resolving SSH key pair %q, %w", *nodeClass.Spec.SSHKeyPair, err)
	}
	if !found {
		nodeClass.Status.SSHKeyPair = ""
		conds.SetFalse(v1.ConditionTypeSSHKeyPairReady, ReasonSSHKeyPairNotFound,
			fmt.Sprintf("spec.sshKeyPair: no SSH key pair named %q exists in the account", *nodeClass.Spec.SSHKeyPair))
		return nil
	}
	nodeClass.Status.SSHKeyPair = name
	conds.SetTrue(v1.ConditionTypeSSHKeyPairReady)
	return nil
}
