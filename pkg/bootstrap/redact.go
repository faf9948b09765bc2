package bootstrap

import (
	"sort"
	"strings"
)

// minRedactedLength is the shortest Secret value cut out of error messages: shorter values ("1", "yes") are not
// credentials, and replacing them would garble the message. A kubeadm token's ID alone is 6 characters.
const minRedactedLength = 4

// redactedError is an error whose message has the Secret's values cut out; errors.As still finds the error it
// wraps (a *TemplateError, *LimitError), so callers classify it as before.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with every Secret value in its message replaced by <redacted>. text/template's messages quote
// template text, not data, but a function's error may carry its argument, and these messages reach the NodeClass's
// status and events.
func redact(err error, secret map[string]string) error {
	if err == nil || len(secret) == 0 {
		return err
	}
	values := make([]string, 0, len(secret))
	for _, v := range secret {
		if len(v) >= minRedactedLength {
			values = append(values, v)
		}
	}
	// Longest first, so a value containing another is cut out whole.
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	msg := err.Error()
	for _, v := range values {
		msg = strings.ReplaceAll(msg, v, "<redacted>")
	}
	return &redactedError{err: err, msg: msg}
}
