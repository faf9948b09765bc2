package bootstrap

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// FuncMap returns the functions templates may call besides text/template's built-ins. The returned functions are
// unbounded; Render uses the same functions behind budget checks.
func FuncMap() template.FuncMap { return funcMap(nil) }

// funcMap builds the template functions, each charging b an upper estimate of its output before it runs (no
// charge when b is nil). The built-ins that build strings (printf, print, println, html, js, urlquery) are replaced
// by charged copies too: a template's functions take precedence over the built-ins of the same name.
func funcMap(b *budget) template.FuncMap {
	charge := func(n int) error {
		if b == nil {
			return nil
		}
		return b.charge(n)
	}
	return template.FuncMap{
		// join: {{ join "," .KubeletArgsList }} or {{ .KubeletArgsList | join " " }}.
		"join": func(sep string, elems []string) (string, error) {
			if err := charge(sumLen(elems) + len(sep)*len(elems)); err != nil {
				return "", err
			}
			return strings.Join(elems, sep), nil
		},
		// quote: a double-quoted string with Go/JSON-compatible escapes, safe in YAML and JSON.
		"quote": func(s string) (string, error) {
			// \U0010ffff is ten bytes for a four-byte rune, \x00 four for one byte.
			if err := charge(4*len(s) + 2); err != nil {
				return "", err
			}
			return strconv.Quote(s), nil
		},
		// squote: one POSIX-shell single-quoted word.
		"squote": func(s string) (string, error) {
			if err := charge(4*len(s) + 2); err != nil {
				return "", err
			}
			return shellQuoteWord(s), nil
		},
		// shellquote: a string or a list of strings as shell words, each quoted only when it needs to be.
		"shellquote": func(v any) (string, error) {
			if err := charge(4*approxLen(v) + 16); err != nil {
				return "", err
			}
			return shellQuote(v)
		},
		// indent: prefixes every line with n spaces, for embedding a block in YAML.
		"indent": func(n int, s string) (string, error) {
			if n < 0 || n > maxFormatWidth {
				return "", fmt.Errorf("indent takes a count between 0 and %d, not %d", maxFormatWidth, n)
			}
			if err := charge(len(s) + n*(strings.Count(s, "\n")+1)); err != nil {
				return "", err
			}
			pad := strings.Repeat(" ", n)
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
		},
		"printf": func(format string, args ...any) (string, error) {
			verbs, width, err := scanFormat(format)
			if err != nil {
				return "", err
			}
			// %q and %x of a string are at most 4 bytes per input byte; %v of anything else is about its Sprint.
			if err := charge(len(format) + verbs*(width+4*maxLen(args)+32)); err != nil {
				return "", err
			}
			return fmt.Sprintf(format, args...), nil
		},
		"print": func(args ...any) (string, error) {
			if err := charge(sumApproxLen(args) + len(args)); err != nil {
				return "", err
			}
			return fmt.Sprint(args...), nil
		},
		"println": func(args ...any) (string, error) {
			if err := charge(sumApproxLen(args) + len(args) + 1); err != nil {
				return "", err
			}
			return fmt.Sprintln(args...), nil
		},
		// html, js and urlquery escape at most 6 bytes per input byte (\u003C, &#39;, %XX).
		"html":     escaped(charge, template.HTMLEscaper),
		"js":       escaped(charge, template.JSEscaper),
		"urlquery": escaped(charge, template.URLQueryEscaper),
	}
}

// escaped charges an escaping built-in for its worst case before running it.
func escaped(charge func(int) error, escape func(...any) string) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		if err := charge(6 * (sumApproxLen(args) + len(args))); err != nil {
			return "", err
		}
		return escape(args...), nil
	}
}

// scanFormat counts a printf format's verbs and returns the largest width or precision it asks for. Widths are
// bounded (fmt itself allows a million per verb) and '*' widths are refused, so that the output can be estimated
// before it is built.
func scanFormat(format string) (verbs, width int, err error) {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		num := 0
		for ; i < len(format); i++ {
			c := format[i]
			switch {
			case c >= '0' && c <= '9':
				num = num*10 + int(c-'0')
				if num > maxFormatWidth {
					return 0, 0, fmt.Errorf("printf widths and precisions are at most %d", maxFormatWidth)
				}
				width = max(width, num)
				continue
			case c == '*':
				return 0, 0, fmt.Errorf("printf '*' widths are not supported in spec.userData")
			case c == '.' || c == '[' || c == ']' || strings.IndexByte("+-# ", c) >= 0:
				num = 0
				continue
			}
			break
		}
		if i < len(format) && format[i] != '%' {
			verbs++
		}
	}
	return verbs, width, nil
}

// approxLen is about how many bytes fmt.Sprint(v) takes, without building it for the common types.
func approxLen(v any) int {
	switch t := v.(type) {
	case string:
		return len(t)
	case []string:
		return sumLen(t) + len(t) + 2
	case map[string]string:
		n := 6
		for k, val := range t {
			n += len(k) + len(val) + 2
		}
		return n
	case int, int32, int64, uint, uint32, uint64, bool, float64, nil:
		return 24
	default:
		return len(fmt.Sprint(v))
	}
}

func sumLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	return n
}

func sumApproxLen(args []any) int {
	n := 0
	for _, a := range args {
		n += approxLen(a)
	}
	return n
}

func maxLen(args []any) int {
	n := 0
	for _, a := range args {
		n = max(n, approxLen(a))
	}
	return n
}

func shellQuoteWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellQuote(v any) (string, error) {
	var words []string
	switch t := v.(type) {
	case string:
		words = []string{t}
	case []string:
		words = t
	default:
		return "", fmt.Errorf("shellquote takes a string or a list of strings, not %T", v)
	}
	out := make([]string, 0, len(words))
	for _, w := range words {
		if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
			out = append(out, w)
		} else {
			out = append(out, shellQuoteWord(w))
		}
	}
	return strings.Join(out, " "), nil
}
