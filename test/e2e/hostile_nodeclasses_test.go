package e2e_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/samber/lo"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclass"
)

// chartMemoryLimit is the chart's default resources.limits.memory (1Gi).
const chartMemoryLimit = 1 << 30

// controllerProcess reads the controller's own process metrics (controller-runtime registers Prometheus' process
// collector): its resident memory and its start time, which changes when it restarts.
func controllerProcess() (rss, started float64, err error) {
	port := ""
	for _, kv := range env.ControllerEnv() {
		if v, ok := strings.CutPrefix(kv, "METRICS_PORT="); ok {
			port = v
		}
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:" + port + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		switch fields[0] {
		case "process_resident_memory_bytes":
			rss, err = strconv.ParseFloat(fields[1], 64)
		case "process_start_time_seconds":
			started, err = strconv.ParseFloat(fields[1], 64)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if rss == 0 || started == 0 {
		return 0, 0, fmt.Errorf("no process metrics on :%s", port)
	}
	return rss, started, sc.Err()
}

// hostile returns NodeClasses that once took the controller down or never became Ready=False, each with the
// dependent condition and reason it must report.
func hostile() map[*v1.CloudStackNodeClass][2]string {
	withUserData := func(name, userData string) *v1.CloudStackNodeClass {
		nc := nodeClass(name, []string{"zone-a"}, "k8s.small")
		nc.Spec.UserData = lo.ToPtr(userData)
		return nc
	}
	var defines strings.Builder
	defines.WriteString(`{{ define "l0" }}0123456789abcdef{{ end }}`)
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&defines, `{{ define "l%d" }}{{ template "l%d" }}{{ template "l%d" }}{{ end }}`, i, i-1, i-1)
	}
	defines.WriteString(`{{ template "l60" }}`)

	longTags := nodeClass("hostile-long-tags", []string{"zone-a"}, "k8s.small")
	longTags.Spec.ServiceOfferingSelectorTerms = make([]v1.SelectorTerm, 30)
	for i := range longTags.Spec.ServiceOfferingSelectorTerms {
		tags := map[string]string{}
		for j := 0; j < 20; j++ {
			tags[fmt.Sprintf("%02d-%02d-%s", i, j, strings.Repeat("k", 249))] = strings.Repeat("v", 255)
		}
		longTags.Spec.ServiceOfferingSelectorTerms[i].Tags = tags
	}
	smallDisk := nodeClass("hostile-small-root-disk", []string{"zone-a"}, "k8s.small")
	smallDisk.Spec.RootDiskSize = lo.ToPtr(resource.MustParse("10Gi")) // the template is 20 GiB
	reserved := nodeClass("hostile-reservations", []string{"zone-a"}, "k8s.small", "k8s.medium")
	reserved.Spec.Kubelet = &v1.KubeletConfiguration{KubeReserved: map[string]string{"cpu": "6", "memory": "12Gi"}}

	return map[*v1.CloudStackNodeClass][2]string{
		withUserData("hostile-print-loop", `{{ $s := printf "%1000s" "x" }}{{ $n := 1000000000000 }}{{ range $n }}{{ $s }}{{ end }}`): {
			v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataRenderLimitExceeded},
		withUserData("hostile-huge-range", `{{ $n := 1000000000000 }}{{ range $n }}{{ end }}`): {
			v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataRenderLimitExceeded},
		withUserData("hostile-doubling", `{{ $x := "0123456789abcdef" }}`+strings.Repeat(`{{ $x = printf "%s%s" $x $x }}`, 60)): {
			v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataRenderLimitExceeded},
		withUserData("hostile-defines", defines.String()): {v1.ConditionTypeUserDataReady, nodeclass.ReasonUserDataTemplateInvalid},
		longTags:  {v1.ConditionTypeServiceOfferingsReady, nodeclass.ReasonServiceOfferingsNotFound},
		smallDisk: {v1.ConditionTypeTemplatesReady, nodeclass.ReasonRootDiskSmallerThanTemplate},
		reserved:  {v1.ConditionTypeServiceOfferingsReady, nodeclass.ReasonKubeletReservationsExceedOfferings},
	}
}

var _ = Describe("Careless and hostile NodeClasses", func() {
	It("are reported on their NodeClass while the controller stays up, small, and keeps reconciling good ones", func() {
		_, started, err := controllerProcess()
		Expect(err).NotTo(HaveOccurred())

		// Sample the controller's memory and start time for the whole scenario.
		var mu sync.Mutex
		var maxRSS float64
		var sampleErrs []string
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(sampled)
			for {
				rss, s, err := controllerProcess()
				mu.Lock()
				switch {
				case err != nil:
					sampleErrs = append(sampleErrs, err.Error())
				case s != started:
					sampleErrs = append(sampleErrs, fmt.Sprintf("the controller restarted (start time %v, was %v)", s, started))
				default:
					maxRSS = max(maxRSS, rss)
				}
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()

		bad := hostile()
		var objs []client.Object
		for nc := range bad {
			objs = append(objs, nc)
		}
		// A NodePool and a pending pod on the looping template: launches must never render it.
		looping := lo.Keys(lo.PickBy(bad, func(nc *v1.CloudStackNodeClass, _ [2]string) bool { return nc.Name == "hostile-print-loop" }))[0]
		np := nodePool("hostile", looping.Name)
		dep := deployment("hostile", np.Name, 1, "1")
		create(objs...)
		create(np, dep)
		all := append([]client.Object{dep, np}, objs...)
		DeferCleanup(func() { cleanup(all...) })

		for nc, want := range bad {
			Eventually(func(g Gomega) {
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(nc), nc)).To(Succeed())
				cond := nc.StatusConditions().Get(want[0])
				g.Expect(cond).NotTo(BeNil(), "%s has no %s", nc.Name, want[0])
				g.Expect(cond.Status).To(Equal(metav1.ConditionFalse), "%s: %s", nc.Name, want[0])
				g.Expect(cond.Reason).To(Equal(want[1]), "%s: %s", nc.Name, cond.Message)
				g.Expect(len(cond.Message)).To(BeNumerically("<=", 4096))
				g.Expect(readyCondition(g, nc).Status).To(Equal(metav1.ConditionFalse))
			}).WithTimeout(time.Minute).Should(Succeed())
		}

		// A good NodeClass created while the bad ones requeue becomes Ready promptly.
		good := nodeClass("good-next-to-hostile", []string{"zone-a"}, "k8s.small")
		start := time.Now()
		create(good)
		DeferCleanup(cleanup, good)
		Eventually(func(g Gomega) {
			ready := readyCondition(g, good)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
		}).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
		AddReportEntry("good NodeClass Ready after", elapsed(start))

		// The pending pod on the looping template: the provisioner ran for it and skipped the NodePool (a positive
		// proof, not a quiet window), and nothing was launched or rendered.
		expectNodePoolSkipped(np)
		Expect(nodeClaimsOf(np.Name)).To(BeEmpty())
		Expect(clusterVMs()).To(BeEmpty())

		close(stop)
		<-sampled
		mu.Lock()
		defer mu.Unlock()
		AddReportEntry("controller peak RSS", fmt.Sprintf("%.0f MiB", maxRSS/(1<<20)))
		Expect(sampleErrs).To(BeEmpty(), "the controller must stay up and never restart")
		Expect(maxRSS).To(BeNumerically(">", 0))
		Expect(maxRSS).To(BeNumerically("<", chartMemoryLimit), "the controller's memory must stay under the chart's limit")
	})
})
