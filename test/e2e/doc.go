// Package e2e holds the end-to-end suite: the real controller binary, configured as the Helm chart configures it,
// against a real control plane (etcd, kube-apiserver, kube-scheduler, kube-controller-manager), the simulated
// CloudStack and simulated nodes (test/pkg/environment). Each scenario starts from an empty cluster and leaves one
// behind, with every VM of the cluster gone.
package e2e
