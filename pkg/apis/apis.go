// Package apis holds the API group of the CloudStack provider and its generated CRDs, embedded so
// that tests, the chart and the controller all install exactly the same schema.
package apis

import (
	_ "embed"

	"github.com/awslabs/operatorpkg/object"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// Group is the API group of every resource this provider defines.
const Group = "karpenter.k8s.cloudstack"

//go:generate go tool controller-gen crd object:headerFile="../../hack/boilerplate.go.txt" paths="./..." output:crd:artifacts:config=crds

var (
	//go:embed crds/karpenter.k8s.cloudstack_cloudstacknodeclasses.yaml
	CloudStackNodeClassCRD []byte
	// CRDs are the provider's CustomResourceDefinitions.
	CRDs = []*apiextensionsv1.CustomResourceDefinition{
		object.Unmarshal[apiextensionsv1.CustomResourceDefinition](CloudStackNodeClassCRD),
	}
)
