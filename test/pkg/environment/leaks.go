package environment

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/samber/lo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/karpenter/pkg/cloudprovider"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis"
	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
)

// LaunchLeak launches a VM exactly as the controller launches one (the provider's own instance provider, with the
// controller's account), for a NodeClaim that never reaches the API server: the VM a NodeClaim leaves behind when
// it is deleted while its launch is in flight. clusterName says whose ownership the VM carries: this cluster's
// (a leak its garbage collector must destroy) or another cluster's sharing the account (which it must never touch).
// The VM gets no bootstrap userData, so no node joins from it. It returns the VM's ID.
func (e *Environment) LaunchLeak(ctx context.Context, clusterName string, nodeClass *v1.CloudStackNodeClass, offering, nodeClaimName string) (string, error) {
	api, err := e.cloudStackAPI()
	if err != nil {
		return "", err
	}
	clusterID, err := e.clusterIDOf(ctx, clusterName)
	if err != nil {
		return "", err
	}
	opts := &options.Options{ClusterName: clusterName, ClusterID: clusterID, ZonesCacheTTL: time.Minute, NetworksCacheTTL: time.Minute, TemplatesCacheTTL: time.Minute,
		ServiceOfferingsCacheTTL: time.Minute, InstanceTypesCacheTTL: time.Minute, UnavailableOfferingsTTL: time.Minute}
	op := operator.New(nil, api, opts)
	ctx = options.ToContext(ctx, opts)
	its, err := op.InstanceTypeProvider.List(ctx, nodeClass)
	if err != nil {
		return "", fmt.Errorf("listing the instance types of NodeClass %s, %w", nodeClass.Name, err)
	}
	its = lo.Filter(its, func(it *cloudprovider.InstanceType, _ int) bool { return it.Name == offering })
	if len(its) == 0 {
		return "", fmt.Errorf("NodeClass %s offers no instance type %q", nodeClass.Name, offering)
	}
	nodeClaim := &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: nodeClaimName, Labels: map[string]string{karpv1.NodePoolLabelKey: "leaked"}, CreationTimestamp: metav1.Now()},
		Spec: karpv1.NodeClaimSpec{
			NodeClassRef: &karpv1.NodeClassReference{Group: apis.Group, Kind: v1.NodeClassKind, Name: nodeClass.Name},
			Requirements: []karpv1.NodeSelectorRequirementWithMinValues{{Key: corev1.LabelInstanceTypeStable, Operator: corev1.NodeSelectorOpIn, Values: []string{offering}}},
		},
	}
	inst, err := op.InstanceProvider.Create(ctx, nodeClass, nodeClaim, its, instance.StaticUserData(""))
	if err != nil {
		return "", fmt.Errorf("launching a VM for NodeClaim %s of cluster %s, %w", nodeClaimName, clusterName, err)
	}
	return inst.ID, nil
}

// DestroyVM destroys (and expunges) a VM of cluster clusterName through the controller's account, for a spec's own
// cleanup.
func (e *Environment) DestroyVM(ctx context.Context, clusterName, id string) error {
	api, err := e.cloudStackAPI()
	if err != nil {
		return err
	}
	clusterID, err := e.clusterIDOf(ctx, clusterName)
	if err != nil {
		return err
	}
	op := operator.New(nil, api, &options.Options{ClusterName: clusterName, ClusterID: clusterID, UnavailableOfferingsTTL: time.Minute})
	if err := op.InstanceProvider.Delete(ctx, id); err != nil && !cloudprovider.IsNodeClaimNotFoundError(err) {
		return fmt.Errorf("destroying VM %s, %w", id, err)
	}
	return nil
}

// clusterIDOf is the ID that proves a VM belongs to the named cluster: for this cluster the UID of its kube-system
// namespace, as the controller reads it; for any other a fixed ID derived from its name, as another cluster sharing
// the account would have its own.
func (e *Environment) clusterIDOf(ctx context.Context, clusterName string) (string, error) {
	if clusterName != e.ClusterName {
		sum := sha256.Sum256([]byte(clusterName))
		return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16]), nil
	}
	ns := &corev1.Namespace{}
	if err := e.Client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", fmt.Errorf("reading the kube-system namespace, whose UID is the cluster ID, %w", err)
	}
	return string(ns.UID), nil
}

// cloudStackAPI is a client of the simulator with the controller's account.
func (e *Environment) cloudStackAPI() (*cloudstack.Client, error) {
	api, err := cloudstack.New(cloudstack.Options{APIURL: e.SimulatorURL, APIKey: e.apiKey, SecretKey: e.secretKey, VerifySSL: true,
		JobPollInterval: 100 * time.Millisecond, JobPollMaxInterval: time.Second})
	if err != nil {
		return nil, fmt.Errorf("building a CloudStack client for the controller's account, %w", err)
	}
	return api, nil
}
