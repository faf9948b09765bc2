// Package chaos runs the chaos harness (test/pkg/chaos): the small version inside `make test`, the large one with
// `make chaos` (CHAOS=large).
package chaos
