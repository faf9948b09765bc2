package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// generatedRegion is the text between a generated region's begin marker (up to its "-->") and its end marker in a
// file of the repository, trimmed.
func generatedRegion(file, begin, end string) string {
	GinkgoHelper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, file))
	Expect(err).NotTo(HaveOccurred())
	_, rest, found := strings.Cut(string(doc), begin)
	Expect(found).To(BeTrue(), "%s lost its generated region %q", file, begin)
	_, region, _ := strings.Cut(rest, "-->")
	region, _, found = strings.Cut(region, end)
	Expect(found).To(BeTrue(), "%s lost the end of its generated region %q", file, begin)
	return strings.TrimSpace(region)
}

var _ = Describe("INSTALLATION.md", func() {
	It("documents exactly the API role the code needs (cloudstack.RequiredCommands)", func() {
		cmd := exec.Command("go", "run", "./hack/docgen", "-role")
		cmd.Dir = repoRoot
		want, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred())
		region := generatedRegion("INSTALLATION.md", "<!-- BEGIN GENERATED role", "<!-- END GENERATED role -->")
		Expect(region).To(Equal(strings.TrimSpace(string(want))), "INSTALLATION.md's API role is stale: run make generate")
	})

	It("queries only metrics the provider registers", func() {
		cmd := exec.Command("go", "run", "./hack/docgen")
		cmd.Dir = repoRoot
		generated, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred())
		doc, err := os.ReadFile(filepath.Join(repoRoot, "INSTALLATION.md"))
		Expect(err).NotTo(HaveOccurred())
		names := regexp.MustCompile(`karpenter_cloudstack_[a-z_]+`).FindAllString(string(doc), -1)
		Expect(names).NotTo(BeEmpty())
		for _, n := range names {
			Expect(string(generated)).To(ContainSubstring("`"+n+"`"), "INSTALLATION.md uses %s, which the provider does not register", n)
		}
	})
})

var _ = Describe("docs/reference.md", func() {
	It("lists every variable the chart sets whatever the values", func() {
		doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "reference.md"))
		Expect(err).NotTo(HaveOccurred())
		before, _, found := strings.Cut(string(doc), "<!-- BEGIN GENERATED")
		Expect(found).To(BeTrue())
		_, always, found := strings.Cut(before, "These exceptions the chart\nalways sets")
		Expect(found).To(BeTrue(), "docs/reference.md lost its list of the variables the chart always sets")
		d := deployment(render(defaultRelease), defaultFullname)
		var names []string
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			names = append(names, e.Name)
		}
		Expect(names).NotTo(BeEmpty())
		for _, n := range names {
			Expect(always).To(ContainSubstring("`"+n+"`"), "docs/reference.md must say the chart always sets %s", n)
		}
	})
})
