// Package image tests the controller's container image as shipped: hack/image.sh builds it with buildah from the
// binary `make build` produces; the suite checks its configuration and contents (user 65532, entrypoint, labels, CA
// certificates, no shell), then mounts its filesystem and runs the controller from it (chroot as 65532:65532) against
// the local environment (test/pkg/environment) until it launches a node, and checks that every metric the Grafana
// dashboard (charts/karpenter-cloudstack/dashboards) queries is served on /metrics.
//
// Containers cannot be started on the machines this runs on (no cgroup or rlimit permissions), hence chroot; it needs
// root and buildah (apt-get install buildah; .ci/run installs it). Without them the suite is skipped, except under
// CI=true, where it fails.
package image
