package errors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// HTTP status codes CloudStack uses as errorcode (ApiErrorCode.java).
const (
	CodeUnauthorized         = 401
	CodeThrottled            = 429
	CodeMalformedParameter   = 430
	CodeParamError           = 431
	CodeUnsupportedAction    = 432
	CodeInternalError        = 530
	CodeAccountError         = 531
	CodeAccountLimit         = 532
	CodeInsufficientCapacity = 533
	CodeResourceUnavailable  = 534
	CodeResourceAllocation   = 535
)

// cserrorcode values (CSExceptionErrorCode.java) that carry meaning beyond the HTTP code.
const (
	csInsufficientCapacityMin = 4320 // InsufficientAddressCapacity
	csInsufficientCapacityMax = 4340 // InsufficientStorageCapacity
	csResourceAllocation      = 4370
	csRequestLimit            = 4545
)

// APIError is a CloudStack error response or failed async job, parsed from the SDK's error string.
type APIError struct {
	// HTTPCode is CloudStack's errorcode (equal to the HTTP status for synchronous errors).
	HTTPCode int
	// CSCode is the cserrorcode; 0 when the response had none (401s and failed jobs).
	CSCode int
	// Text is the errortext as the server sent it.
	Text string

	cause error
}

// Error keeps the SDK's wording so that logs read the same as CloudStack's own documentation.
func (e *APIError) Error() string {
	return fmt.Sprintf("CloudStack API error %d (CSExceptionErrorCode: %d): %s", e.HTTPCode, e.CSCode, e.Text)
}

// Unwrap returns the SDK error the APIError was parsed from, if any.
func (e *APIError) Unwrap() error { return e.cause }

var (
	// The SDK formats non-200 responses with CSError.Error(); (?s) because errortexts may span lines.
	httpErrorRE = regexp.MustCompile(`(?s)CloudStack API error (\d+) \(CSExceptionErrorCode: (-?\d+)\): (.*)`)
	// GetAsyncJobResult prefixes object job results of failed jobs.
	undefinedPrefix = "Undefined error: "
	noMatchPrefix   = "No match found for "
)

// jobFailure is the jobresult of a failed async job (ApiAsyncJobDispatcher writes only these fields).
type jobFailure struct {
	ErrorCode   int    `json:"errorcode"`
	CSErrorCode int    `json:"cserrorcode"`
	ErrorText   string `json:"errortext"`
}

// Parse turns an SDK error into an *APIError when it is a CloudStack error response, a failed job or the SDK's
// "No match found" lookup miss, and returns every other error (transport, context, decoding) unchanged.
func Parse(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return err
	}
	msg := err.Error()
	if m := httpErrorRE.FindStringSubmatch(msg); m != nil {
		code, _ := strconv.Atoi(m[1])
		csCode, _ := strconv.Atoi(m[2])
		return &APIError{HTTPCode: code, CSCode: csCode, Text: m[3], cause: err}
	}
	if rest, ok := strings.CutPrefix(msg, undefinedPrefix); ok {
		var f jobFailure
		if json.Unmarshal([]byte(rest), &f) == nil && f.ErrorCode != 0 {
			return &APIError{HTTPCode: f.ErrorCode, CSCode: f.CSErrorCode, Text: f.ErrorText, cause: err}
		}
	}
	if strings.HasPrefix(msg, noMatchPrefix) {
		return &APIError{HTTPCode: CodeParamError, Text: msg, cause: err}
	}
	return err
}

// FromJobResult builds the error of a failed async job from its jobresult. Text results (jobresulttype "text")
// carry no code, so they are reported as an internal error with the text.
func FromJobResult(resultType string, result json.RawMessage) error {
	if resultType != "text" {
		var f jobFailure
		if err := json.Unmarshal(result, &f); err == nil && f.ErrorCode != 0 {
			return &APIError{HTTPCode: f.ErrorCode, CSCode: f.CSErrorCode, Text: f.ErrorText}
		}
	}
	text := string(result)
	var s string
	if json.Unmarshal(result, &s) == nil {
		text = s
	}
	return &APIError{HTTPCode: CodeInternalError, Text: text}
}

// NewNotFound reports that a resource the caller addressed by ID does not exist, in the form IsNotFound recognises.
// The API answers an expunged VM's ID with an empty list rather than an error, so the client layer needs this.
func NewNotFound(kind, id string) error {
	return &APIError{HTTPCode: CodeParamError, Text: fmt.Sprintf("%s%s: %s", noMatchPrefix, kind, id)}
}

func asAPIError(err error) (*APIError, bool) {
	var apiErr *APIError
	if errors.As(Parse(err), &apiErr) {
		return apiErr, true
	}
	return nil, false
}

// notFoundTexts are the texts by which CloudStack and the SDK say that the addressed resource is gone.
var notFoundTexts = []string{
	"no match found for",
	"unable to find uuid",
	"unable to find a virtual machine",
	"unable to find vm",
	"unable to find resource by id",
	"vm is removed",
}

// IsNotFound reports whether the addressed resource does not exist (any more). For the generic 431 "Invalid
// parameter <p> value=<uuid> ... entity does not exist" only the `id` parameter counts: an unknown templateid in
// a deploy is a bad request, not a missing VM.
func IsNotFound(err error) bool {
	e, ok := asAPIError(err)
	if !ok {
		return false
	}
	text := strings.ToLower(e.Text)
	if strings.Contains(text, "invalid parameter id value=") && strings.Contains(text, "entity does not exist") {
		return true
	}
	for _, t := range notFoundTexts {
		if strings.Contains(text, t) {
			return true
		}
	}
	return false
}

// IgnoreNotFound returns nil for not-found errors and err otherwise.
func IgnoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}

// IsInsufficientCapacity reports whether CloudStack could not place the VM: 533, 534 (resource unavailable, for
// example a zone without hosts) or an Insufficient*Capacity cserrorcode.
func IsInsufficientCapacity(err error) bool {
	e, ok := asAPIError(err)
	if !ok {
		return false
	}
	return e.HTTPCode == CodeInsufficientCapacity || e.HTTPCode == CodeResourceUnavailable ||
		(e.CSCode >= csInsufficientCapacityMin && e.CSCode <= csInsufficientCapacityMax)
}

// IsLimitExceeded reports whether an account or domain resource limit refused the request.
func IsLimitExceeded(err error) bool {
	e, ok := asAPIError(err)
	if !ok {
		return false
	}
	return e.HTTPCode == CodeAccountLimit || e.HTTPCode == CodeResourceAllocation || e.CSCode == csResourceAllocation
}

// IsZoneDisabled reports a deploy refused because an operator disabled the zone (allocationstate=Disabled), which
// CloudStack raises as a PermissionDeniedException for every account but root admins.
func IsZoneDisabled(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.HTTPCode == CodeAccountError && strings.Contains(e.Text, "Zone is currently disabled")
}

// IsThrottled reports whether the api-limit plugin rejected the request.
func IsThrottled(err error) bool {
	e, ok := asAPIError(err)
	return ok && (e.HTTPCode == CodeThrottled || e.CSCode == csRequestLimit)
}

// IsUnauthorized reports whether the credentials or the account's permissions refused the request, including a
// command the key's role does not allow (432 from the API access checker).
func IsUnauthorized(err error) bool {
	e, ok := asAPIError(err)
	return ok && (e.HTTPCode == CodeUnauthorized || e.HTTPCode == CodeAccountError || e.HTTPCode == CodeUnsupportedAction)
}

// pageSizeLimitRE is BaseListCmd.getPageSize's refusal of a pagesize above default.page.size.
var pageSizeLimitRE = regexp.MustCompile(`Page size can't exceed max allowed page size value: (\d+)`)

// PageSizeLimit returns the server's largest page size when err is a list call refused for asking more (431), and 0
// otherwise.
func PageSizeLimit(err error) int {
	e, ok := asAPIError(err)
	if !ok || e.HTTPCode != CodeParamError {
		return 0
	}
	m := pageSizeLimitRE.FindStringSubmatch(e.Text)
	if m == nil {
		return 0
	}
	n, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return 0
	}
	return n
}

// IsExpungeRefused reports a destroy with expunge=true that CloudStack refused because the caller may not expunge
// (allow.user.expunge.recover.vm off, or a role without expungeVirtualMachine): the VM is unchanged, and a destroy
// without expunge may still succeed.
func IsExpungeRefused(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.HTTPCode == CodeAccountError && strings.Contains(strings.ToLower(e.Text), "permission for expung")
}

// IsInvalidParameter reports a rejected parameter (431) that is not a missing addressed resource.
func IsInvalidParameter(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.HTTPCode == CodeParamError && !IsNotFound(err)
}

// IsServerError reports errors worth retrying on read calls: CloudStack internal errors (530), transport failures
// and garbled responses. Context cancellation and deadlines are the caller's decision and never count.
func IsServerError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e, ok := asAPIError(err); ok {
		return e.HTTPCode == CodeInternalError
	}
	if IsTLSVerification(err) {
		// A transport error too, but one that the next attempt meets again.
		return false
	}
	var netErr net.Error
	var syntaxErr *json.SyntaxError
	return errors.As(err, &netErr) || errors.As(err, &syntaxErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// IsTransient reports failures that a later attempt of the same call may not meet: throttling, internal errors,
// transport failures, and a deadline that ran out while waiting for CloudStack.
func IsTransient(err error) bool {
	return IsThrottled(err) || IsServerError(err) || errors.Is(err, context.DeadlineExceeded)
}

// Code returns the errorcode of an API error, or 0 when err is not one; used as a metric label.
func Code(err error) int {
	if e, ok := asAPIError(err); ok {
		return e.HTTPCode
	}
	return 0
}

// IsTLSVerification reports that the management server's TLS certificate could not be verified: signed by a CA the
// client does not trust, issued for another name, or expired. Retrying cannot help; the CA bundle or the URL must
// change.
func IsTLSVerification(err error) bool {
	var verifyErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verifyErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
