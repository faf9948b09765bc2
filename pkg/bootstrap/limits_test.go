package bootstrap_test

import (
	"errors"
	"runtime"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/cloudstack/karpenter-provider-cloudstack/pkg/bootstrap"
)

// renderBounded renders in a goroutine so that a broken bound fails the spec instead of hanging the suite, and
// reports how many bytes the rendering allocated.
func renderBounded(userData string) (error, uint64) {
	type result struct {
		err   error
		alloc uint64
	}
	done := make(chan result, 1)
	go func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := bootstrap.Render(userData, bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape))
		runtime.ReadMemStats(&after)
		done <- result{err: err, alloc: after.TotalAlloc - before.TotalAlloc}
	}()
	select {
	case r := <-done:
		return r.err, r.alloc
	case <-time.After(time.Minute):
		Fail("rendering did not return within a minute: a bound is missing")
		return nil, 0
	}
}

// doubling is a flat template that doubles a string n times without printing it: 2^n bytes unbounded.
func doubling(n int) string {
	return `{{ $x := "0123456789abcdef" }}` + strings.Repeat(`{{ $x = printf "%s%s" $x $x }}`, n) + `done`
}

// nestedDefines is the exponential define/template expansion: each level calls the previous one twice.
func nestedDefines(levels int) string {
	var b strings.Builder
	b.WriteString(`{{ define "l0" }}0123456789abcdef{{ end }}`)
	for i := 1; i <= levels; i++ {
		b.WriteString(`{{ define "l` + itoa(i) + `" }}{{ template "l` + itoa(i-1) + `" }}{{ template "l` + itoa(i-1) + `" }}{{ end }}`)
	}
	b.WriteString(`{{ template "l` + itoa(levels) + `" }}`)
	return b.String()
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/10)) + string(rune('0'+i%10)))
}

var _ = Describe("Rendering bounds", func() {
	// Every hostile template must come back with an error naming the bound or the refused feature, having
	// allocated far less than the controller's memory limit.
	const maxAlloc = 64 << 20

	DescribeTable("stops a template that exceeds a bound, and says which",
		func(userData, bound string) {
			if bound != bootstrap.BoundTime {
				// Only the backstop's own spec runs under it: on a loaded machine it could fire before the bound
				// a spec is about.
				DeferCleanup(bootstrap.SetRenderTime(30 * time.Second))
			}
			err, alloc := renderBounded(userData)
			var lerr *bootstrap.LimitError
			Expect(errors.As(err, &lerr)).To(BeTrue(), "got %v", err)
			Expect(lerr.Bound).To(Equal(bound))
			Expect(err.Error()).To(ContainSubstring("spec.userData"))
			Expect(err.Error()).To(ContainSubstring(bound))
			Expect(alloc).To(BeNumerically("<", maxAlloc))
		},
		Entry("a large string printed in a loop",
			`{{ $s := printf "%1000s" "x" }}{{ $n := 1000000000 }}{{ range $n }}{{ $s }}{{ $s }}{{ $s }}{{ end }}`, bootstrap.BoundOutput),
		Entry("a huge integer range through a variable, printing nothing",
			`{{ $n := 1000000000000 }}{{ range $n }}{{ end }}`, bootstrap.BoundSteps),
		Entry("nested ranges over the labels, printing nothing",
			strings.Repeat(`{{ range $.Labels }}`, 8)+strings.Repeat(`{{ end }}`, 8), bootstrap.BoundSteps),
		Entry("a variable doubled 40 times", doubling(40), bootstrap.BoundFunction),
		Entry("indent of a growing block", `{{ $x := "a\na\na\na" }}`+strings.Repeat(`{{ $x = indent 1000 (print $x $x) }}`, 30), bootstrap.BoundFunction),
		Entry("join of a list in a loop", `{{ $n := 100000000 }}{{ range $n }}{{ $j := join (printf "%1000s" "x") $.KubeletArgsList }}{{ end }}`, bootstrap.BoundFunction),
		Entry("printf repeating one long argument", `{{ $x := printf "%1000s" "x" }}{{ $x = printf "`+strings.Repeat("%[1]s", 5000)+`" $x }}`, bootstrap.BoundFunction),
		Entry("quote of a growing string", `{{ $x := "\"\"\"\"" }}`+strings.Repeat(`{{ $x = quote $x }}`, 40), bootstrap.BoundFunction),
		Entry("long comparisons in a loop", `{{ $x := "0123456789abcdef" }}`+strings.Repeat(`{{ $x = print $x $x }}`, 16)+
			`{{ $a := print $x "a" }}{{ $b := print $x "b" }}{{ $n := 1000000000 }}{{ range $n }}{{ if or `+strings.Repeat("(eq $a $b) ", 50)+`}}{{ end }}{{ end }}`, bootstrap.BoundTime),
	)

	DescribeTable("refuses template features userData has no use for, before running anything",
		func(userData string, want string) {
			err, alloc := renderBounded(userData)
			var terr *bootstrap.TemplateError
			Expect(errors.As(err, &terr)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring("spec.userData"))
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(alloc).To(BeNumerically("<", maxAlloc))
		},
		Entry("nested define/template, exponential", nestedDefines(40), "{{ define }} and {{ block }} are not supported"),
		Entry("block", `{{ block "x" . }}{{ .ClusterName }}{{ end }}`, "not supported"),
		Entry("template of an undefined name", `{{ template "x" }}`, "{{ template }} and {{ block }} are not supported"),
		Entry("range over a number literal", `{{ range 1000000000000 }}{{ end }}`, "range over a number is not supported"),
		Entry("call", `{{ call .ClusterName }}`, "the call function is not supported"),
		Entry("deep nesting", strings.Repeat(`{{ if true }}`, 40)+strings.Repeat(`{{ end }}`, 40), "nest deeper than 32"),
		Entry("too many actions", strings.Repeat(`{{ "x" }}`, bootstrap.MaxTemplateActions+1), "more than the 10000 allowed"),
		Entry("a printf width of a million", `{{ printf "%999999d" 1 }}`, "printf widths and precisions are at most 1000"),
		Entry("a printf * width", `{{ printf "%*d" 999999 1 }}`, "'*' widths are not supported"),
		Entry("indent by a billion", `{{ indent 1000000000 "x" }}`, "indent takes a count between 0 and 1000"),
	)

	It("renders what real templates need well within the bounds", func() {
		in := `{{ range .Taints }}{{ .Key }}={{ .Value }}:{{ .Effect }} {{ end }}` +
			`{{ range $k, $v := .Labels }}{{ printf "%s=%q" $k $v }} {{ end }}` +
			`{{ range .KubeletArgsList }}{{ range $.Taints }}{{ end }}{{ indent 2 . }}{{ end }}` +
			`{{ printf "%-20s|%5.2f" .ClusterName 1.5 }}{{ html "<a>" }}{{ js "'" }}{{ urlquery "a b" }}{{ print 1 2 }}{{ println "x" }}`
		out, err := bootstrap.Render(in, bootstrap.NewValues("prod", fixtureNodeClass(), fixtureNodeClaim(), fixtureShape))
		Expect(err).ToNot(HaveOccurred())
		Expect(string(out)).To(ContainSubstring("dedicated=gpu:NoSchedule"))
		Expect(string(out)).To(ContainSubstring(`team="platform"`))
		Expect(string(out)).To(ContainSubstring("prod                | 1.50&lt;a&gt;\\'a+b1 2x\n"))
	})

	It("accepts exactly the rendered-size bound and refuses one byte more", func() {
		exact := `{{ range $i, $e := .KubeletArgsList }}{{ end }}` + strings.Repeat("x", bootstrap.MaxRenderedBytes-2) + `{{ "ab" }}`
		out, err := bootstrap.Render(exact, bootstrap.Values{})
		Expect(err).ToNot(HaveOccurred())
		Expect(out).To(HaveLen(bootstrap.MaxRenderedBytes))
		_, err = bootstrap.Render(exact+`{{ "c" }}`, bootstrap.Values{})
		var lerr *bootstrap.LimitError
		Expect(errors.As(err, &lerr)).To(BeTrue(), "got %v", err)
		Expect(lerr.Bound).To(Equal(bootstrap.BoundOutput))
	})
})
