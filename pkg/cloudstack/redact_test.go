package cloudstack_test

import (
	"context"
	"errors"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/cloudstack"
)

var _ = Describe("Transport failures", func() {
	It("never show the API key or the request signature", func() {
		e := newEnv(nil, func(o *cloudstack.Options) { o.RetryMaxAttempts = 1 })
		ctx := context.Background()
		e.sim.DropNextConnections(1)
		_, err := e.client.ListZones(ctx)
		Expect(err).To(HaveOccurred())
		var ue *url.Error
		Expect(errors.As(err, &ue)).To(BeTrue(), "the transport error stays classifiable: %v", err)
		for _, secret := range []string{userKey, userSecret, "signature=", "apiKey=", "apikey="} {
			Expect(strings.ToLower(err.Error())).NotTo(ContainSubstring(strings.ToLower(secret)))
		}
		Expect(err.Error()).To(ContainSubstring("command=listZones"), "the command is kept for context")
	})
})
