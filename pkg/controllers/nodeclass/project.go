package nodeclass

import (
	"context"
	"errors"
	"fmt"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/project"
)

// ReasonProjectResolved is the reason of ProjectReady=True with a project configured.
const ReasonProjectResolved = "ProjectResolved"

// errProjectUnusable stops a reconcile after the project step: every later step lists inside the project, and its
// client would refuse each of them with the same error.
var errProjectUnusable = errors.New("the configured project cannot be used")

// projectStep reports the controller's project setting on every NodeClass. It is not a NodeClass field: one
// controller works in one project (see INSTALLATION.md, "Projects"), and a NodeClass is only as usable as it is.
type projectStep struct{ provider project.Provider }

func (s *projectStep) reconcile(ctx context.Context, _ *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if s.provider == nil {
		conds.SetTrueWithReason(v1.ConditionTypeProjectReady, ReasonNotConfigured, projectNotConfigured)
		return nil
	}
	p, err := s.provider.Get(ctx)
	if pe, ok := cserrors.AsProjectError(err); ok {
		conds.SetFalse(v1.ConditionTypeProjectReady, pe.Reason, pe.Message)
		return errProjectUnusable
	}
	if err != nil {
		return fmt.Errorf("resolving the project of %s, %w", cloudstack.ProjectSetting, err)
	}
	if p == nil {
		conds.SetTrueWithReason(v1.ConditionTypeProjectReady, ReasonNotConfigured, projectNotConfigured)
		return nil
	}
	conds.SetTrueWithReason(v1.ConditionTypeProjectReady, ReasonProjectResolved,
		fmt.Sprintf("VMs are launched in project %s (%s) of domain %s", p.Name, p.ID, p.Domain))
	return nil
}

const projectNotConfigured = "--cloudstack-project is not set: VMs are launched in the API key's own account"
