package image_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudstack/karpenter-provider-cloudstack/test/pkg/environment"
)

const imageName = "localhost/karpenter-provider-cloudstack:image-test"

var (
	ctx      context.Context
	repoRoot string
	// buildahRoot is the suite's private buildah storage, removed at the end.
	buildahRoot string
	// mountPoint is the image's filesystem, mounted from a working container.
	mountPoint string
	container  string
	env        *environment.Environment
	// image is the image's configuration as buildah reports it.
	image imageInfo
)

func TestImage(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Image")
}

// buildah runs buildah on the suite's storage and returns its stdout.
func buildah(args ...string) string {
	full := append([]string{"--storage-driver", "vfs", "--root", filepath.Join(buildahRoot, "root"), "--runroot", filepath.Join(buildahRoot, "run")}, args...)
	out, err := exec.Command("buildah", full...).Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "buildah %v: %s", args, stderr)
	return strings.TrimSpace(string(out))
}

var _ = BeforeSuite(func() {
	ctrllog.SetLogger(GinkgoLogr)
	ctx = context.Background()
	var missing []string
	if _, err := exec.LookPath("buildah"); err != nil {
		missing = append(missing, "buildah (apt-get install -y buildah)")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (buildah mount and chroot --userspec need it)")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			Fail("the image suite needs " + strings.Join(missing, " and ") + "; .ci/run provides them")
		}
		Skip("the image suite needs " + strings.Join(missing, " and ") + "; skipped outside CI")
	}
	var err error
	repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	buildahRoot, err = os.MkdirTemp("", "image-test-buildah-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if container != "" {
			buildah("umount", container)
			buildah("rm", container)
		}
		// vfs leaves plain directories; unmount anything buildah left mounted before removing them.
		_ = exec.Command("buildah", "--storage-driver", "vfs", "--root", filepath.Join(buildahRoot, "root"),
			"--runroot", filepath.Join(buildahRoot, "run"), "rmi", "--all", "--force").Run()
		Expect(os.RemoveAll(buildahRoot)).To(Succeed())
	})

	By("building the image with hack/image.sh (make build, then buildah bud)")
	began := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "image.sh"))
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "IMAGE="+imageName, "BUILDAH_ROOT="+buildahRoot, "VERSION=v0.0.0-image-test")
	cmd.Stderr = GinkgoWriter
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "hack/image.sh failed; its output is above")
	Expect(strings.TrimSpace(string(out))).To(HaveSuffix(imageName))
	GinkgoWriter.Printf("image built in %s\n", time.Since(began).Round(time.Second))

	Expect(json.Unmarshal([]byte(buildah("inspect", "--type", "image", imageName)), &image)).To(Succeed())

	By("mounting the image's filesystem from a working container")
	container = buildah("from", "--pull-never", imageName)
	mountPoint = buildah("mount", container)

	By("starting the local environment with the controller run from the image as 65532:65532")
	env, err = environment.Start(ctx, environment.Options{
		ClusterName: "image", JobLatency: 500 * time.Millisecond,
		Values:            environment.ChartValues{"settings.batchIdleDuration": "1s", "settings.batchMaxDuration": "3s"},
		ControllerCommand: chrootController,
		KeepWorkDir:       os.Getenv("E2E_KEEP_LOGS") != "",
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop)
})

// chrootController puts what the controller's environment points at (the kubeconfig and the credentials files, under
// workDir) at the same paths inside the image's filesystem, owned by 65532 as a mounted Secret would be, and runs the
// image's entrypoint there as 65532:65532. Loopback is shared, so it reaches the apiserver and the simulator.
func chrootController(workDir string) (string, []string, error) {
	inside := filepath.Join(mountPoint, workDir)
	if err := os.MkdirAll(inside, 0o755); err != nil {
		return "", nil, err
	}
	for _, name := range []string{"kubeconfig", "credentials"} {
		_ = os.RemoveAll(filepath.Join(inside, name))
		for _, cmd := range [][]string{{"cp", "-a", filepath.Join(workDir, name), filepath.Join(inside, name)}, {"chown", "-R", "65532:65532", filepath.Join(inside, name)}} {
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				return "", nil, fmt.Errorf("%v: %w: %s", cmd, err, out)
			}
		}
	}
	// The image's configured entrypoint, so the suite runs what a container runtime would.
	return "chroot", append([]string{"--userspec=65532:65532", mountPoint}, image.OCIv1.Config.Entrypoint...), nil
}

// imageInfo is the part of `buildah inspect --type image` the suite reads.
type imageInfo struct {
	OCIv1 struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Cmd        []string          `json:"Cmd"`
			Env        []string          `json:"Env"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	} `json:"OCIv1"`
}
