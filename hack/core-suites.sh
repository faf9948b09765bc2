#!/usr/bin/env bash
# Runs Karpenter core's provider-agnostic end-to-end suites (sigs.k8s.io/karpenter/test/suites/{regression,disruption}
# of the pinned karpenter version) against the local environment: the real controller, the simulated CloudStack and
# the node agent (`go run ./test/cmd/demo --serve`). docs/core-suites.md lists which specs run and why the others
# are excluded. Usage: hack/core-suites.sh [regression|disruption ...]   (default: both)
# SUITE_FOCUS_<suite> / SUITE_SKIP_<suite> override the focus and skip regexps of a suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
ROOT=$(pwd)
KARPENTER_VERSION=$(go list -m -f '{{.Version}}' sigs.k8s.io/karpenter)
TOOLS="$ROOT/.tools/core-suites-$KARPENTER_VERSION"
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(regression disruption)

# The suites' own dependencies (metrics, kwok) are not ours: build them in a scratch module pinned to our karpenter.
if [ ! -x "$TOOLS/disruption.test" ] || [ ! -x "$TOOLS/regression.test" ]; then
  mkdir -p "$TOOLS/mod"
  cat > "$TOOLS/mod/go.mod" <<MOD
module local/core-suites

go 1.26.9

require sigs.k8s.io/karpenter $KARPENTER_VERSION
MOD
  cat > "$TOOLS/mod/tools.go" <<'SRC'
//go:build tools

package tools

import (
	_ "sigs.k8s.io/karpenter/test/pkg/environment/common"
)
SRC
  (cd "$TOOLS/mod" && go mod tidy >/dev/null &&
    go test -c -o "$TOOLS/regression.test" sigs.k8s.io/karpenter/test/suites/regression &&
    go test -c -o "$TOOLS/disruption.test" sigs.k8s.io/karpenter/test/suites/disruption)
fi

work=$(mktemp -d)
go build -o "$work/demo" ./test/cmd/demo
"$work/demo" --serve --kubeconfig-out="$work/kubeconfig-path" --timeout=3h >"$work/env.log" 2>&1 &
env_pid=$!
trap 'kill -TERM $env_pid 2>/dev/null || true; wait $env_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  [ -s "$work/kubeconfig-path" ] && break
  kill -0 $env_pid 2>/dev/null || { cat "$work/env.log"; echo "the local environment did not come up" >&2; exit 1; }
  sleep 1
done
export KUBECONFIG=$(cat "$work/kubeconfig-path")
echo "local environment up (KUBECONFIG=$KUBECONFIG)"

# Focus and skip per suite: see docs/core-suites.md for the reasons.
FOCUS_regression=${SUITE_FOCUS_regression:-'StandaloneNodeClaim|DaemonSet|CRD Hash|Validation|DoNotDisrupt'}
SKIP_regression=${SUITE_SKIP_regression:-'Chaos|Performance|StaticCapacity|CapacityBuffer|registration timeout|targeting different instance types'}
FOCUS_disruption=${SUITE_FOCUS_disruption:-'Expiration|Drift|Termination'}
SKIP_disruption=${SUITE_SKIP_disruption:-'Repair|Reboot|never registers|never initialized|Start-up Taints|NodeRequirements'}

status=0
for suite in "${suites[@]}"; do
  focus_var="FOCUS_$suite"; skip_var="SKIP_$suite"
  echo "== $suite (focus '${!focus_var}', skip '${!skip_var}')"
  (cd "$work" && "$TOOLS/$suite.test" -test.timeout 3h -test.v \
    -ginkgo.focus="${!focus_var}" -ginkgo.skip="${!skip_var}" -ginkgo.v \
    --default-nodeclass="$ROOT/test/core-suites/nodeclass.yaml" \
    --default-nodepool="$ROOT/test/core-suites/nodepool.yaml") || status=1
done
exit $status
