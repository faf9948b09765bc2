// Command testsummary turns `go test -json` output into what a person wants to read after `make test`: one
// line per package, the full output of every failure, and a final "N passed, N failed" line. Ginkgo suites
// run as a single Go test, so their specs are counted from Ginkgo's own summary instead.
//
//	go test -json ./... | go run ./hack/testsummary
//
// It exits non-zero when anything failed, including packages that failed to build.
package main
