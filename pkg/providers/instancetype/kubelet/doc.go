// Package kubelet is the one source of truth for what a node's kubelet reserves: the instance type provider predicts
// allocatable from it and the bootstrap renders the same numbers into the kubelet flags of the userData, defaults
// included, so the node Karpenter launches reports exactly the allocatable Karpenter assumed. docs/capacity.md
// explains the formulas with worked examples.
package kubelet
