// Package chart holds the tests of the Helm chart in charts/karpenter-cloudstack: it is linted and rendered with
// the helm binary the project installs (.tools/helm, see hack/install-helm.sh), every rendered manifest and every
// file under examples/ is server-side applied to a real kube-apiserver, and the chart's RBAC is proven
// least-privilege by acting as the chart's ServiceAccount through impersonation.
package chart
