package bootstrap

import "time"

// Redact is redact, for the black-box tests: no template path quotes a Secret's value today, and the redaction is
// what keeps it so when one does.
var Redact = redact

// SetRenderTime replaces the render-time backstop until the returned func restores it.
func SetRenderTime(d time.Duration) (restore func()) {
	old := renderTime
	renderTime = d
	return func() { renderTime = old }
}
