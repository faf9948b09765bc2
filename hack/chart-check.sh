#!/usr/bin/env bash
# Static checks of charts/karpenter-cloudstack: the CRDs in crds/ match their sources, and `helm lint --strict`
# and `helm template` succeed with the minimal required values and with ci/*.yaml (every optional branch on).
# test/chart goes further: it applies the rendered manifests to a real kube-apiserver and tests the RBAC.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="${root}/charts/karpenter-cloudstack"
helm="$("${root}/hack/install-helm.sh" | tail -n1)"
home="$(mktemp -d)"
trap 'rm -rf "${home}"' EXIT
# A private helm home: no user repositories, plugins or cache influence the result.
export HELM_CACHE_HOME="${home}" HELM_CONFIG_HOME="${home}" HELM_DATA_HOME="${home}"

echo "chart-check: CRDs are current"
before="$(cd "${chart}/crds" && sha256sum ./*.yaml)"
"${root}/hack/copy-crds.sh" >/dev/null
after="$(cd "${chart}/crds" && sha256sum ./*.yaml)"
if [[ "${before}" != "${after}" ]]; then
  echo "chart-check: charts/karpenter-cloudstack/crds was stale and has been refreshed; commit the result" >&2
  exit 1
fi

required=(
  --set settings.clusterName=chart-check
  --set credentials.apiURL=https://cloudstack.example.com/client/api
  --set credentials.apiKey=key
  --set credentials.secretKey=secret
  --set image.repository=registry.example.com/karpenter-provider-cloudstack
  --set image.tag=v0.0.0-chart-check
)
value_sets=("required values")
for f in "${chart}"/ci/*.yaml; do value_sets+=("${f}"); done

for set in "${value_sets[@]}"; do
  if [[ "${set}" == "required values" ]]; then args=("${required[@]}"); else args=(-f "${set}"); fi
  echo "chart-check: helm lint --strict (${set#"${root}/"})"
  "${helm}" lint --strict "${chart}" --namespace karpenter "${args[@]}"
  echo "chart-check: helm template (${set#"${root}/"})"
  # helm template assumes Kubernetes v1.20 unless told; render for the version the tests run.
  out="$("${helm}" template karpenter "${chart}" --namespace karpenter --include-crds --kube-version "${KUBE_VERSION:-v1.36.3}" "${args[@]}")"
  echo "  $(grep -c '^kind:' <<<"${out}") manifests"
done
echo "chart-check: ok"
