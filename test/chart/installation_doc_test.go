package chart_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	karpv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// installationSection is the text of the INSTALLATION.md section whose heading line starts with heading, up to the
// next heading of the same or a higher level.
func installationSection(heading string) string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "INSTALLATION.md"))
	Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, heading) {
			continue
		}
		level := len(l) - len(strings.TrimLeft(l, "#"))
		var out []string
		inCode := false
		for _, next := range lines[i+1:] {
			if strings.HasPrefix(strings.TrimSpace(next), "```") {
				inCode = !inCode
			}
			if !inCode && strings.HasPrefix(next, "#") {
				if l := len(next) - len(strings.TrimLeft(next, "#")); l <= level {
					break
				}
			}
			out = append(out, next)
		}
		return strings.Join(out, "\n")
	}
	Fail("INSTALLATION.md has no section " + heading)
	return ""
}

// documentedLine is the command line of a section that starts with prefix.
func documentedLine(section, prefix string) string {
	GinkgoHelper()
	for _, line := range strings.Split(section, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, prefix) {
			return line
		}
	}
	Fail("no command starting with " + prefix + " in the section")
	return ""
}

// What INSTALLATION.md says about operating, upgrading and uninstalling, checked against the code and the chart.
var _ = Describe("INSTALLATION.md", func() {
	It("names every finalizer the controller and core leave behind when helm uninstall ran first", func() {
		section := installationSection("### If `helm uninstall` ran first")
		Expect(section).To(ContainSubstring("`" + karpv1.TerminationFinalizer + "`"))
		Expect(section).To(ContainSubstring("`" + v1.TerminationFinalizer + "`"))
	})

	It("lists every CRD the chart installs, and calls the capacitybuffers CRD shared", func() {
		section := installationSection("### CRDs")
		files, err := filepath.Glob(filepath.Join(repoRoot, "charts", "karpenter-cloudstack", "crds", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		for _, f := range files {
			// The files are <group>_<plural>.yaml; the CRD's name is <plural>.<group>.
			group, plural, ok := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".yaml"), "_")
			Expect(ok).To(BeTrue(), f)
			Expect(section).To(ContainSubstring(plural+"."+group), "INSTALLATION.md's CRDs section does not name %s", f)
		}
		Expect(section).To(MatchRegexp("`capacitybuffers.autoscaling.x-k8s.io` is shared"))
	})

	It("quotes the chart's resource defaults in the sizing guidance", func() {
		raw, err := os.ReadFile(filepath.Join(repoRoot, "charts", "karpenter-cloudstack", "values.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var values struct {
			Resources struct {
				Requests struct{ CPU, Memory string }
				Limits   struct{ Memory string }
			}
		}
		Expect(yaml.Unmarshal(raw, &values)).To(Succeed())
		Expect(installationSection("### Sizing")).To(ContainSubstring(fmt.Sprintf("requests %s CPU and %s memory, limit %s",
			values.Resources.Requests.CPU, values.Resources.Requests.Memory, values.Resources.Limits.Memory)))
	})
})
