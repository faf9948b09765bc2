package selector

import (
	"sort"
	"strings"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// Matches reports whether a resource with the given id, name and tags satisfies one selector term: every field
// set in the term must match. IDs are UUIDs and compared case-insensitively because CloudStack accepts either case;
// names are compared exactly, since CloudStack's own name filters changed from substring to exact match across
// releases and we must not depend on either. An empty term matches nothing, so that a malformed term never
// selects every resource.
func Matches(term v1.SelectorTerm, id, name string, tags map[string]string) bool {
	if term.ID == "" && term.Name == "" && len(term.Tags) == 0 {
		return false
	}
	if term.ID != "" && !strings.EqualFold(term.ID, id) {
		return false
	}
	if term.Name != "" && term.Name != name {
		return false
	}
	for k, want := range term.Tags {
		if got, ok := tags[k]; !ok || got != want {
			return false
		}
	}
	return true
}

// MatchesAny reports whether the resource satisfies at least one of the terms (terms are OR-ed).
func MatchesAny(terms []v1.SelectorTerm, id, name string, tags map[string]string) bool {
	return FirstMatch(terms, id, name, tags) >= 0
}

// FirstMatch returns the index of the first term the resource satisfies, or -1. Providers that order their
// results by term (the first network of the first matching term is the default NIC) sort by this index.
func FirstMatch(terms []v1.SelectorTerm, id, name string, tags map[string]string) int {
	for i := range terms {
		if Matches(terms[i], id, name, tags) {
			return i
		}
	}
	return -1
}

// NeedsTags reports whether any term selects by tags, so callers can skip the listTags call when none does.
func NeedsTags(terms []v1.SelectorTerm) bool {
	for i := range terms {
		if len(terms[i].Tags) > 0 {
			return true
		}
	}
	return false
}

// Select returns the items that match any term, ordered by the first term they match and then by name: the order
// of the terms is the user's order of preference (the first network becomes the default NIC). attrs gives an item's
// id, name and tags.
func Select[T any](items []T, terms []v1.SelectorTerm, attrs func(T) (id, name string, tags map[string]string)) []T {
	type match struct {
		item T
		name string
		term int
	}
	var matches []match
	for _, item := range items {
		id, name, tags := attrs(item)
		if i := FirstMatch(terms, id, name, tags); i >= 0 {
			matches = append(matches, match{item: item, name: name, term: i})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool {
		if matches[i].term != matches[j].term {
			return matches[i].term < matches[j].term
		}
		return matches[i].name < matches[j].name
	})
	out := make([]T, len(matches))
	for i := range matches {
		out[i] = matches[i].item
	}
	return out
}
