// Package template resolves the template VMs of a zone boot from, among executable and ready templates, from
// templateSelectorTerms: the newest match wins, and its CloudStack architecture becomes the Kubernetes one.
package template
