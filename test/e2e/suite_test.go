package e2e_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

// The suite's timings: short Karpenter batching and GC windows (set through chart values, as a user would), and
// simulated CloudStack jobs that take a second, so pollers see jobs pending as with a real management server.
var (
	jobLatency    = time.Second
	gcGracePeriod = 20 * time.Second
	chartValues   = environment.ChartValues{
		"settings.batchIdleDuration":              "1s",
		"settings.batchMaxDuration":               "5s",
		"settings.gcGracePeriod":                  gcGracePeriod.String(),
		"settings.cacheTTLs.unavailableOfferings": "30s",
		"settings.logLevel":                       "debug",
		"settings.cloudstack.apiQPS":              "50",
		"settings.cloudstack.apiBurst":            "100",
	}
)

var (
	ctx context.Context
	env *environment.Environment
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "E2E")
}

var _ = BeforeSuite(func() {
	ctrllog.SetLogger(GinkgoLogr)
	ctx = context.Background()
	timeout := 5 * time.Minute
	// E2E_EVENTUALLY_TIMEOUT shortens the waits when running against a deliberately broken provider, where the
	// specs are expected to fail.
	if d, err := time.ParseDuration(os.Getenv("E2E_EVENTUALLY_TIMEOUT")); err == nil {
		timeout = d
	}
	SetDefaultEventuallyTimeout(timeout)
	SetDefaultEventuallyPollingInterval(time.Second)
	var err error
	env, err = environment.Start(ctx, environment.Options{
		ClusterName: "e2e", JobLatency: jobLatency, Values: chartValues,
		KeepWorkDir: os.Getenv("E2E_KEEP_LOGS") != "",
	})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("environment up; logs in %s\n", env.WorkDir)
	Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
})

var _ = AfterSuite(func() {
	if env != nil {
		env.Stop()
	}
})

// On failure, the end of the controller's and the node agent's logs go into the report.
var _ = JustAfterEach(func() {
	if !CurrentSpecReport().Failed() || env == nil {
		return
	}
	for _, component := range []string{"controller", "nodeagent"} {
		data, err := os.ReadFile(env.LogFile(component))
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		AddReportEntry(component+" log (last lines)", strings.Join(lines, "\n"))
	}
})
