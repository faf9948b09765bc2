package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// The README's NodeClass snippet is the single-zone example, abridged: every field it shows has the example's value,
// so names a reader copies from the README match the example (and the demo's catalog).
var _ = Describe("The README's NodeClass snippet", func() {
	It("shows the single-zone example's values", func() {
		readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
		Expect(err).NotTo(HaveOccurred())
		blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
		var snippet string
		for _, b := range blocks {
			if strings.Contains(b[1], "kind: CloudStackNodeClass") {
				snippet = b[1]
			}
		}
		Expect(snippet).NotTo(BeEmpty(), "README.md has no CloudStackNodeClass yaml block")
		// The abridged userData ("...") is not YAML-valid text of the example; compare everything else.
		snippet = regexp.MustCompile(`(?m)^    \.\.\..*$`).ReplaceAllString(snippet, "")
		fromReadme := &v1.CloudStackNodeClass{}
		Expect(yaml.UnmarshalStrict([]byte(snippet), fromReadme)).To(Succeed())
		raw, err := os.ReadFile(filepath.Join(repoRoot, "examples", "nodeclass-single-zone.yaml"))
		Expect(err).NotTo(HaveOccurred())
		example := &v1.CloudStackNodeClass{}
		Expect(yaml.UnmarshalStrict(raw, example)).To(Succeed())

		Expect(fromReadme.Name).To(Equal(example.Name))
		Expect(fromReadme.Spec.UserData).NotTo(BeNil())
		Expect(example.Spec.UserData).NotTo(BeNil())
		Expect(*example.Spec.UserData).To(HavePrefix(strings.TrimSpace(*fromReadme.Spec.UserData)))
		// Fields the README leaves out keep the example's values.
		fromReadme.Spec.UserData, example.Spec.UserData = nil, nil
		if fromReadme.Spec.SSHKeyPair == nil {
			example.Spec.SSHKeyPair = nil
		}
		if fromReadme.Spec.Kubelet != nil && example.Spec.Kubelet != nil {
			if fromReadme.Spec.Kubelet.SystemReserved == nil {
				example.Spec.Kubelet.SystemReserved = nil
			}
			if fromReadme.Spec.Kubelet.EvictionHard == nil {
				example.Spec.Kubelet.EvictionHard = nil
			}
		}
		Expect(fromReadme.Spec).To(Equal(example.Spec))
	})
})
