package instance_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/simulator"
)

var _ = Describe("Delete with a role that may not expunge", func() {
	It("destroys without expunge once CloudStack refuses the expunge, and stops asking", func() {
		// The account may expunge by configuration (allowuserexpungerecovervm) but its role lacks
		// expungeVirtualMachine, so every destroy with expunge=true fails in its job.
		c := newCloud(func(cat *simulator.Catalog) {
			var cmds []string
			for _, c := range cloudstack.RequiredCommands() {
				if c.Name != "expungeVirtualMachine" {
					cmds = append(cmds, c.Name)
				}
			}
			cat.Roles = []simulator.Role{{Name: "no-expunge", Commands: cmds}}
			cat.Accounts[0].Role = "no-expunge"
		})
		s, p, its := c.sim, c.provider, c.types
		nc := nodeClass()
		first, err := p.Create(ctx, nc, nodeClaim("noexp-1"), listWith(its, nc), userData)
		Expect(err).NotTo(HaveOccurred())
		second, err := p.Create(ctx, nc, nodeClaim("noexp-2"), listWith(its, nc), userData)
		Expect(err).NotTo(HaveOccurred())

		s.ResetCounts()
		Expect(p.Delete(ctx, first.ID)).To(Succeed())
		Expect(s.Counts()).To(HaveKeyWithValue("destroyVirtualMachine", int64(2)), "one refused expunge, one plain destroy")
		Expect(p.Delete(ctx, second.ID)).To(Succeed())
		Expect(s.Counts()).To(HaveKeyWithValue("destroyVirtualMachine", int64(3)), "no second attempt to expunge")
		for _, vm := range s.VirtualMachines() {
			Expect(vm.State).To(Equal(simulator.StateDestroyed), "destroyed, left for CloudStack to expunge after expunge.delay")
		}
	})
})
