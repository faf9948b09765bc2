package operator

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/operator/options"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
	"github.com/cloudstack/karpenter-provider-cloudstack/test/catalog"
)

var _ = Describe("Credentials reload", func() {
	var (
		sim *simulator.Server
		dir string
	)

	// writeKeys replaces the files as the kubelet updates a Secret volume: the new files appear together.
	writeKeys := func(key, secret string) {
		GinkgoHelper()
		tmp, err := os.MkdirTemp(filepath.Dir(dir), "data-")
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(tmp, options.CredentialsFileAPIKey), []byte(key+"\n"), 0o400)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(tmp, options.CredentialsFileSecretKey), []byte(secret+"\n"), 0o400)).To(Succeed())
		Expect(os.RemoveAll(dir)).To(Succeed())
		Expect(os.Rename(tmp, dir)).To(Succeed())
	}

	BeforeEach(func() {
		cat, err := simulator.ParseCatalog(catalog.YAML)
		Expect(err).NotTo(HaveOccurred())
		sim, err = simulator.New(cat, simulator.WithJobLatency(0))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(sim.Close)
		dir = filepath.Join(GinkgoT().TempDir(), "credentials")
		Expect(os.Mkdir(dir, 0o700)).To(Succeed())
	})

	client := func(key, secret string) *cloudstack.Client {
		GinkgoHelper()
		c, err := cloudstack.New(cloudstack.Options{APIURL: sim.URL(), APIKey: key, SecretKey: secret, RetryMaxAttempts: 1})
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	It("signs with the rotated key once the mounted files change, without a restart", func(ctx context.Context) {
		// The key in the Secret was revoked (here: a wrong secret); the operator rotates it in the Secret.
		writeKeys(sim.APIKey(), "revoked-secret")
		api := client(sim.APIKey(), "revoked-secret")
		r := newCredentialsReloader(&options.Options{CredentialsDir: dir, APIKey: sim.APIKey(), SecretKey: "revoked-secret"}, api)
		Expect(r).NotTo(BeNil())
		r.interval = 10 * time.Millisecond
		_, err := api.Capabilities(ctx)
		Expect(cserrors.IsUnauthorized(err)).To(BeTrue(), "%v", err)

		runCtx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		go func() { _ = r.Start(runCtx) }()
		writeKeys(sim.APIKey(), sim.SecretKey())
		Eventually(func() error { _, err := api.Capabilities(ctx); return err }).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("keeps the keys that flags or environment variables set, which win over the files", func() {
		writeKeys(sim.APIKey(), sim.SecretKey())
		api := client("flag-key", "flag-secret")
		Expect(newCredentialsReloader(&options.Options{CredentialsDir: dir, APIKey: "flag-key", SecretKey: "flag-secret"}, api)).To(BeNil())
		Expect(newCredentialsReloader(&options.Options{APIKey: "flag-key", SecretKey: "flag-secret"}, api)).To(BeNil())
	})

	It("keeps the current keys when the files are unreadable or empty", func(ctx context.Context) {
		writeKeys(sim.APIKey(), sim.SecretKey())
		api := client(sim.APIKey(), sim.SecretKey())
		r := newCredentialsReloader(&options.Options{CredentialsDir: dir, APIKey: sim.APIKey(), SecretKey: sim.SecretKey()}, api)
		Expect(r).NotTo(BeNil())
		writeKeys(sim.APIKey(), "")
		r.reload(ctx)
		Expect(os.RemoveAll(dir)).To(Succeed())
		r.reload(ctx)
		_, err := api.Capabilities(ctx)
		Expect(err).NotTo(HaveOccurred())
	})
})
