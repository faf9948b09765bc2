package image_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

var _ = Describe("The controller run from the image", Ordered, func() {
	It("runs as 65532 inside the image's filesystem", func() {
		pids := processesRootedAt(mountPoint)
		Expect(pids).To(HaveLen(1), "one controller process chrooted into the image")
		status, err := os.ReadFile(filepath.Join("/proc", pids[0], "status"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(status)).To(MatchRegexp(`(?m)^Uid:\s+65532\s+65532\s+65532\s+65532$`))
		Expect(string(status)).To(MatchRegexp(`(?m)^Gid:\s+65532\s+65532\s+65532\s+65532$`))
	})

	It("launches a node for a pending pod, and terminates it again", func() {
		for _, f := range []string{"join-secret.yaml", "nodeclass-single-zone.yaml", "nodepool.yaml", "workload.yaml"} {
			objs, err := environment.ReadManifests(filepath.Join(repoRoot, "examples", f))
			Expect(err).NotTo(HaveOccurred())
			for _, o := range objs {
				Expect(env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("image-test"), client.ForceOwnership)).To(Succeed())
			}
		}
		scale(1)

		var claim karpv1.NodeClaim
		Eventually(func(g Gomega) {
			claims := &karpv1.NodeClaimList{}
			g.Expect(env.Client.List(ctx, claims)).To(Succeed())
			g.Expect(claims.Items).To(HaveLen(1))
			claim = claims.Items[0]
			g.Expect(claim.StatusConditions().Get(karpv1.ConditionTypeRegistered).IsTrue()).To(BeTrue(), "NodeClaim %s registered", claim.Name)
			pods := &corev1.PodList{}
			g.Expect(env.Client.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": "inflate"})).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(1))
			g.Expect(pods.Items[0].Spec.NodeName).To(Equal(claim.Status.NodeName))
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		vms, err := env.ClusterVMs(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(vms).To(HaveLen(1))
		Expect(claim.Status.ProviderID).To(HaveSuffix(vms[0].ID))

		// Scaling to zero and deleting the NodeClaim: the controller drains and destroys the VM.
		scale(0)
		Expect(env.Client.Delete(ctx, &claim)).To(Succeed())
		Eventually(func(g Gomega) {
			claims := &karpv1.NodeClaimList{}
			g.Expect(env.Client.List(ctx, claims)).To(Succeed())
			g.Expect(claims.Items).To(BeEmpty())
			vms, err := env.ClusterVMs(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(vms).To(BeEmpty())
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
	})

	It("serves every metric the Grafana dashboard queries", func() {
		queried := dashboardMetrics(filepath.Join(repoRoot, "charts", "karpenter-cloudstack", "dashboards", "karpenter-cloudstack.json"))
		Expect(queried).To(ContainElements("karpenter_cloudstack_api_requests_total", "karpenter_cloudprovider_duration_seconds_bucket"))
		served := scrape()
		var missing []string
		for _, m := range queried {
			if !served[m] {
				missing = append(missing, m)
			}
		}
		Expect(missing).To(BeEmpty(), "the dashboard queries metrics the controller does not serve")
	})
})

// scale sets the example Deployment's replicas (a merge patch: the Deployment controller updates it meanwhile).
func scale(replicas int32) {
	dep := &appsv1.Deployment{}
	ExpectWithOffset(1, env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inflate"}, dep)).To(Succeed())
	patch := client.MergeFrom(dep.DeepCopy())
	dep.Spec.Replicas = &replicas
	ExpectWithOffset(1, env.Client.Patch(ctx, dep, patch)).To(Succeed())
}

// processesRootedAt lists the processes whose root directory is dir.
func processesRootedAt(dir string) []string {
	entries, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	var pids []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if root, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && root == dir {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// metricName matches the metric names in a PromQL expression (functions and label names do not start with karpenter_).
var metricName = regexp.MustCompile(`\bkarpenter_[a-zA-Z0-9_:]+`)

// dashboardMetrics returns every metric name the dashboard's panels query.
func dashboardMetrics(path string) []string {
	raw, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	Expect(json.Unmarshal(raw, &dash)).To(Succeed())
	seen := map[string]bool{}
	var names []string
	for _, p := range dash.Panels {
		for _, t := range p.Targets {
			Expect(metricName.FindAllString(t.Expr, -1)).NotTo(BeEmpty(), "query %q names no karpenter metric", t.Expr)
			for _, n := range metricName.FindAllString(t.Expr, -1) {
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
	}
	return names
}

// scrape returns the sample names on the controller's /metrics (histograms as their _bucket, _sum and _count).
func scrape() map[string]bool {
	var port string
	for _, kv := range env.ControllerEnv() {
		if v, ok := strings.CutPrefix(kv, "METRICS_PORT="); ok {
			port = v
		}
	}
	Expect(port).NotTo(BeEmpty())
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/metrics", port))
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	served := map[string]bool{}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		served[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
	}
	Expect(scanner.Err()).NotTo(HaveOccurred())
	return served
}
