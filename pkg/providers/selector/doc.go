// Package selector holds the one implementation of selector-term matching shared by every provider, so that
// zones, networks, templates, service offerings and affinity groups follow the same Karpenter conventions:
// the fields of one term are AND-ed, a list of terms is OR-ed, and names are compared exactly.
package selector
