package nodeclass

import (
	"context"
	"fmt"

	"github.com/awslabs/operatorpkg/status"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
)

// ReasonTemplateNotFound is the reason of TemplatesReady=False.
const ReasonTemplateNotFound = "TemplateNotFound"

type templates struct{ provider template.Provider }

// reconcile resolves the templates of each zone, the newest per architecture: templates are zone-scoped copies in
// CloudStack, and a template that is still downloading in one zone must not be used there.
func (t *templates) reconcile(ctx context.Context, nodeClass *v1.CloudStackNodeClass, conds status.ConditionSet) error {
	if len(nodeClass.Status.Zones) == 0 {
		nodeClass.Status.Templates = nil
		awaitingZones(conds, v1.ConditionTypeTemplatesReady, "spec.templateSelectorTerms")
		return nil
	}
	var resolved []v1.Template
	var missing []string
	for _, z := range nodeClass.Status.Zones {
		found, err := t.provider.ResolvePerArchitecture(ctx, z.ID, nodeClass.Spec.TemplateSelectorTerms)
		if err != nil {
			return fmt.Errorf("resolving templates in zone %q, %w", z.Name, err)
		}
		if len(found) == 0 {
			missing = append(missing, z.Name)
			continue
		}
		resolved = append(resolved, found...)
	}
	nodeClass.Status.Templates = resolved
	if len(missing) > 0 {
		conds.SetFalse(v1.ConditionTypeTemplatesReady, ReasonTemplateNotFound,
			fmt.Sprintf("spec.templateSelectorTerms: no executable, ready template matches %s in zone(s) %s", describeTerms(nodeClass.Spec.TemplateSelectorTerms), quoteJoin(missing)))
		return nil
	}
	conds.SetTrue(v1.ConditionTypeTemplatesReady)
	return nil
}
