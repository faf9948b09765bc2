// Package architecture_test checks that the packages import each other in the layer order docs/ARCHITECTURE.md
// states, so the document and the code cannot drift apart.
package architecture_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const module = "github.com/cloudstack/karpenter-provider-cloudstack/"

func TestArchitecture(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Architecture")
}

var root = filepath.Join("..", "..")

// layers reads the "Imports run one way:" line of docs/ARCHITECTURE.md: layers separated by →, each a list of
// backquoted package paths below pkg/ (cmd for cmd/), `x/*` standing for x and everything below it. It returns a
// rank per path prefix, lowest layer first.
func layers() map[string]int {
	GinkgoHelper()
	f, err := os.Open(filepath.Join(root, "docs", "ARCHITECTURE.md"))
	Expect(err).ToNot(HaveOccurred())
	defer f.Close()
	scanner := bufio.NewScanner(f)
	var line string
	for scanner.Scan() {
		if strings.HasPrefix(scanner.Text(), "Imports run one way:") {
			line = scanner.Text()
			// The sentence may wrap: layers continue until the full stop.
			for !strings.Contains(line, ".") && scanner.Scan() {
				line += " " + scanner.Text()
			}
			break
		}
	}
	Expect(line).ToNot(BeEmpty(), "docs/ARCHITECTURE.md has no \"Imports run one way:\" line")
	names := regexp.MustCompile("`([^`]+)`")
	ranks := map[string]int{}
	for rank, layer := range strings.Split(strings.TrimPrefix(line, "Imports run one way:"), "→") {
		for _, m := range names.FindAllStringSubmatch(layer, -1) {
			name := strings.TrimSuffix(m[1], "/*")
			if name != "cmd" {
				name = "pkg/" + name
			}
			ranks[name] = rank
		}
	}
	return ranks
}

// rankOf is the rank of the longest layer prefix of path.
func rankOf(ranks map[string]int, path string) (int, string, bool) {
	best := ""
	for prefix := range ranks {
		if (path == prefix || strings.HasPrefix(path, prefix+"/")) && len(prefix) > len(best) {
			best = prefix
		}
	}
	r, ok := ranks[best]
	return r, best, ok
}

var _ = Describe("Layers", func() {
	It("has every package of pkg/ and cmd/ import only its own layer or lower ones, as docs/ARCHITECTURE.md states", func() {
		ranks := layers()
		Expect(len(ranks)).To(BeNumerically(">", 5), "layers parsed from the document: %v", ranks)
		cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./pkg/...", "./cmd/...")
		cmd.Dir = root
		out, err := cmd.Output()
		Expect(err).ToNot(HaveOccurred(), "go list: %s", out)
		var violations []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(l)
			pkg := strings.TrimPrefix(fields[0], module)
			from, layer, ok := rankOf(ranks, pkg)
			if !ok {
				violations = append(violations, pkg+" is in no layer of docs/ARCHITECTURE.md; add it to the \"Imports run one way\" line")
				continue
			}
			for _, imp := range fields[1:] {
				dep, found := strings.CutPrefix(imp, module)
				if !found || !(strings.HasPrefix(dep, "pkg/") || strings.HasPrefix(dep, "cmd/")) {
					continue
				}
				if to, depLayer, ok := rankOf(ranks, dep); ok && to > from {
					violations = append(violations, pkg+" (layer `"+layer+"`) imports "+dep+" of the higher layer `"+depLayer+"`")
				}
			}
		}
		Expect(violations).To(BeEmpty())
	})
})
