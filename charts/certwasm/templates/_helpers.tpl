{{/* The release's full name: the release name when it already says certwasm. */}}
{{- define "certwasm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "certwasm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "certwasm.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The labels the pods are selected by; `app.kubernetes.io/name: certwasm`
is also what the controller's HTTP-01 solver Services select. */}}
{{- define "certwasm.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "certwasm.labels" -}}
{{ include "certwasm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "certwasm.image" -}}
{{- $repository := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if and .Values.image.digest .Values.image.tag -}}
{{- printf "%s:%s@%s" $repository .Values.image.tag .Values.image.digest -}}
{{- else if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The plugin bundle argument: an OCI reference must be pinned by digest. */}}
{{- define "certwasm.pluginBundle" -}}
{{- with .Values.plugins.bundle -}}
{{- if and .reference .configMap -}}
{{- fail "plugins.bundle: set reference or configMap, not both" -}}
{{- end -}}
{{- if .reference -}}
{{- if not (hasPrefix "oci://" .reference) -}}
{{- fail "plugins.bundle.reference must start with oci://" -}}
{{- end -}}
{{- if not (contains "@sha256:" .reference) -}}
{{- fail "plugins.bundle.reference must be pinned by digest (oci://...@sha256:...)" -}}
{{- end -}}
{{- .reference -}}
{{- else if .configMap -}}
{{- printf "/etc/certwasm/plugins/%s" .manifest -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "certwasm.crdMetadata" }}
  labels:
    {{- include "certwasm.labels" . | nindent 4 }}
{{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
{{- end }}
{{- end }}

{{- define "certwasm.webhookSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "certwasm.webhookLabels" -}}
{{ include "certwasm.webhookSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Where the API server reaches the webhook: webhook.url.host, or the
Service. The caBundle is written by the webhook itself. */}}
{{- define "certwasm.webhookClientConfig" -}}
{{- $root := .root -}}
{{- with $root.Values.webhook.url.host -}}
url: {{ printf "https://%s%s" . $.path }}
{{- else -}}
service:
  name: {{ include "certwasm.fullname" $root }}-webhook
  namespace: {{ $root.Release.Namespace }}
  path: {{ .path }}
  port: 443
{{- end -}}
{{- end -}}
