package bootstrap_test

import (
	"flag"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// update rewrites testdata/*.golden from the current output: go test ./pkg/bootstrap/ -args -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestBootstrap(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Bootstrap")
}
