package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64
}

// ginkgoSummary matches the line Ginkgo v2 prints at the end of a suite, e.g.
// "SUCCESS! -- 86 Passed | 0 Failed | 0 Pending | 0 Skipped".
var ginkgoSummary = regexp.MustCompile(`(?:SUCCESS!|FAIL!) -- (\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped`)

// ansi matches the colour codes Ginkgo puts around the words of its summary; test2json drops their ESC byte.
var ansi = regexp.MustCompile("\x1b?\\[[0-9;]*m")

type test struct {
	output   strings.Builder
	result   string // pass, fail or skip
	isParent bool
}

type pkg struct {
	output strings.Builder
	tests  map[string]*test
	order  []string
}

type counts struct{ passed, failed, skipped int }

func (c *counts) add(o counts) {
	c.passed += o.passed
	c.failed += o.failed
	c.skipped += o.skipped
}

func main() {
	total, failedPkgs, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(2)
	}
	if total.skipped > 0 {
		fmt.Printf("%d skipped\n", total.skipped)
	}
	fmt.Printf("%d passed, %d failed\n", total.passed, total.failed)
	if total.failed > 0 || failedPkgs > 0 {
		os.Exit(1)
	}
}

// summarize reads go test -json events from r and writes the per-package report to w.
func summarize(r io.Reader, w io.Writer) (counts, int, error) {
	var total counts
	failedPkgs := 0
	pkgs := map[string]*pkg{}
	// Compiler errors arrive keyed by the package being built ("p_test [p.test]"), not by the package tested.
	buildOutput := map[string]*strings.Builder{}
	get := func(name string) *pkg {
		if pkgs[name] == nil {
			pkgs[name] = &pkg{tests: map[string]*test{}}
		}
		return pkgs[name]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// go test prints some errors (for example "no Go files") as plain text.
			fmt.Fprintln(w, string(line))
			continue
		}
		switch {
		case e.Action == "build-output":
			key := buildKey(e.ImportPath)
			if buildOutput[key] == nil {
				buildOutput[key] = &strings.Builder{}
			}
			buildOutput[key].WriteString(e.Output)
		case e.Action == "build-fail":
			// The package's own fail event follows and prints the build output.
		case e.Test == "":
			p := get(e.Package)
			switch e.Action {
			case "output":
				p.output.WriteString(e.Output)
			case "pass", "fail", "skip":
				c := p.count()
				if e.Action == "fail" {
					failedPkgs++
					if c.failed == 0 {
						// A package that failed outside any test (build error, panic in init, TestMain) counts as one failure.
						c.failed = 1
					}
					if b := buildOutput[e.Package]; b != nil {
						p.output.WriteString(b.String())
					}
				}
				total.add(c)
				report(w, e, p, c)
				delete(pkgs, e.Package)
			}
		default:
			p := get(e.Package)
			t := p.test(e.Test)
			if i := strings.LastIndex(e.Test, "/"); i > 0 {
				p.test(e.Test[:i]).isParent = true
			}
			switch e.Action {
			case "output":
				t.output.WriteString(e.Output)
			case "pass", "fail", "skip":
				t.result = e.Action
			}
		}
	}
	if err := sc.Err(); err != nil {
		return total, failedPkgs, fmt.Errorf("reading go test output: %w", err)
	}
	// Packages without a final event mean go test was killed (for example by its -timeout).
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "FAIL %s (no result: interrupted?)\n%s", name, pkgs[name].output.String())
		failedPkgs++
		total.failed++
	}
	return total, failedPkgs, nil
}

func (p *pkg) test(name string) *test {
	if p.tests[name] == nil {
		p.tests[name] = &test{}
		p.order = append(p.order, name)
	}
	return p.tests[name]
}

// count counts leaf tests, or a Ginkgo suite's specs in place of the Go test that ran them.
func (p *pkg) count() counts {
	var c counts
	for _, name := range p.order {
		t := p.tests[name]
		if t.isParent {
			continue
		}
		if m := ginkgoSummary.FindStringSubmatch(ansi.ReplaceAllString(t.output.String(), "")); m != nil {
			c.passed += atoi(m[1])
			c.failed += atoi(m[2])
			c.skipped += atoi(m[3]) + atoi(m[4])
			continue
		}
		switch t.result {
		case "pass":
			c.passed++
		case "fail":
			c.failed++
		case "skip":
			c.skipped++
		}
	}
	return c
}

func report(w io.Writer, e event, p *pkg, c counts) {
	elapsed := (time.Duration(e.Elapsed * float64(time.Second))).Round(10 * time.Millisecond)
	switch e.Action {
	case "skip":
		fmt.Fprintf(w, "?    %s [no test files]\n", e.Package)
		return
	case "pass":
		fmt.Fprintf(w, "ok   %s %s (%d passed)\n", e.Package, elapsed, c.passed)
		return
	}
	fmt.Fprintf(w, "FAIL %s %s (%d passed, %d failed)\n", e.Package, elapsed, c.passed, c.failed)
	printed := false
	for _, name := range p.order {
		t := p.tests[name]
		// A test without a result was still running when the binary died (timeout, panic in another goroutine).
		if (t.result == "fail" || t.result == "") && !t.isParent {
			fmt.Fprintf(w, "--- output of %s %s\n%s", e.Package, name, t.output.String())
			printed = true
		}
	}
	// A build failure, a panic outside a test or a failing TestMain leaves its story at package level.
	if !printed {
		fmt.Fprintf(w, "--- output of %s\n%s", e.Package, p.output.String())
	}
}

// buildKey maps "example.com/p_test [example.com/p.test]" and "example.com/p" to "example.com/p".
func buildKey(importPath string) string {
	if i := strings.IndexByte(importPath, ' '); i >= 0 {
		importPath = importPath[:i]
	}
	return strings.TrimSuffix(importPath, "_test")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
