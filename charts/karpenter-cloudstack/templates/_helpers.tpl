{{/* The chart name, or nameOverride; at most 63 characters (a label value). */}}
{{- define "karpenter-cloudstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name. A release already named after the chart is not repeated. */}}
{{- define "karpenter-cloudstack.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the controller pods; they must never change across upgrades. */}}
{{- define "karpenter-cloudstack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "karpenter-cloudstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "karpenter-cloudstack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "karpenter-cloudstack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Metadata annotations of every resource, indented for metadata; renders nothing (not even a blank line) when there
are none. Include it right after the labels with {{- include ... }}.
*/}}
{{- define "karpenter-cloudstack.annotations" -}}
{{- with .Values.additionalAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end }}

{{- define "karpenter-cloudstack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "karpenter-cloudstack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the CloudStack credentials: the user's own, or the one this chart creates. */}}
{{- define "karpenter-cloudstack.credentialsSecretName" -}}
{{- default (printf "%s-credentials" (include "karpenter-cloudstack.fullname" .)) .Values.credentials.existingSecret }}
{{- end }}

{{- define "karpenter-cloudstack.leaderElectionName" -}}
{{- default (printf "%s-leader-election" (include "karpenter-cloudstack.fullname" .)) .Values.settings.leaderElection.name }}
{{- end }}

{{- define "karpenter-cloudstack.image" -}}
{{- $how := "no release publishes the controller image yet: build and push it from a clone (docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=<tag> -t <registry>/karpenter-provider-cloudstack:<tag> --push .), then install with --set image.repository=<registry>/karpenter-provider-cloudstack --set image.tag=<tag> (INSTALLATION.md, Get a controller image)" }}
{{- if not .Values.image.repository }}
{{- fail (printf "image.repository is required: %s" $how) }}
{{- end }}
{{- if not (or .Values.image.tag .Values.image.digest) }}
{{- fail (printf "image.tag (or image.digest) is required: %s" $how) }}
{{- end }}
{{- $ref := .Values.image.repository }}
{{- if .Values.image.tag }}
{{- $ref = printf "%s:%s" $ref .Values.image.tag }}
{{- end }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
Pod topology constraints need a selector; a constraint given without one selects this release's controller pods.
Returns the constraints as YAML.
*/}}
{{- define "karpenter-cloudstack.topologySpreadConstraints" -}}
{{- $selector := include "karpenter-cloudstack.selectorLabels" . | fromYaml }}
{{- $out := list }}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
"true" when settings.featureGates turns the named Karpenter feature gate on, else "". Call with (list . "Name").
Used to grant the RBAC a gated controller needs only when it runs.
*/}}
{{- define "karpenter-cloudstack.featureGateOn" -}}
{{- $root := index . 0 }}
{{- $gate := index . 1 }}
{{- $gates := splitList "," (nospace $root.Values.settings.featureGates) }}
{{- if has (printf "%s=true" $gate) $gates }}true{{ end }}
{{- end }}

{{/*
Affinity of the controller pods: the affinity value, with karpenter.sh/nodepool DoesNotExist (and, with
controlPlane.enabled, node-role.kubernetes.io/control-plane Exists) added to every required node selector term, so
no value can place the controller on a node Karpenter manages.
*/}}
{{- define "karpenter-cloudstack.affinity" -}}
{{- $aff := deepCopy (default (dict) .Values.affinity) }}
{{- $na := default (dict) (get $aff "nodeAffinity") }}
{{- $req := default (dict) (get $na "requiredDuringSchedulingIgnoredDuringExecution") }}
{{- $terms := default (list (dict)) (get $req "nodeSelectorTerms") }}
{{- $extra := list (dict "key" "karpenter.sh/nodepool" "operator" "DoesNotExist") }}
{{- if .Values.controlPlane.enabled }}
{{- $extra = append $extra (dict "key" "node-role.kubernetes.io/control-plane" "operator" "Exists") }}
{{- end }}
{{- $out := list }}
{{- range $terms }}
{{- $t := deepCopy . }}
{{- $exprs := default (list) (get $t "matchExpressions") }}
{{- range $extra }}
{{- $exprs = append $exprs . }}
{{- end }}
{{- $_ := set $t "matchExpressions" $exprs }}
{{- $out = append $out $t }}
{{- end }}
{{- $_ := set $req "nodeSelectorTerms" $out }}
{{- $_ := set $na "requiredDuringSchedulingIgnoredDuringExecution" $req }}
{{- $_ := set $aff "nodeAffinity" $na }}
{{- toYaml $aff }}
{{- end }}

{{/*
Tolerations of the controller pods: the tolerations value, plus the control-plane taint with controlPlane.enabled.
*/}}
{{- define "karpenter-cloudstack.tolerations" -}}
{{- $tol := default (list) .Values.tolerations }}
{{- if .Values.controlPlane.enabled }}
{{- $tol = append $tol (dict "key" "node-role.kubernetes.io/control-plane" "operator" "Exists" "effect" "NoSchedule") }}
{{- end }}
{{- if $tol }}
{{- toYaml $tol }}
{{- end }}
{{- end }}
