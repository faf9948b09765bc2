package nodeclass

import (
	"context"
	"fmt"
	"strings"

	"github.com/awslabs/operatorpkg/status"
	"github.com/samber/lo"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
)

// Reasons of TemplatesReady=False.
const (
	ReasonTemplateNotFound = "TemplateNotFound"
	// ReasonRootDiskSmallerThanTemplate is a spec.rootDiskSize below a resolved template's size: CloudStack refuses
	// every deploy ("rootdisksize override ... is smaller than template size").
	ReasonRootDiskSmallerThanTemplate = "RootDiskSmallerThanTemplate"
)

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
	if msg := rootDiskTooSmall(nodeClass, resolved); msg != "" {
		conds.SetFalse(v1.ConditionTypeTemplatesReady, ReasonRootDiskSmallerThanTemplate, msg)
		return nil
	}
	conds.SetTrue(v1.ConditionTypeTemplatesReady)
	return nil
}

// rootDiskTooSmall is the management server's validateRootDiskResize, made before any launch: the rootdisksize
// Create will send, shifted to bytes, must not be below the template's size.
func rootDiskTooSmall(nodeClass *v1.CloudStackNodeClass, resolved []v1.Template) string {
	gib, ok := nodeClass.RootDiskSizeGiB()
	if !ok {
		return ""
	}
	var largest *v1.Template
	var small []string
	for i := range resolved {
		if size := templateBytes(resolved[i]); gib<<30 < size {
			small = append(small, fmt.Sprintf("%q (%d GiB)", resolved[i].Name, gibCeil(size)))
			if largest == nil || size > templateBytes(*largest) {
				largest = &resolved[i]
			}
		}
	}
	if largest == nil {
		return ""
	}
	return fmt.Sprintf("spec.rootDiskSize (%s, sent as %d GiB) is smaller than template(s) %s; CloudStack refuses to deploy "+
		"a root disk smaller than its template: set spec.rootDiskSize to at least %dGi, or remove it to use the template's size",
		nodeClass.Spec.RootDiskSize.String(), gib, strings.Join(lo.Uniq(small), ", "), gibCeil(templateBytes(*largest)))
}

func gibCeil(bytes int64) int64 { return (bytes + 1<<30 - 1) >> 30 }

// templateBytes is the template's size in bytes, 0 when CloudStack reported none.
func templateBytes(t v1.Template) int64 {
	if t.Size == nil {
		return 0
	}
	return t.Size.Value()
}
