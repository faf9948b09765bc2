package simulator_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Checks the management server makes that a careless NodeClass runs into.
var _ = Describe("Server-side checks", func() {
	var e *env
	BeforeEach(func() {
		e = newEnv(nil)
		e.sim.SetJobLatency(0)
	})

	// UserVmManagerImpl.validateRootDiskResize: (rootdisksize << 30) < template size is refused, synchronously.
	DescribeTable("refuses a root disk override smaller than the template (10 GiB)",
		func(viaDetails bool, gib int64, want string) {
			name := fmt.Sprintf("root-%d-%t", gib, viaDetails)
			p := e.deployParams(name, "small")
			if viaDetails {
				p.SetDetails(map[string]string{"rootdisksize": fmt.Sprint(gib)})
			} else {
				p.SetRootdisksize(gib)
			}
			resp, err := e.user.VirtualMachine.DeployVirtualMachine(p)
			if want == "" {
				Expect(err).NotTo(HaveOccurred())
				Expect(waitJob(e.user, resp.JobID).Jobstatus).To(Equal(1))
				return
			}
			Expect(err).To(MatchError(want))
			l, err := e.user.VirtualMachine.ListVirtualMachines(e.user.VirtualMachine.NewListVirtualMachinesParams())
			Expect(err).NotTo(HaveOccurred())
			Expect(names(l)).NotTo(ContainElement(name), "a refused deploy creates no VM")
		},
		Entry("9 GB", false, int64(9),
			"CloudStack API error 431 (CSExceptionErrorCode: 4350): Unsupported: rootdisksize override (9 GB) is smaller than template size 10.00 GB"),
		Entry("1 GB in details", true, int64(1),
			"CloudStack API error 431 (CSExceptionErrorCode: 4350): Unsupported: rootdisksize override (1 GB) is smaller than template size 10.00 GB"),
		Entry("exactly the template size", false, int64(10), ""),
		Entry("larger", true, int64(50), ""),
	)

	// TaggedResourceManagerImpl: keys are one key whatever their case (the unique key of resource_tags), and
	// deleteTags matches key and value with equalsIgnoreCase.
	It("treats tag keys that differ only in case or surrounding blanks as the same key", func() {
		id, _ := e.deploy("tagged", "small")
		Expect(tag(e.user, id, map[string]string{"karpenter.sh/nodepool": "a"}).Jobstatus).To(Equal(1))
		for _, key := range []string{"Karpenter.SH/nodepool", " karpenter.sh/nodepool"} {
			r := tag(e.user, id, map[string]string{key: "b"})
			Expect(r.Jobstatus).To(Equal(2), "key %q", key)
			Expect(string(r.Jobresult)).To(ContainSubstring("already on UserVm"))
		}
		del := e.user.Resourcetags.NewDeleteTagsParams([]string{id}, "UserVm")
		del.SetTags(map[string]string{"KARPENTER.SH/NODEPOOL": "A"})
		r, err := e.user.Resourcetags.DeleteTags(del)
		Expect(err).NotTo(HaveOccurred())
		Expect(waitJob(e.user, r.JobID).Jobstatus).To(Equal(1))
		l, err := e.user.Resourcetags.ListTags(e.user.Resourcetags.NewListTagsParams())
		Expect(err).NotTo(HaveOccurred())
		for _, t := range l.Tags {
			Expect(t.Resourceid).NotTo(Equal(id), "deleteTags matched the key and value case-insensitively")
		}
	})
})
