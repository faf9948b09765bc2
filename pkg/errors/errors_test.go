package errors_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	csgo "github.com/apache/cloudstack-go/v2/cloudstack"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	cserrors "github.com/cloudstack/karpenter-provider-cloudstack/pkg/errors"
)

// sdkHTTPError produces exactly what the SDK returns for a non-200 response.
func sdkHTTPError(code, csCode int, text string) error {
	return (&csgo.CSError{ErrorCode: code, CSErrorCode: csCode, ErrorText: text}).Error()
}

// sdkJobError produces exactly what the SDK's GetAsyncJobResult returns for a failed object job.
func sdkJobError(code int, text string) error {
	b, _ := json.Marshal(map[string]any{"errorcode": code, "errortext": text})
	return fmt.Errorf("Undefined error: %s", b)
}

type class struct{ notFound, capacity, limit, throttled, unauthorized, invalid, server bool }

var _ = Describe("Parse", func() {
	It("parses the SDK's HTTP error string", func() {
		err := cserrors.Parse(sdkHTTPError(431, 4350, "The vm with hostName x already exists"))
		var apiErr *cserrors.APIError
		Expect(errors.As(err, &apiErr)).To(BeTrue())
		Expect(*apiErr).To(MatchFields(IgnoreExtras, Fields{"HTTPCode": Equal(431), "CSCode": Equal(4350), "Text": Equal("The vm with hostName x already exists")}))
		Expect(errors.Unwrap(apiErr)).NotTo(BeNil())
	})
	It("parses a failed job", func() {
		err := cserrors.Parse(sdkJobError(533, "Unable to create a deployment for VM[User|i-2-3-VM]"))
		var apiErr *cserrors.APIError
		Expect(errors.As(err, &apiErr)).To(BeTrue())
		Expect(apiErr.HTTPCode).To(Equal(533))
		Expect(apiErr.Text).To(Equal("Unable to create a deployment for VM[User|i-2-3-VM]"))
	})
	It("finds an APIError through wrapping and leaves other errors alone", func() {
		wrapped := fmt.Errorf("deploying: %w", cserrors.Parse(sdkHTTPError(533, 4335, "no capacity")))
		Expect(cserrors.Parse(wrapped)).To(BeIdenticalTo(wrapped))
		plain := errors.New("boom")
		Expect(cserrors.Parse(plain)).To(BeIdenticalTo(plain))
		Expect(cserrors.Parse(nil)).To(BeNil())
	})
	It("keeps multi-line error texts", func() {
		err := cserrors.Parse(sdkHTTPError(530, 4250, "line one\nline two"))
		var apiErr *cserrors.APIError
		Expect(errors.As(err, &apiErr)).To(BeTrue())
		Expect(apiErr.Text).To(Equal("line one\nline two"))
	})
	It("builds job errors from the jobresult", func() {
		err := cserrors.FromJobResult("object", json.RawMessage(`{"errorcode":533,"errortext":"no room"}`))
		Expect(cserrors.IsInsufficientCapacity(err)).To(BeTrue())
		err = cserrors.FromJobResult("text", json.RawMessage(`"something broke"`))
		Expect(cserrors.IsServerError(err)).To(BeTrue())
		Expect(err.Error()).To(ContainSubstring("something broke"))
	})
})

var _ = Describe("classification", func() {
	DescribeTable("of SDK error strings",
		func(err error, want class) {
			Expect(cserrors.IsNotFound(err)).To(Equal(want.notFound), "not found")
			Expect(cserrors.IsInsufficientCapacity(err)).To(Equal(want.capacity), "capacity")
			Expect(cserrors.IsLimitExceeded(err)).To(Equal(want.limit), "limit")
			Expect(cserrors.IsThrottled(err)).To(Equal(want.throttled), "throttled")
			Expect(cserrors.IsUnauthorized(err)).To(Equal(want.unauthorized), "unauthorized")
			Expect(cserrors.IsInvalidParameter(err)).To(Equal(want.invalid), "invalid parameter")
			Expect(cserrors.IsServerError(err)).To(Equal(want.server), "server error")
		},
		Entry("unknown VM id", sdkHTTPError(431, 9999, "Unable to execute API command listvirtualmachines due to invalid value. Invalid parameter id value=6b1a2a4e-0000-4000-8000-000000000001 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."), class{notFound: true}),
		Entry("unknown template in a deploy is a bad parameter", sdkHTTPError(431, 9999, "Unable to execute API command deployvirtualmachine due to invalid value. Invalid parameter templateid value=6b1a2a4e-0000-4000-8000-000000000001 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."), class{invalid: true}),
		Entry("SDK lookup miss", errors.New("No match found for 6b1a2a4e-0000-4000-8000-000000000001: &{Count:0 VirtualMachines:[]}"), class{notFound: true}),
		Entry("removed VM in a job", sdkJobError(431, "Unable to find vm or vm is removed: 6b1a2a4e"), class{notFound: true}),
		Entry("capacity in a job", sdkJobError(533, "Unable to create a deployment for VM[User|i-2-207-VM]"), class{capacity: true}),
		Entry("capacity by cserrorcode", sdkHTTPError(530, 4335, "Insufficient server capacity"), class{capacity: true, server: true}),
		Entry("resource unavailable", sdkHTTPError(534, 4380, "Resource unavailable"), class{capacity: true}),
		Entry("account limit", sdkHTTPError(532, 4370, "Maximum number of resources of type 'cpu' exceeded"), class{limit: true}),
		Entry("resource allocation", sdkHTTPError(535, 4370, "Maximum number of resources of type 'user_vm' for account name=a in domain id=1 has been exceeded."), class{limit: true}),
		Entry("throttled", sdkHTTPError(429, 4545, "The given user has reached his/her account api limit, please retry after 1000 ms."), class{throttled: true}),
		Entry("bad signature", sdkHTTPError(401, 0, "unable to verify user credentials and/or request signature"), class{unauthorized: true}),
		Entry("permission denied", sdkHTTPError(531, 4365, "Account karpenter does not have permission"), class{unauthorized: true}),
		Entry("duplicate name", sdkHTTPError(431, 4350, "The vm with hostName n1 already exists in the network domain: cs.local; network=net"), class{invalid: true}),
		Entry("internal error", sdkHTTPError(530, 4250, "Internal error executing command"), class{server: true}),
		Entry("connection reset", &url.Error{Op: "Get", URL: "http://127.0.0.1/client/api", Err: syscall.ECONNRESET}, class{server: true}),
		Entry("connection closed", &url.Error{Op: "Post", URL: "http://127.0.0.1/client/api", Err: io.EOF}, class{server: true}),
		Entry("dial error", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, class{server: true}),
		// A certificate the client cannot verify is a transport error too, but one the next attempt meets again.
		Entry("untrusted server certificate", &url.Error{Op: "Get", URL: "https://127.0.0.1/client/api",
			Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, class{}),
		Entry("certificate for another host", &url.Error{Op: "Get", URL: "https://127.0.0.1/client/api",
			Err: &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "127.0.0.1"}}}, class{}),
		Entry("garbled body", json.Unmarshal([]byte("<html>"), new(map[string]any)), class{server: true}),
		Entry("cancelled context", fmt.Errorf("calling listZones: %w", context.Canceled), class{}),
		Entry("plain error", errors.New("boom"), class{}),
		Entry("nil", nil, class{}),
	)
	It("ignores not found only", func() {
		Expect(cserrors.IgnoreNotFound(cserrors.NewNotFound("virtual machine", "x"))).To(Succeed())
		other := sdkHTTPError(530, 4250, "Internal error")
		Expect(cserrors.IgnoreNotFound(other)).To(MatchError(other))
	})
	It("reports the code for metrics", func() {
		Expect(cserrors.Code(sdkHTTPError(429, 4545, "x"))).To(Equal(429))
		Expect(cserrors.Code(errors.New("x"))).To(Equal(0))
	})
})
