package bootstrap

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"strings"
	"text/template"

	v1 "github.com/cloudstack/karpenter-provider-cloudstack/pkg/apis/v1"
)

// DefaultMaxLength is CloudStack's default vm.userdata.max.length: the longest base64 userdata the management
// server accepts unless an operator raises it (up to 1 MiB).
const DefaultMaxLength = 32768

// jinjaHeader marks cloud-init's own templating; such userData is cloud-init's to render, not ours.
const jinjaHeader = "## template: jinja"

// TemplateError is a spec.userData that does not parse or execute as a template.
type TemplateError struct{ Err error }

func (e *TemplateError) Error() string {
	return fmt.Sprintf("spec.userData is not a valid template, %v", e.Err)
}

func (e *TemplateError) Unwrap() error { return e.Err }

// SizeError is a rendered userData whose encoding (gzip or plain, then base64) exceeds the management server's limit.
type SizeError struct {
	// Encoding is spec.userDataEncoding's effective value.
	Encoding v1.UserDataEncoding
	// Size is the encoded length in bytes.
	Size int
	// Limit is the configured maximum (--userdata-max-length).
	Limit int
}

func (e *SizeError) Error() string {
	how := "gzip'ed and base64'ed"
	if e.Encoding == v1.UserDataEncodingPlain {
		how = "base64'ed (spec.userDataEncoding: plain)"
	}
	return fmt.Sprintf("spec.userData renders to %d bytes once %s, above the limit of %d bytes; "+
		"shorten it, or raise vm.userdata.max.length on the management server (at most 1048576) and "+
		"--userdata-max-length (USERDATA_MAX_LENGTH) to match", e.Size, how, e.Limit)
}

// IsTemplate reports whether userData is executed as a Go template: it contains an action and is not a
// cloud-init jinja template.
func IsTemplate(userData string) bool {
	if strings.HasPrefix(strings.TrimLeft(userData, " \t\r\n"), jinjaHeader) {
		return false
	}
	return strings.Contains(userData, "{{")
}

// Render returns the userData as the VM will receive it, before encoding. Non-template userData comes back
// unchanged. A reference to a map key that does not exist is an error rather than "<no value>", because a node
// silently booting with a half-rendered script is far harder to diagnose than a NodeClass that is not Ready.
//
// Rendering is bounded whatever the template (limits.go): a template that uses a refused feature is a
// *TemplateError before anything runs, and one that exceeds a bound while running is a *LimitError.
func Render(userData string, values Values) ([]byte, error) {
	out, err := render(userData, values)
	if err != nil {
		return nil, redact(err, values.Secret)
	}
	return out, nil
}

func render(userData string, values Values) ([]byte, error) {
	if !IsTemplate(userData) {
		return []byte(userData), nil
	}
	if n := countActions(userData); n > MaxTemplateActions {
		return nil, &TemplateError{Err: fmt.Errorf("it has %d {{ }} actions, more than the %d allowed", n, MaxTemplateActions)}
	}
	b := newBudget()
	tmpl := template.New("spec.userData").Option("missingkey=error").Funcs(funcMap(b)).
		Funcs(template.FuncMap{tickFunc: b.tick})
	tmpl, err := tmpl.Parse(userData)
	if err != nil {
		return nil, &TemplateError{Err: err}
	}
	if len(tmpl.Templates()) > 1 {
		return nil, &TemplateError{Err: fmt.Errorf("{{ define }} and {{ block }} are not supported in spec.userData; write the text out where it is used")}
	}
	if err := checkTree(tmpl.Tree); err != nil {
		return nil, &TemplateError{Err: err}
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&boundedWriter{b: b, out: &out}, values); err != nil {
		if b.exceeded != nil {
			return nil, b.exceeded
		}
		return nil, &TemplateError{Err: err}
	}
	return out.Bytes(), nil
}

// Encode gzips and base64-encodes rendered userData and checks the result against maxLength (no check when
// maxLength <= 0). Empty input encodes to "", meaning "send no userdata".
func Encode(rendered []byte, maxLength int) (string, error) {
	return EncodeAs(rendered, v1.UserDataEncodingGzip, maxLength)
}

// EncodeAs packs rendered userData as encoding says ("" is gzip), base64-encodes it and checks the result, the
// bytes CloudStack counts, against maxLength (no check when maxLength <= 0). Empty input encodes to "".
func EncodeAs(rendered []byte, encoding v1.UserDataEncoding, maxLength int) (string, error) {
	if len(rendered) == 0 {
		return "", nil
	}
	packed := rendered
	if encoding != v1.UserDataEncodingPlain {
		encoding = v1.UserDataEncodingGzip
		var err error
		if packed, err = gzipped(rendered); err != nil {
			return "", err
		}
	}
	encoded := base64.StdEncoding.EncodeToString(packed)
	if maxLength > 0 && len(encoded) > maxLength {
		return "", &SizeError{Encoding: encoding, Size: len(encoded), Limit: maxLength}
	}
	return encoded, nil
}

func gzipped(rendered []byte) ([]byte, error) {
	var buf bytes.Buffer
	// The gzip header carries no name or time, so equal input always gives equal output.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compressing userData, %w", err)
	}
	if _, err := zw.Write(rendered); err != nil {
		return nil, fmt.Errorf("compressing userData, %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing userData, %w", err)
	}
	return buf.Bytes(), nil
}

// Generate renders and encodes the NodeClass's userData; a NodeClass without userData gives "".
func Generate(nodeClass *v1.CloudStackNodeClass, values Values, maxLength int) (string, error) {
	if nodeClass.Spec.UserData == nil {
		return "", nil
	}
	rendered, err := Render(*nodeClass.Spec.UserData, values)
	if err != nil {
		return "", err
	}
	return EncodeAs(rendered, nodeClass.Spec.UserDataEncoding, maxLength)
}
