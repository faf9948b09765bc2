package operator

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

// namespaces serves the kube-system namespace (nil: none, as before the API server created it); the operator reads
// nothing else from Kubernetes.
type namespaces struct{ kubeSystem *corev1.Namespace }

func (n namespaces) Namespaces() corev1client.NamespaceInterface {
	return namespaceGet{kubeSystem: n.kubeSystem}
}

// namespaceGet implements only Get; the embedded nil interface panics on anything else the operator must not call.
type namespaceGet struct {
	corev1client.NamespaceInterface
	kubeSystem *corev1.Namespace
}

func (n namespaceGet) Get(_ context.Context, name string, _ metav1.GetOptions) (*corev1.Namespace, error) {
	if n.kubeSystem == nil || name != metav1.NamespaceSystem {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	}
	return n.kubeSystem, nil
}

var _ = Describe("Build", func() {
	const clusterUID = "3f2c9d1e-5b8a-4c7d-9e6f-0a1b2c3d4e5f"
	var (
		sim        *simulator.Server
		opts       *options.Options
		kubeSystem namespaces
	)

	BeforeEach(func() {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).ToNot(HaveOccurred())
		sim, err = simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).ToNot(HaveOccurred())
		DeferCleanup(sim.Close)
		// What a deployment that sets only the required settings runs with.
		opts = options.Defaults()
		opts.APIURL, opts.APIKey, opts.SecretKey, opts.ClusterName = sim.URL(), sim.APIKey(), sim.SecretKey(), "prod"
		kubeSystem = namespaces{kubeSystem: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceSystem, UID: types.UID(clusterUID)}}}
	})

	It("builds every part over one client and identifies the cluster by the kube-system namespace", func(ctx context.Context) {
		registry := prometheus.NewRegistry()
		o, err := Build(ctx, nil, opts, kubeSystem, registry)
		Expect(err).ToNot(HaveOccurred())
		Expect(o.Options.ClusterID).To(Equal(clusterUID))
		Expect(opts.ClusterID).To(BeEmpty(), "the caller's options are not changed")

		// Every part is built: a provider added to Operator but not wired fails here.
		v := reflect.ValueOf(o).Elem()
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Name == "Operator" || f.Name == "CredentialsReloader" {
				continue // core's operator is the caller's; the reloader is only built for a credentials dir
			}
			Expect(v.Field(i).IsNil()).To(BeFalse(), "Operator.%s is not built", f.Name)
		}

		// The providers reach CloudStack through the client, whose metrics go to the registerer.
		zones, err := o.ZoneProvider.List(ctx)
		Expect(err).ToNot(HaveOccurred())
		Expect(zones).ToNot(BeEmpty())
		offerings, err := o.InstanceTypeProvider.ResolveServiceOfferings(ctx, []v1.SelectorTerm{{Name: "small"}}, []string{zones[0].Id})
		Expect(err).ToNot(HaveOccurred())
		Expect(offerings).To(ConsistOf(HaveField("Name", "small")))
		families, err := registry.Gather()
		Expect(err).ToNot(HaveOccurred())
		Expect(families).ToNot(BeEmpty())

		Expect(o.InstanceProvider.Tags(&v1.CloudStackNodeClass{}, &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})).
			To(HaveKeyWithValue(v1.TagKeyClusterID, clusterUID), "VMs are owned by this cluster's ID")
	})

	It("fails, naming the permission, while kube-system cannot be read", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := Build(ctx, nil, opts, namespaces{}, prometheus.NewRegistry())
		Expect(err).To(MatchError(ContainSubstring("identifying the cluster")))
		Expect(err).To(MatchError(ContainSubstring("get on namespaces")))
	})

	It("reloads the credentials only when they come from the credentials dir", func(ctx context.Context) {
		o, err := Build(ctx, nil, opts, kubeSystem, prometheus.NewRegistry())
		Expect(err).ToNot(HaveOccurred())
		Expect(o.CredentialsReloader).To(BeNil())

		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, options.CredentialsFileAPIKey), []byte(opts.APIKey), 0o400)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, options.CredentialsFileSecretKey), []byte(opts.SecretKey), 0o400)).To(Succeed())
		opts.CredentialsDir = dir
		o, err = Build(ctx, nil, opts, kubeSystem, prometheus.NewRegistry())
		Expect(err).ToNot(HaveOccurred())
		Expect(o.CredentialsReloader).ToNot(BeNil())
	})
})
