// Package v1 contains the v1 API of the CloudStack provider: the CloudStackNodeClass and the labels,
// annotations and tags the provider puts on NodeClaims, Nodes and VMs.
// +k8s:deepcopy-gen=package
// +groupName=karpenter.k8s.cloudstack
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
)

// NodeClassKind is the kind of CloudStackNodeClass, as NodePools reference it.
const NodeClassKind = "CloudStackNodeClass"

// SchemeGroupVersion is the group and version of this API.
var SchemeGroupVersion = schema.GroupVersion{Group: apis.Group, Version: "v1"}

// Karpenter core resolves kinds through client-go's global scheme, so the types are registered there.
func init() {
	metav1.AddToGroupVersion(scheme.Scheme, SchemeGroupVersion)
	scheme.Scheme.AddKnownTypes(SchemeGroupVersion, &CloudStackNodeClass{}, &CloudStackNodeClassList{})
}
