package bootstrap

// Redact is redact, for the black-box tests: no template path quotes a Secret's value today, and the redaction is
// what keeps it so when one does.
var Redact = redact
