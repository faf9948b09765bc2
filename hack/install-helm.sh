#!/usr/bin/env bash
# Installs helm into the project's tool directory (.tools/helm) from the Go module proxy, at the version pinned
# below, and prints its path as the last line of stdout. Nothing is downloaded when the right version is there.
# The first build compiles helm from source: a few minutes on 2 cores.
set -euo pipefail

HELM_VERSION="v3.22.0"
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${root}/.tools"
helm="${tools}/helm"

if [[ -x "${helm}" ]] && "${helm}" version --template '{{ .Version }}' 2>/dev/null | grep -qxF "${HELM_VERSION}"; then
  echo "${helm}"
  exit 0
fi

mkdir -p "${tools}"
# Parallel callers (make -j, several test packages) must not write the same binary at once.
exec 9>"${tools}/.helm.lock"
flock 9
if ! { [[ -x "${helm}" ]] && "${helm}" version --template '{{ .Version }}' 2>/dev/null | grep -qxF "${HELM_VERSION}"; }; then
  echo "install-helm: building helm ${HELM_VERSION} (go install, first time only)" >&2
  tmp="$(mktemp -d "${tools}/.helm-build.XXXXXX")"
  trap 'rm -rf "${tmp}"' EXIT
  # Without -X, `helm version` reports only "v3.22" and this script could not tell the version apart.
  GOBIN="${tmp}" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  mv -f "${tmp}/helm" "${helm}"
fi
echo "${helm}"
