# Karpenter provider for Apache CloudStack. `make` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Karpenter v1.15.0 needs go >= 1.26.9; the go command fetches this toolchain from the module proxy once.
export GOTOOLCHAIN := go1.27.3

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Where `make build` puts the binaries; hack/image.sh cross-compiles into bin/linux-<arch> (with GOOS/GOARCH set).
BIN_DIR ?= bin
TOOLS := $(CURDIR)/.tools
# The first run builds the control plane (7-15 min on 2 cores) outside go test's timeout; this bounds the tests.
TEST_TIMEOUT ?= 30m
TEST_FLAGS ?=
# Packages to test, e.g. make test PKGS=./pkg/apis/...
# The e2e suite comes first: it is the longest (about 11 of the run's minutes) and mostly waits on simulated jobs and
# controllers, so go test runs it beside all the other packages instead of after most of them.
PKGS ?= ./test/e2e/ ./...
# The oldest Kubernetes docs/VERSIONING.md claims, and the suites test-oldest runs on it: the API suite (CRDs, every
# CEL rule), the cloud provider's (provisioning through Karpenter's provisioner, drift, GC) and the NodeClass controller's.
OLDEST_K8S ?= 1.30.14
# make scale's workload: --replicas pods of 1.5 CPU (two per 4-vCPU node), --job-latency per simulated VM job,
# --runs per provider, --idle, --boot-delay (a kubelet's start) (test/cmd/scale).
SCALE_ARGS ?= --replicas 100
OLDEST_PKGS ?= ./pkg/apis/... ./pkg/cloudprovider/... ./pkg/controllers/...
# Generated Go files are formatted by their generator; everything else must be gofmt'ed.
GOFILES = $$(git ls-files --cached --others --exclude-standard '*.go' | grep -v '/zz_generated\.' || true)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the commands under cmd/ into bin/
	@if [[ -n "$$(go list ./cmd/... 2>/dev/null)" ]]; then \
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN_DIR)/ ./cmd/...; \
		ls -l $(BIN_DIR)/; \
	else echo "no commands under cmd/ yet"; fi

.PHONY: image
image: ## Build the controller image from `make build`'s binary with buildah (IMAGE=, ARCH=; see hack/image.sh)
	@hack/image.sh

.PHONY: test
# envtest gives its kube-apiserver 20 s to start by default; test packages start control planes in parallel, and on a
# busy 2-core machine that was seen to fail five times in a row, so the suites get 120 s.
test: ## Run every test suite against a real kube-apiserver (built on first use by hack/envtest-assets.sh)
	@start=$$(date +%s); \
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh | tail -n1)"; export KUBEBUILDER_ASSETS; \
	KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=$${KUBEBUILDER_CONTROLPLANE_START_TIMEOUT:-120s}; export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT; \
	echo "control plane: $$KUBEBUILDER_ASSETS (ready after $$(( $$(date +%s) - start ))s)"; \
	hack/install-helm.sh >/dev/null; \
	go build -o $(TOOLS)/testsummary ./hack/testsummary; \
	go test -json -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(PKGS) | $(TOOLS)/testsummary

.PHONY: measure-memory
measure-memory: ## Measure the controller's memory at 0, 25 and 50 nodes in the end-to-end environment (INSTALLATION.md, "Sizing")
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh | tail -n1)" MEASURE_CONTROLLER_MEMORY=1 \
		go test -v -count=1 -timeout 30m ./test/e2e/ -ginkgo.focus "Controller memory" -ginkgo.v | grep -E "controller memory with|^(ok|FAIL|---)"

.PHONY: test-oldest
test-oldest: ## Run the API, cloud provider and NodeClass controller suites on the oldest Kubernetes docs/VERSIONING.md claims
	@start=$$(date +%s); \
	KUBEBUILDER_ASSETS="$$($(MAKE) --no-print-directory -s envtest-oldest | tail -n1)"; \
	export KUBEBUILDER_ASSETS K8S_VERSION=$(OLDEST_K8S); \
	echo "control plane: $$KUBEBUILDER_ASSETS ($$("$$KUBEBUILDER_ASSETS/kube-apiserver" --version); ready after $$(( $$(date +%s) - start ))s)"; \
	go build -o $(TOOLS)/testsummary ./hack/testsummary; \
	go test -json -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(OLDEST_PKGS) | $(TOOLS)/testsummary

.PHONY: scale
scale: ## Measure a burst of pods and the scale to zero: times, CloudStack requests per node, idle requests, controller RSS/CPU (SCALE_ARGS, e.g. "--replicas 500 --job-latency 20s"; docs/performance.md)
	go run ./test/cmd/scale --provider cloudstack $(SCALE_ARGS)

.PHONY: scale-kwok
scale-kwok: ## The same burst with Karpenter's own kwok provider, then with this one, back to back on the same control plane; medians and ratios (SCALE_ARGS, e.g. "--replicas 500 --runs 3")
	go run ./test/cmd/scale --provider both $(SCALE_ARGS)

.PHONY: chaos
chaos: ## Run the chaos harness at scale (docs/reliability.md): CHAOS_NODES=200 CHAOS_CYCLES=2 CHAOS_RUNS=1; figures appended to CHAOS_REPORT
	@KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh | tail -n1)"; export KUBEBUILDER_ASSETS; \
	export CHAOS=large CHAOS_REPORT="$${CHAOS_REPORT:-$(CURDIR)/.chaos/report.md}"; \
	for i in $$(seq 1 $${CHAOS_RUNS:-1}); do \
		echo "chaos run $$i of $${CHAOS_RUNS:-1}; figures go to $$CHAOS_REPORT"; \
		go test -count=1 -timeout 12h ./test/chaos/ -ginkgo.v || exit 1; \
	done

.PHONY: demo
demo: ## Run the whole product on one machine: control plane, simulated CloudStack, node agent, controller (DEMO_ARGS=--non-interactive for CI)
	go run ./test/cmd/demo $(DEMO_ARGS)

.PHONY: core-suites
core-suites: ## Run Karpenter core's regression and disruption suites against the local environment (docs/core-suites.md; SUITES="regression disruption")
	hack/core-suites.sh $(SUITES)

.PHONY: envtest
envtest: ## Build (or find) the control-plane binaries and print their directory
	@hack/envtest-assets.sh

.PHONY: envtest-oldest
envtest-oldest: ## Build (or find) the oldest supported kube-apiserver (OLDEST_K8S), with the current version's etcd, and print its directory
	@current="$$(hack/envtest-assets.sh | tail -n1)"; \
	K8S_VERSION=$(OLDEST_K8S) COMPONENTS=kube-apiserver ETCD_FROM="$$current" hack/envtest-assets.sh

.PHONY: generate
generate: ## Regenerate deepcopy code, CRDs (controller-gen), the chart's CRD copies, docs/reference.md and INSTALLATION.md's API role
	go generate ./pkg/apis/...
	hack/copy-crds.sh
	go run ./hack/docgen -w docs/reference.md
	go run ./hack/docgen -role -w INSTALLATION.md

.PHONY: verify
verify: generate ## Fail when generated code, go.mod/go.sum or formatting is stale
	go mod tidy
	gofmt -w $(GOFILES)
	@if [[ -n "$$(git status --porcelain)" ]]; then \
		echo "the tree changed; commit the result of 'make verify':"; git status --porcelain; git --no-pager diff; exit 1; \
	fi

.PHONY: chart-check
chart-check: ## Lint and render the Helm chart (default and ci/ values)
	hack/chart-check.sh

.PHONY: vet
vet: ## Run go vet
	go vet ./...

.PHONY: fmt
fmt: ## Format the Go sources
	gofmt -w $(GOFILES)

.PHONY: clean
clean: ## Remove build outputs and project-local tools (the control-plane cache stays)
	rm -rf bin/ .image/ $(TOOLS)
