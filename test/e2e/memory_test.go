package e2e_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// measureMemoryEnv turns the memory measurement on (make measure-memory): it launches dozens of VMs, which is too much
// for make test.
const measureMemoryEnv = "MEASURE_CONTROLLER_MEMORY"

// The controller's memory as the cluster grows: INSTALLATION.md's sizing guidance quotes these numbers.
var _ = Describe("Controller memory", func() {
	It("is reported at 0, 25 and 50 nodes", func() {
		if os.Getenv(measureMemoryEnv) == "" {
			Skip("a measurement, not a test: make measure-memory runs it")
		}
		// rssKiB is the controller's resident set (VmRSS) and its peak (VmHWM), from /proc.
		rssKiB := func() (rss, hwm int) {
			pid, _, _, err := env.RunningController()
			Expect(err).NotTo(HaveOccurred())
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			Expect(err).NotTo(HaveOccurred())
			for _, l := range strings.Split(string(raw), "\n") {
				f := strings.Fields(l)
				if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
					v, err := strconv.Atoi(f[1])
					Expect(err).NotTo(HaveOccurred())
					if f[0] == "VmRSS:" {
						rss = v
					} else {
						hwm = v
					}
				}
			}
			return rss, hwm
		}
		report := func(nodes int) {
			// The largest RSS over 30 s of reconciles at this size.
			maxRSS := 0
			Consistently(func() bool {
				rss, _ := rssKiB()
				maxRSS = max(maxRSS, rss)
				return true
			}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(BeTrue())
			_, hwm := rssKiB()
			line := fmt.Sprintf("controller memory with %d nodes: RSS %d MiB (peak since start %d MiB)", nodes, maxRSS/1024, hwm/1024)
			AddReportEntry(line)
			fmt.Fprintln(GinkgoWriter, line)
		}
		report(0)
		nc := nodeClass("memory", []string{"zone-a", "zone-b"}, "k8s.tiny")
		np := nodePool("memory", nc.Name)
		dep := deployment("memory", np.Name, 0, "500m", onePerNode("memory"))
		create(nc, np, dep)
		DeferCleanup(cleanup, dep, np, nc)
		for _, n := range []int32{25, 50} {
			scale(dep, n)
			expectPodsRunning(dep, int(n))
			expectInitialized(np.Name, int(n))
			report(int(n))
		}
	})
})
