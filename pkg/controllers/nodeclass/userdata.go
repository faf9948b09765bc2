package nodeclass

import (
	"context"
	"errors"
	"strings"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/userdatasecret"
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

type userData struct {
	secrets userdatasecret.Provider
}

// reconcile renders spec.userData for a placeholder NodeClaim: a template error or an oversized result would
// otherwise only surface as a failed launch per NodeClaim, long after the NodeClass was applied. The rendering uses
// the referenced Secret's real values, so a missing key or a value too long for the size limit shows here too; the
// rendered bytes are dropped.
func (u *userData) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if nodeClass.Spec.UserData == nil {
		conds.SetTrueWithReason(v1.ConditionTypeUserDataReady, ReasonNotConfigured, "spec.userData is not set; VMs boot with no user data")
		return nil
	}
	secret, err := u.secrets.Get(ctx, nodeClass)
	var secretErr *userdatasecret.Error
	if errors.As(err, &secretErr) {
		conds.SetFalse(v1.ConditionTypeUserDataReady, secretErr.Reason, secretErr.Error())
		return nil
	}
	if err != nil {
		// The API server did not answer: keep the last verdict rather than flap Ready.
		return err
	}
	opts := options.FromContext(ctx)
	values := bootstrap.PlaceholderValues(opts.ClusterName, nodeClass)
	values.Secret = secret
	_, err = bootstrap.Generate(nodeClass, values, opts.UserDataMaxLength)
	var sizeErr *bootstrap.SizeError
	var limitErr *bootstrap.LimitError
	switch {
	case errors.As(err, &limitErr):
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataRenderLimitExceeded, err.Error())
	case errors.As(err, &sizeErr):
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataTooLarge, err.Error())
	case err != nil:
		msg := err.Error()
		if nodeClass.Spec.UserDataSecretRef == nil && strings.Contains(*nodeClass.Spec.UserData, ".Secret") {
			msg += "; .Secret has no keys without spec.userDataSecretRef"
		}
		conds.SetFalse(v1.ConditionTypeUserDataReady, ReasonUserDataTemplateInvalid, msg)
	default:
		conds.SetTrue(v1.ConditionTypeUserDataReady)
	}
	return nil
}
