// Package bootstrap renders a CloudStackNodeClass's spec.userData for one NodeClaim.
//
// userData that contains Go template actions ({{ ... }}) is executed as a text/template with the variables of
// Values (cluster name, NodeClaim and NodePool names, labels, taints, kubelet arguments, providerID prefix) and the
// functions of FuncMap; anything else passes through byte for byte. userData whose first line is cloud-init's
// "## template: jinja" header is cloud-init's own template and is never executed here. The result is gzip'ed and
// base64'ed, because that is what deployVirtualMachine takes, and its encoded size is checked against the
// management server's vm.userdata.max.length. docs/bootstrap.md is the user-facing reference of the variables.
//
// Rendering is bounded whatever the template (limits.go): features userData has no use for and that make rendering
// unbounded (define/template/block, call, range over a number) are refused before anything runs, and output size,
// function output and loop steps are counted as the template runs.
//
// The package is pure: no API calls, so the same inputs always give the same bytes. The one use of the clock is a
// wall-clock backstop on rendering time, far above what any template within the other bounds needs.
package bootstrap
