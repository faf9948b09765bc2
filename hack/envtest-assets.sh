#!/usr/bin/env bash
# envtest-assets.sh: build the control-plane binaries our test suites run (etcd, kube-apiserver,
# kube-scheduler, kube-controller-manager, kubectl) from the Go module proxy, and print the directory
# holding them as the last line of stdout. No release download site is needed: only `go`.
#
#   export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh | tail -n1)"
#
# Output: ${1:-$HOME/.cache/karpenter-cloudstack/envtest/<k8s-version>/bin}
#
# Knobs (environment):
#   K8S_VERSION          Kubernetes version (default 1.36.3; the proxy serves only some k8s.io/kubernetes
#                        versions, and the staging modules must exist at v0.<minor>.<patch>).
#   ETCD_VERSION         etcd version (default: what that Kubernetes release pins in build/dependencies.yaml).
#   ETCD_FROM            a directory whose etcd binary is reused (copied) instead of building one, e.g. the
#                        default version's bin/ when only another kube-apiserver is wanted (the API suite on the
#                        oldest supported Kubernetes: `K8S_VERSION=1.30.14 COMPONENTS=kube-apiserver
#                        ETCD_FROM=<1.36.3 bin>`). etcd's API is stable across these releases.
#   COMPONENTS           k8s.io/kubernetes/cmd/* to build (default: all the suites use, the e2e ones included).
#                        kube-apiserver and etcd are always built.
#   ENVTEST_GOTOOLCHAIN  GOTOOLCHAIN for this build (default auto). The project's GOTOOLCHAIN is not used:
#                        the Kubernetes sources need only go >= 1.26.0 and were verified with the local go.
#   FORCE=1              rebuild even when the binaries are up to date.
#
# Up to date = every binary present and kube-apiserver (and etcd, if ETCD_VERSION is set) report the wanted
# version; that check takes a fraction of a second. A cold build takes 7-15 minutes on 2 cores and ~1.8 GiB RAM.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
K8S_VERSION="${K8S_VERSION#v}"
OUT="${1:-${HOME}/.cache/karpenter-cloudstack/envtest/${K8S_VERSION}/bin}"
COMPONENTS="${COMPONENTS:-kube-apiserver kube-scheduler kube-controller-manager kubectl}"
[[ " ${COMPONENTS} " == *" kube-apiserver "* ]] || COMPONENTS="kube-apiserver ${COMPONENTS}"
ETCD_VERSION="${ETCD_VERSION:-}"
ETCD_VERSION="${ETCD_VERSION#v}"
ETCD_FROM="${ETCD_FROM:-}"
if [[ -n "${ETCD_FROM}" ]]; then
  [[ -x "${ETCD_FROM}/etcd" ]] || { echo "envtest-assets: error: ETCD_FROM=${ETCD_FROM} has no etcd binary" >&2; exit 1; }
  ETCD_VERSION="$("${ETCD_FROM}/etcd" --version | sed -n 's/^etcd Version: //p')"
fi

say() { echo "envtest-assets: $*" >&2; }
fail() { say "error: $*"; exit 1; }

IFS=. read -r K8S_MAJOR K8S_MINOR K8S_PATCH <<<"${K8S_VERSION}"
[[ "${K8S_MAJOR}" =~ ^[0-9]+$ && "${K8S_MINOR:-}" =~ ^[0-9]+$ && "${K8S_PATCH:-}" =~ ^[0-9]+$ ]] \
  || fail "K8S_VERSION must be MAJOR.MINOR.PATCH, got '${K8S_VERSION}'"
STAGING="v0.${K8S_MINOR}.${K8S_PATCH}"

up_to_date() {
  local c
  for c in etcd ${COMPONENTS}; do
    [[ -x "${OUT}/${c}" ]] || return 1
  done
  [[ "$("${OUT}/kube-apiserver" --version 2>/dev/null)" == "Kubernetes v${K8S_VERSION}" ]] || return 1
  if [[ -n "${ETCD_VERSION}" ]]; then
    "${OUT}/etcd" --version 2>/dev/null | grep -qx "etcd Version: ${ETCD_VERSION}" || return 1
  fi
}

if [[ "${FORCE:-0}" != 1 ]] && up_to_date; then
  say "up to date: ${OUT}"
  echo "${OUT}"
  exit 0
fi

command -v go >/dev/null || fail "go is not in PATH"
mkdir -p "${OUT}"
OUT="$(cd "${OUT}" && pwd)"

# Parallel callers (two make targets, two engineers) wait for one build instead of racing it.
if command -v flock >/dev/null; then
  exec 9>"${OUT}/.lock"
  flock 9
  if [[ "${FORCE:-0}" != 1 ]] && up_to_date; then
    say "built meanwhile by another caller: ${OUT}"
    echo "${OUT}"
    exit 0
  fi
else
  say "warning: flock not found; concurrent runs are not serialised"
fi

# The scratch modules must not pick up the project's settings (go.work, target platform, cgo).
export GOTOOLCHAIN="${ENVTEST_GOTOOLCHAIN:-auto}" GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
unset GOOS GOARCH GOEXPERIMENT

TMP="$(mktemp -d "${TMPDIR:-/tmp}/envtest-assets.XXXXXX")"
mkdir -p "${TMP}/kube" "${TMP}/etcd" "${TMP}/bin"
START=$(date +%s)
elapsed() { local s=$(( $(date +%s) - START )); printf '%dm%02ds' $(( s / 60 )) $(( s % 60 )); }
# A person waiting on a first build sees every minute what is happening, how long it has taken and what to expect.
STAGE="resolving modules"
progress() {
  while sleep 60; do
    say "still ${STAGE} ($(elapsed) elapsed; a cold build takes 7-15 min on 2 cores, 2-4 min with more)"
  done
}
# Not holding stdout (a caller reading $(...) would wait for it) nor the lock (fd 9).
stage() { STAGE="$1"; kill "${TICKER:-}" 2>/dev/null || true; progress >/dev/null 9>&- & TICKER=$!; }
trap 'kill "${TICKER:-}" 2>/dev/null || true; rm -rf "${TMP}"' EXIT
stage "resolving modules"
say "building Kubernetes v${K8S_VERSION} (${COMPONENTS})${ETCD_FROM:+, etcd from ${ETCD_FROM},} with $(go version) into ${OUT}"

# k8s.io/kubernetes points every staging module (k8s.io/api, ...) at ./staging/src, which the module zip does
# not contain, so `go install k8s.io/kubernetes/cmd/x@v` is refused. A scratch module that maps each of those
# replaces to the published staging version builds the same commands.
if ! KMOD="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}")"; then
  fail "k8s.io/kubernetes@v${K8S_VERSION} is not on the module proxy (try: go list -m -versions k8s.io/kubernetes)"
fi
KDIR="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"${KMOD}")"
[[ -f "${KDIR}/go.mod" ]] || fail "no go.mod in the downloaded k8s.io/kubernetes (${KDIR})"
# Stamping the tag's time instead of now keeps the binaries reproducible.
BUILD_DATE="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v${K8S_VERSION}.info" 2>/dev/null || true)"
BUILD_DATE="${BUILD_DATE:-1970-01-01T00:00:00Z}"

{
  printf 'module envtest-assets/kube\n\ngo %s\n\n' "$(awk '$1 == "go" { print $2; exit }' "${KDIR}/go.mod")"
  grep -E '^godebug ' "${KDIR}/go.mod" || true
  printf '\nreplace (\n'
  awk -v v="${STAGING}" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }' "${KDIR}/go.mod"
  printf ')\n'
} >"${TMP}/kube/go.mod"
REPLACES=$(grep -c ' => ' "${TMP}/kube/go.mod" || true)
(( REPLACES >= 20 )) || fail "only ${REPLACES} staging replaces found in k8s.io/kubernetes' go.mod; has its layout changed?"

CMDS=()
for c in ${COMPONENTS}; do CMDS+=("k8s.io/kubernetes/cmd/${c}"); done
# `go get` of the commands resolves just what they import, far less than tidying the whole module.
(cd "${TMP}/kube" && go get "${CMDS[@]/%/@v${K8S_VERSION}}" >"${TMP}/kube.log" 2>&1) \
  || { cat "${TMP}/kube.log" >&2; fail "resolving the Kubernetes commands failed (are the ${STAGING} staging modules on the proxy?)"; }

if [[ -n "${ETCD_FROM}" ]]; then
  say "modules resolved after $(elapsed); reusing etcd v${ETCD_VERSION} from ${ETCD_FROM}"
  install -m 0755 "${ETCD_FROM}/etcd" "${TMP}/bin/etcd"
else
if [[ -z "${ETCD_VERSION}" ]]; then
  ETCD_VERSION="$(awk '/name: "etcd"/ { found = 1 } found && /version:/ { print $2; exit }' "${KDIR}/build/dependencies.yaml" 2>/dev/null || true)"
  ETCD_VERSION="${ETCD_VERSION#v}"
  [[ -n "${ETCD_VERSION}" ]] || fail "cannot read the etcd version from build/dependencies.yaml; set ETCD_VERSION"
fi
# etcd gets its own scratch module so its client libraries cannot shift the ones kube-apiserver links.
(cd "${TMP}/etcd" && printf 'module envtest-assets/etcd\n\ngo 1.24.0\n' >go.mod \
  && go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >"${TMP}/etcd.log" 2>&1) \
  || { cat "${TMP}/etcd.log" >&2; fail "resolving etcd v${ETCD_VERSION} failed"; }
say "modules resolved after $(elapsed); building etcd v${ETCD_VERSION}"
stage "building etcd v${ETCD_VERSION}"
(cd "${TMP}/etcd" && go build -trimpath -ldflags "-s -w" -o "${TMP}/bin/etcd" go.etcd.io/etcd/server/v3)
say "etcd built after $(elapsed); now the Kubernetes commands (the slow part)"
fi

# Without these the binaries call themselves v0.0.0-master, and envtest/kubectl version checks get confused.
LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X ${p}.gitVersion=v${K8S_VERSION} -X ${p}.gitMajor=${K8S_MAJOR} -X ${p}.gitMinor=${K8S_MINOR}"
  LDFLAGS+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=${BUILD_DATE}"
done
# One go build for all commands shares the compiled packages between them.
stage "compiling ${COMPONENTS} v${K8S_VERSION}"
(cd "${TMP}/kube" && go build -trimpath -ldflags "${LDFLAGS}" -o "${TMP}/bin/" "${CMDS[@]}")
say "Kubernetes commands built after $(elapsed)"
kill "${TICKER}" 2>/dev/null || true

[[ "$("${TMP}/bin/kube-apiserver" --version)" == "Kubernetes v${K8S_VERSION}" ]] || fail "the new kube-apiserver reports the wrong version"
"${TMP}/bin/etcd" --version | grep -qx "etcd Version: ${ETCD_VERSION}" || fail "the new etcd reports the wrong version"
# Copy under a hidden name, then rename: a reader never sees a half-written binary.
for c in etcd ${COMPONENTS}; do
  install -m 0755 "${TMP}/bin/${c}" "${OUT}/.${c}.partial"
  mv -f "${OUT}/.${c}.partial" "${OUT}/${c}"
done
cat >"${OUT}/VERSIONS" <<EOF
kubernetes v${K8S_VERSION} (staging ${STAGING}), etcd v${ETCD_VERSION}${ETCD_FROM:+ (copied from ${ETCD_FROM})}, built from the Go module proxy
components: etcd ${COMPONENTS}
go: $(go version)
EOF
say "done in $(elapsed): ${OUT}"
echo "${OUT}"
