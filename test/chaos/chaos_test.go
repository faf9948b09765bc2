package chaos_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/chaos"
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Chaos")
}

// One spec: the small run by default (inside `make test`), the run under `make chaos` (CHAOS=large). It
// asserts properties only — nothing leaked, no NodeClaim with two VMs that ran, none left half-launched, every pod
// bound, nothing deleted because CloudStack was down, every kill followed by a restart — never how long anything took.
var _ = It("keeps every property through faults, kills and an outage", func() {
	ctrllog.SetLogger(GinkgoLogr)
	cfg, err := chaos.FromEnv()
	Expect(err).NotTo(HaveOccurred())
	log := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	report, err := chaos.Run(context.Background(), cfg, log)
	Expect(err).NotTo(HaveOccurred())
	md := report.Markdown()
	AddReportEntry("chaos report", md)
	GinkgoWriter.Println(md)
	if path := os.Getenv("CHAOS_REPORT"); path != "" {
		Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteString(md + "\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
	}
	Expect(report.Failures).To(BeEmpty())
	Expect(report.Leaked).To(BeEmpty())
	Expect(report.Duplicates).To(BeEmpty())
	Expect(report.Stuck).To(BeEmpty())
	Expect(report.Kills).To(HaveLen(report.Restarts))
	Expect(report.Kills).NotTo(BeEmpty())
	if cfg.Outage > 0 {
		Expect(report.Outage).NotTo(BeNil())
		Expect(report.Outage.NodeClaimsDeleted).To(BeEmpty())
	}
})
