// Package operator builds the CloudStack provider on top of Karpenter core's operator: the CloudStack client, the
// caches and the providers, shared by the CloudProvider and the provider's own controllers.
package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	coreoperator "sigs.k8s.io/karpenter/pkg/operator"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// Operator is Karpenter core's operator plus everything the CloudStack provider shares between its parts.
type Operator struct {
	*coreoperator.Operator

	CloudStack            cloudstack.API
	UnavailableOfferings  *cache.UnavailableOfferings
	ZoneProvider          zone.Provider
	NetworkProvider       network.Provider
	TemplateProvider      template.Provider
	AffinityGroupProvider affinitygroup.Provider
	SSHKeyPairProvider    sshkeypair.Provider
	InstanceTypeProvider  instancetype.Provider
	InstanceProvider      instance.Provider
}

// NewOperator builds the CloudStack client and the providers from the provider's options, and starts probing
// CloudStack's reachability (a metric and log lines, not readiness: see reachability). The options were validated
// when Karpenter core parsed them (coreoperator.NewOperator ends the process on invalid options, with a message that
// names the flag and the fix).
func NewOperator(ctx context.Context, op *coreoperator.Operator) (context.Context, *Operator) {
	opts := options.FromContext(ctx)
	for _, w := range opts.Warnings() {
		log.FromContext(ctx).Info("WARNING: " + w)
	}
	clientOpts := opts.ClientOptions()
	clientOpts.Registerer = crmetrics.Registry
	api, err := cloudstack.New(clientOpts)
	if err != nil {
		log.FromContext(ctx).Error(err, "failed building the CloudStack client")
		os.Exit(1)
	}
	// Reported, not a readiness check: see reachability.
	lo.Must0(op.Add(newReachability(api.Probe)))
	if r := newCredentialsReloader(opts, api); r != nil {
		lo.Must0(op.Add(r))
	}
	withID := *opts
	if withID.ClusterID, err = clusterID(ctx, op.KubernetesInterface); err != nil {
		log.FromContext(ctx).Error(err, "failed identifying the cluster")
		os.Exit(1)
	}
	log.FromContext(ctx).Info("identified the cluster", "cluster-name", withID.ClusterName, "cluster-id", withID.ClusterID)
	return ctx, New(op, api, &withID)
}

// clusterID is the UID of the kube-system namespace: unique per cluster and stable for its lifetime, it tells this
// cluster's VMs from those of another cluster that shares the name and the CloudStack account.
// The API server creates kube-system shortly after it starts, so a controller started with a new cluster may have to
// wait for it.
func clusterID(ctx context.Context, kube kubernetes.Interface) (string, error) {
	var id string
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, time.Second, clusterIDTimeout, true, func(ctx context.Context) (bool, error) {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
		if err != nil {
			lastErr = err
			return false, nil
		}
		id = string(ns.UID)
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("reading the kube-system namespace, whose UID identifies this cluster's VMs (the controller needs get on namespaces), %w",
			errors.Join(err, lastErr))
	}
	return id, nil
}

// clusterIDTimeout bounds the wait for the kube-system namespace at startup.
const clusterIDTimeout = time.Minute

// New wires the providers around a CloudStack client; tests use it with a client of the simulator.
func New(op *coreoperator.Operator, api cloudstack.API, opts *options.Options) *Operator {
	if opts.ClusterID == "" {
		// Without it no VM could be proven this cluster's: List would be empty and core would collect every NodeClaim.
		panic("operator.New needs options.ClusterID, the UID of the kube-system namespace")
	}
	unavailable := cache.NewUnavailableOfferingsWithTTL(opts.UnavailableOfferingsTTL, cache.UnavailableOfferingsCleanupInterval)
	instanceTypes := instancetype.NewDefaultProvider(api, unavailable, opts.OfferingPrices,
		instancetype.WithCaches(
			cache.New(instancetype.CatalogCacheName, opts.ServiceOfferingsCacheTTL, cache.CleanupInterval),
			cache.New(instancetype.InstanceTypesCacheName, opts.InstanceTypesCacheTTL, cache.CleanupInterval)),
		instancetype.WithVMMemoryOverheadPercent(opts.VMMemoryOverheadPercent))
	return &Operator{
		Operator:              op,
		CloudStack:            api,
		UnavailableOfferings:  unavailable,
		ZoneProvider:          zone.NewDefaultProvider(api, cache.New("zones", opts.ZonesCacheTTL, cache.CleanupInterval)),
		NetworkProvider:       network.NewDefaultProvider(api, cache.New("networks", opts.NetworksCacheTTL, cache.CleanupInterval)),
		TemplateProvider:      template.NewDefaultProvider(api, cache.New("templates", opts.TemplatesCacheTTL, cache.CleanupInterval)),
		AffinityGroupProvider: affinitygroup.NewDefaultProvider(api, cache.New("affinitygroups", cache.AffinityGroupsTTL, cache.CleanupInterval)),
		SSHKeyPairProvider:    sshkeypair.NewDefaultProvider(api, cache.New("sshkeypairs", cache.SSHKeyPairsTTL, cache.CleanupInterval)),
		InstanceTypeProvider:  instanceTypes,
		InstanceProvider: instance.NewDefaultProvider(api, unavailable, instance.Owner{ClusterName: opts.ClusterName, ClusterID: opts.ClusterID},
			instance.WithServiceOfferings(instanceTypes),
			instance.WithCapabilitiesCache(cache.New(instance.CapabilitiesCacheName, cache.CapabilitiesTTL, cache.CleanupInterval))),
	}
}
