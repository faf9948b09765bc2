package tagging_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/controllers/nodeclaim/tagging"
)

type tags = map[string]string

var _ = Describe("Diff", func() {
	DescribeTable("turns a VM's tags into the NodeClass's",
		func(current, recorded, want, wantDelete, wantCreate tags) {
			change := tagging.Diff("vm", current, recorded, want)
			Expect(change.VMID).To(Equal("vm"))
			Expect(change.Delete).To(Equal(wantDelete))
			Expect(change.Create).To(Equal(wantCreate))
		},
		Entry("in sync: nothing", tags{"team": "a", "karpenter.sh/nodepool": "p"}, tags{"team": "a"}, tags{"team": "a"}, tags{}, tags{}),
		Entry("a changed value is deleted with its old value, then created", tags{"team": "a"}, tags{"team": "a"}, tags{"team": "b"},
			tags{"team": "a"}, tags{"team": "b"}),
		Entry("a new key is created", tags{"team": "a"}, tags{"team": "a"}, tags{"team": "a", "env": "prod"}, tags{}, tags{"env": "prod"}),
		Entry("a recorded key the NodeClass dropped is deleted", tags{"team": "a", "env": "prod"}, tags{"team": "a", "env": "prod"}, tags{"team": "a"},
			tags{"env": "prod"}, tags{}),
		Entry("a key never recorded is left alone", tags{"team": "a", "backup": "daily"}, tags{"team": "a"}, tags{}, tags{"team": "a"}, tags{}),
		Entry("no record (an older release): nothing deleted", tags{"team": "a", "env": "prod"}, nil, tags{"team": "b"},
			tags{"team": "a"}, tags{"team": "b"}),
		Entry("keys compare as CloudStack compares them: a new spelling replaces the old", tags{"Team": "a"}, tags{"Team": "a"}, tags{"team": "a"},
			tags{"Team": "a"}, tags{"team": "a"}),
		Entry("a recorded key matches the VM's in any case", tags{"ENV": "prod"}, tags{"env": "prod"}, tags{}, tags{"ENV": "prod"}, tags{}),
		Entry("the provider's own keys are never deleted, even if recorded", tags{"karpenter.sh/nodeclaim": "x"}, tags{"karpenter.sh/nodeclaim": "x"}, tags{},
			tags{}, tags{}),
		Entry("a dropped key already gone from the VM costs nothing", tags{"team": "a"}, tags{"team": "a", "env": "prod"}, tags{"team": "a"},
			tags{}, tags{}),
	)
})
