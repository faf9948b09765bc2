// Package operator builds the CloudStack provider on top of Karpenter core's operator: the CloudStack client, the
// caches and the providers, shared by the CloudProvider and the provider's own controllers.
package operator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/samber/lo"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	coreoperator "sigs.k8s.io/karpenter/pkg/operator"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/affinitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/diskoffering"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instancetype"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/network"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/project"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/securitygroup"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/sshkeypair"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/template"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/zone"
)

// Operator is Karpenter core's operator plus everything the CloudStack provider shares between its parts.
type Operator struct {
	*coreoperator.Operator

	// Options are the provider's options with ClusterID set.
	Options               *options.Options
	CloudStack            cloudstack.API
	UnavailableOfferings  *cache.UnavailableOfferings
	ZoneProvider          zone.Provider
	NetworkProvider       network.Provider
	TemplateProvider      template.Provider
	AffinityGroupProvider affinitygroup.Provider
	SSHKeyPairProvider    sshkeypair.Provider
	SecurityGroupProvider securitygroup.Provider
	DiskOfferingProvider  diskoffering.Provider
	ProjectProvider       project.Provider
	InstanceTypeProvider  instancetype.Provider
	InstanceProvider      instance.Provider

	// Reachability probes CloudStack on every replica into the karpenter_cloudstack_api_reachable gauge and the log
	// (set by Build); it is not a readiness check.
	Reachability manager.Runnable
	// CredentialsReloader applies keys rotated in the mounted credentials Secret; nil when the keys come from flags
	// or the environment (set by Build).
	CredentialsReloader manager.Runnable
}

// NewOperator builds the CloudStack client and the providers from the provider's options, and starts probing
// CloudStack's reachability (a metric and log lines, not readiness). The options were validated when Karpenter
// core parsed them (coreoperator.NewOperator ends the process on invalid options, with a message that names the
// flag and the fix).
func NewOperator(ctx context.Context, op *coreoperator.Operator) (context.Context, *Operator) {
	opts := options.FromContext(ctx)
	for _, w := range opts.Warnings() {
		log.FromContext(ctx).Info("WARNING: " + w)
	}
	o, err := Build(ctx, op, opts, op.KubernetesInterface.CoreV1(), crmetrics.Registry)
	if err != nil {
		log.FromContext(ctx).Error(err, "failed building the CloudStack provider")
		os.Exit(1)
	}
	// Reported, not a readiness check: see reachability.
	lo.Must0(op.Add(o.Reachability))
	if o.CredentialsReloader != nil {
		lo.Must0(op.Add(o.CredentialsReloader))
	}
	log.FromContext(ctx).Info("identified the cluster", "cluster-name", o.Options.ClusterName, "cluster-id", o.Options.ClusterID)
	return ctx, o
}

// BuildOption changes how Build builds the provider.
type BuildOption func(*cloudstack.Options)

// WithClientOptions changes the CloudStack client's settings that are not the operator's options (job polling,
// retries): tests shorten them against the simulator. The binary never passes it.
func WithClientOptions(f func(*cloudstack.Options)) BuildOption { return BuildOption(f) }

// Build is NewOperator without the process around it: it returns errors instead of ending the process and leaves
// registering Reachability and CredentialsReloader to the caller. namespaces reads the kube-system namespace, whose UID
// becomes Options.ClusterID; registerer receives the client's metrics.
func Build(ctx context.Context, op *coreoperator.Operator, opts *options.Options, namespaces corev1client.NamespacesGetter,
	registerer prometheus.Registerer, buildOpts ...BuildOption) (*Operator, error) {
	clientOpts := opts.ClientOptions()
	clientOpts.Registerer = registerer
	for _, f := range buildOpts {
		f(&clientOpts)
	}
	api, err := cloudstack.New(clientOpts)
	if err != nil {
		return nil, fmt.Errorf("building the CloudStack client, %w", err)
	}
	withID := *opts
	if withID.ClusterID, err = clusterID(ctx, namespaces); err != nil {
		return nil, fmt.Errorf("identifying the cluster, %w", err)
	}
	o := New(op, api, &withID)
	o.Reachability = newReachability(api.Probe)
	if r := newCredentialsReloader(opts, api); r != nil {
		o.CredentialsReloader = r
	}
	return o, nil
}

// clusterID is the UID of the kube-system namespace: unique per cluster and stable for its lifetime, it tells this
// cluster's VMs from those of another cluster that shares the name and the CloudStack account.
// The API server creates kube-system shortly after it starts, so a controller started with a new cluster may have to
// wait for it.
func clusterID(ctx context.Context, namespaces corev1client.NamespacesGetter) (string, error) {
	var id string
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, time.Second, clusterIDTimeout, true, func(ctx context.Context) (bool, error) {
		ns, err := namespaces.Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
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
		Options:               opts,
		CloudStack:            api,
		UnavailableOfferings:  unavailable,
		ZoneProvider:          zone.NewDefaultProvider(api, cache.New("zones", opts.ZonesCacheTTL, cache.CleanupInterval)),
		NetworkProvider:       network.NewDefaultProvider(api, cache.New("networks", opts.NetworksCacheTTL, cache.CleanupInterval)),
		TemplateProvider:      template.NewDefaultProvider(api, cache.New("templates", opts.TemplatesCacheTTL, cache.CleanupInterval)),
		AffinityGroupProvider: affinitygroup.NewDefaultProvider(api, cache.New("affinitygroups", cache.AffinityGroupsTTL, cache.CleanupInterval)),
		SSHKeyPairProvider:    sshkeypair.NewDefaultProvider(api, cache.New("sshkeypairs", cache.SSHKeyPairsTTL, cache.CleanupInterval)),
		SecurityGroupProvider: securitygroup.NewDefaultProvider(api, cache.New("securitygroups", cache.SecurityGroupsTTL, cache.CleanupInterval)),
		DiskOfferingProvider:  diskoffering.NewDefaultProvider(api, cache.New("diskofferings", cache.DiskOfferingsTTL, cache.CleanupInterval)),
		ProjectProvider:       project.NewDefaultProvider(api, cache.New("project", cache.ProjectTTL, cache.CleanupInterval)),
		InstanceTypeProvider:  instanceTypes,
		InstanceProvider: instance.NewDefaultProvider(api, unavailable, instance.Owner{ClusterName: opts.ClusterName, ClusterID: opts.ClusterID},
			instance.WithServiceOfferings(instanceTypes),
			instance.WithCapabilitiesCache(cache.New(instance.CapabilitiesCacheName, cache.CapabilitiesTTL, cache.CleanupInterval))),
	}
}
