package options

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	coreoptions "sigs.k8s.io/karpenter/pkg/operator/options"
)

// value is a flag.Value over any parseable type. Karpenter's env helpers fall back to the default when an
// environment variable does not parse; a typo in CLOUDSTACK_API_QPS must fail start-up instead, so every typed
// setting goes through value and its parse errors are kept for Validate.
type value[T any] struct {
	p      *T
	parse  func(string) (T, error)
	format func(T) string
	isBool bool
}

func (v *value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

func (v *value[T]) String() string {
	// flag.PrintDefaults calls String on a zero value to detect defaults.
	if v == nil || v.p == nil {
		return ""
	}
	return v.format(*v.p)
}

func (v *value[T]) IsBoolFlag() bool { return v != nil && v.isBool }

// secretValue is a string flag whose value is never printed, not even as a default in --help.
type secretValue struct{ p *string }

func (v *secretValue) Set(s string) error { *v.p = s; return nil }
func (v *secretValue) String() string     { return "" }

// register defines a flag whose default comes from an environment variable, parsed strictly.
func (o *Options) register(fs *coreoptions.FlagSet, v flag.Value, name, envName, def, usage string) {
	raw := o.getenv(envName, def)
	if err := v.Set(raw); err != nil {
		o.parseErrs = append(o.parseErrs, fmt.Errorf("environment variable %s=%q is invalid (%v); fix or unset it", envName, raw, err))
		_ = v.Set(def)
	}
	fs.Var(v, name, fmt.Sprintf("%s [env %s]", usage, envName))
}

func stringVar(p *string) *value[string] {
	return &value[string]{p: p, parse: func(s string) (string, error) { return s, nil }, format: func(s string) string { return s }}
}

func boolVar(p *bool) *value[bool] {
	return &value[bool]{p: p, parse: strconv.ParseBool, format: strconv.FormatBool, isBool: true}
}

func intVar(p *int) *value[int] {
	return &value[int]{p: p, parse: strconv.Atoi, format: strconv.Itoa}
}

func floatVar(p *float64) *value[float64] {
	return &value[float64]{
		p:      p,
		parse:  func(s string) (float64, error) { return strconv.ParseFloat(s, 64) },
		format: func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) },
	}
}

func durationVar(p *time.Duration) *value[time.Duration] {
	return &value[time.Duration]{p: p, parse: time.ParseDuration, format: time.Duration.String}
}
