package options

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// redacted replaces the value of a secret field that is set.
const redacted = "<redacted>"

// field is one printed setting.
type field struct {
	name  string
	value any
}

// fields lists every exported field of Options in declaration order, for every printer below: a field added to
// Options is printed everywhere at once, and one tagged `secret:"true"` is redacted everywhere at once. A field
// tagged `print:"-"` is left out (the CA bundle's content: its path is printed).
func (o Options) fields() []field {
	v := reflect.ValueOf(&o).Elem()
	t := v.Type()
	out := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Tag.Get("print") == "-" {
			continue
		}
		fv := v.Field(i)
		var value any
		switch {
		case sf.Tag.Get("secret") == "true":
			if value = ""; !fv.IsZero() {
				value = redacted
			}
		case fv.Type() == reflect.TypeFor[time.Duration]():
			value = time.Duration(fv.Int()).String()
		default:
			value = fv.Interface()
		}
		out = append(out, field{name: sf.Name, value: value})
	}
	return out
}

// String prints every setting with the secrets redacted.
func (o Options) String() string {
	parts := make([]string, 0, 32)
	for _, f := range o.fields() {
		parts = append(parts, fmt.Sprintf("%s:%v", f.name, f.value))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// GoString keeps %#v from printing the secrets.
func (o Options) GoString() string { return o.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (o Options) LogValue() slog.Value {
	fs := o.fields()
	attrs := make([]slog.Attr, 0, len(fs))
	for _, f := range fs {
		attrs = append(attrs, slog.Any(f.name, f.value))
	}
	return slog.GroupValue(attrs...)
}

// MarshalLog implements logr.Marshaler (Karpenter logs through logr/zap) with the secrets redacted.
func (o Options) MarshalLog() any {
	m := map[string]any{}
	for _, f := range o.fields() {
		m[f.name] = f.value
	}
	return m
}

// MarshalJSON keeps encoding/json (and loggers that fall back to it) from printing the secrets.
func (o Options) MarshalJSON() ([]byte, error) { return json.Marshal(o.MarshalLog()) }
