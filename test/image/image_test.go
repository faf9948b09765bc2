package image_test

import (
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The controller image", func() {
	It("runs as 65532:65532 with the controller as entrypoint and carries the OCI labels", func() {
		cfg := image.OCIv1.Config
		Expect(cfg.User).To(Equal("65532:65532"))
		Expect(cfg.Entrypoint).To(Equal([]string{"/controller"}))
		Expect(cfg.Cmd).To(BeEmpty())
		Expect(image.OCIv1.OS).To(Equal("linux"))
		Expect(cfg.Labels).To(HaveKeyWithValue("org.opencontainers.image.version", "v0.0.0-image-test"))
		Expect(cfg.Labels).To(HaveKeyWithValue("org.opencontainers.image.title", "karpenter-provider-cloudstack"))
		Expect(cfg.Labels).To(HaveKeyWithValue("org.opencontainers.image.source", "https://github.com/cloudstack/karpenter-provider-cloudstack"))
		Expect(cfg.Labels).To(HaveKey("org.opencontainers.image.revision"))
		Expect(cfg.Labels["org.opencontainers.image.revision"]).To(MatchRegexp(`^[0-9a-f]{40}$`))
	})

	It("holds only the static controller, CA certificates and the user's passwd entry: no shell, no other program", func() {
		var files []string
		Expect(filepath.WalkDir(mountPoint, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// The suite's own copies of the kubeconfig and credentials (chrootController) are not part of the image.
			if d.IsDir() && path == filepath.Join(mountPoint, env.WorkDir) {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel(mountPoint, path)
			if !d.IsDir() {
				files = append(files, rel)
			}
			return nil
		})).To(Succeed())
		Expect(files).To(ConsistOf("controller", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt"))

		bin, err := elf.Open(filepath.Join(mountPoint, "controller"))
		Expect(err).NotTo(HaveOccurred())
		defer bin.Close()
		for _, p := range bin.Progs {
			Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "the controller must be static: the image has no dynamic loader")
		}
		certs, err := os.ReadFile(filepath.Join(mountPoint, "etc", "ssl", "certs", "ca-certificates.crt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Count(string(certs), "BEGIN CERTIFICATE")).To(BeNumerically(">", 50), "a full CA bundle")
		passwd, err := os.ReadFile(filepath.Join(mountPoint, "etc", "passwd"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(passwd)).To(ContainSubstring("nonroot:x:65532:65532:"))
		Expect(string(passwd)).NotTo(MatchRegexp(`/bin/(ba|da|a)?sh`))
	})
})
