// Package cloudprovider implements Karpenter core's CloudProvider for Apache CloudStack: NodeClaims become VMs,
// service offerings become instance types, and VMs that no longer match their NodeClass are reported as drifted.
package cloudprovider
