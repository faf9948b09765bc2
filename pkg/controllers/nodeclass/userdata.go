package nodeclass

import (
	"context"
	"errors"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
)

// Reasons of UserDataReady.
const (
	ReasonNotConfigured           = "NotConfigured"
	ReasonUserDataTemplateInvalid = "UserDataTemplateInvalid"
	ReasonUserDataTooLarge        = "UserDataTooLarge"
	// ReasonUserDataRenderLimitExceeded is a template whose rendering exceeds one of pkg/bootstrap's bounds
	// (rendered size, function output, loop steps or render time); the message names the bound.
	ReasonUserDataRenderLimitExceeded = "UserDataRenderLimitExceeded"
)

type userData struct{}

// reconcile renders spec.userData for a placeholder NodeClaim: a template error or an oversized result would
// otherwise only surface as a failed launch per NodeClaim, long after the NodeClass was applied.
func (*userData) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if nodeClass.Spec.UserData == nil {
		conds.SetTrueWithReason(v1.ConditionTypeUserDataReady, ReasonNotConfigured, "spec.userData is not set; VMs boot with no user data")
		return nil
	}
	opts := options.FromContext(ctx)
	_, err := bootstrap.Generate(nodeClass, bootstrap.PlaceholderValues(opts.ClusterName, nodeClass), opts.UserDataMaxLength)
	var sizeErr *bootstrap.SizeError
	var limitErr *bootstrap.LimitError
	switch {
	case errors.As(err, &limitErr):
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataRenderLimitExceeded, err.Error())
	case errors.As(err, &sizeErr):
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataTooLarge, err.Error())
	case err != nil:
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataTemplateInvalid, err.Error())
	default:
		conds.SetTrue(v1.ConditionTypeUserDataReady)
	}
	return nil
}
