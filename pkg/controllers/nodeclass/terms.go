package nodeclass

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/selector"
)

// resolveEveryTerm resolves terms for a dependency the user names one by one (affinity groups, security groups,
// disk offerings), where every term must match: it returns what all terms select, and, when some term matches
// nothing, the unmatched terms rendered for a condition message ("[1] (name=\"x\")") and no resolution.
func resolveEveryTerm[T any](ctx context.Context, terms []v1.SelectorTerm, resolve func(context.Context, []v1.SelectorTerm) ([]T, error)) ([]T, string, error) {
	missing, err := selector.Unmatched(ctx, terms, resolve)
	if err != nil {
		return nil, "", err
	}
	if len(missing) > 0 {
		parts := make([]string, 0, len(missing))
		for _, i := range missing {
			parts = append(parts, fmt.Sprintf("[%d] (%s)", i, describeTerm(terms[i])))
		}
		return nil, strings.Join(parts, ", "), nil
	}
	resolved, err := resolve(ctx, terms)
	if err != nil {
		return nil, "", err
	}
	return resolved, "", nil
}

// describeTerms renders selector terms for condition messages, so a message names what the user asked for.
func describeTerms(terms []v1.SelectorTerm) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		parts = append(parts, "("+describeTerm(t)+")")
	}
	return strings.Join(parts, " or ")
}

func describeTerm(t v1.SelectorTerm) string {
	var parts []string
	if t.ID != "" {
		parts = append(parts, fmt.Sprintf("id=%q", t.ID))
	}
	if t.Name != "" {
		parts = append(parts, fmt.Sprintf("name=%q", t.Name))
	}
	if len(t.Tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags=%v", t.Tags))
	}
	return strings.Join(parts, " ")
}
