#!/usr/bin/env bash
# Copies every CRD the chart installs into charts/karpenter-cloudstack/crds: ours from pkg/apis/crds (written by
# controller-gen) and Karpenter core's from the module cache at the version go.mod pins. `make generate` runs this,
# and `make verify` fails when the copies differ from their sources, so the chart cannot ship stale schemas.
set -euo pipefail

export GOTOOLCHAIN="${GOTOOLCHAIN_OVERRIDE:-go1.27.3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${root}/charts/karpenter-cloudstack/crds"
cd "${root}"

# `go mod download -json` both fetches the module (a fresh clone may not have it yet) and tells where it lives,
# with the version taken from go.mod rather than repeated here.
karpenter_dir="$(go mod download -json sigs.k8s.io/karpenter | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${karpenter_dir}" || ! -d "${karpenter_dir}/pkg/apis/crds" ]]; then
  echo "copy-crds: cannot locate sigs.k8s.io/karpenter in the module cache" >&2
  exit 1
fi

mkdir -p "${dest}"
# Karpenter core's controllers watch all four of its CRDs (CapacityBuffer only with its feature gate), so all are installed.
core=(karpenter.sh_nodepools.yaml karpenter.sh_nodeclaims.yaml karpenter.sh_nodeoverlays.yaml autoscaling.x-k8s.io_capacitybuffers.yaml)
for f in "${core[@]}"; do
  install -m 0644 "${karpenter_dir}/pkg/apis/crds/${f}" "${dest}/${f}"
done
for f in pkg/apis/crds/*.yaml; do
  install -m 0644 "${f}" "${dest}/$(basename "${f}")"
done

# A CRD removed from a source must disappear from the chart too.
expected=("${core[@]}")
for f in pkg/apis/crds/*.yaml; do expected+=("$(basename "${f}")"); done
for f in "${dest}"/*.yaml; do
  name="$(basename "${f}")"
  if ! printf '%s\n' "${expected[@]}" | grep -qxF "${name}"; then
    rm -f "${f}"
  fi
done
echo "copy-crds: ${#expected[@]} CRDs in ${dest#"${root}/"}"
