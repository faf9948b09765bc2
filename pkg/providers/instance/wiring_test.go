package instance_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cache"
	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/providers/instance"
)

var _ = Describe("Wiring", func() {
	It("refuses to build a second offering catalog of its own", func() {
		Expect(func() { instance.NewDefaultProvider(api, cache.NewUnavailableOfferings(), owner) }).
			To(PanicWith(ContainSubstring("WithServiceOfferings")))
	})
})
