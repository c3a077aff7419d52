{{- define "chartorigin.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chartorigin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chartorigin.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chartorigin.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chartorigin.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "chartorigin.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chartorigin
{{- end -}}

{{- define "chartorigin.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chartorigin.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chartorigin.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Helm's release objects, by the storage drivers the controller watches. */}}
{{- define "chartorigin.storageResources" -}}
{{- $r := list -}}
{{- if has "secrets" .Values.controller.storage }}{{ $r = append $r "secrets" }}{{ end -}}
{{- if has "configmaps" .Values.controller.storage }}{{ $r = append $r "configmaps" }}{{ end -}}
{{- toJson $r -}}
{{- end -}}

{{/*
Rules for what lives in the watched namespaces: Helm's release objects (read; write only for write-back),
ChartOrigins, Events. Used by the ClusterRole (all namespaces) and by each Role (namespaced mode).
*/}}
{{- define "chartorigin.namespacedRules" -}}
{{- $storage := include "chartorigin.storageResources" . | fromJsonArray -}}
{{- if $storage }}
# Helm stores releases here (label owner=helm). RBAC cannot restrict by label: see docs/operations.md.
- apiGroups: [""]
  resources: {{ toJson $storage }}
  verbs: [get, list, watch]
{{- if ne .Values.controller.writeBack "none" }}
# writeBack={{ .Values.controller.writeBack }}: HIP-0018 fields are written into the current revision.
- apiGroups: [""]
  resources: {{ toJson $storage }}
  verbs: [patch, update]
{{- end }}
{{- end }}
# Created with server-side apply (patch + create), deleted on uninstall; the controller never writes spec.
- apiGroups: [chartorigin.io]
  resources: [chartorigins]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [chartorigin.io]
  resources: [chartorigins/status]
  verbs: [get, patch, update]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{- define "chartorigin.controllerJob" -}}
{{- default (include "chartorigin.fullname" .) .Values.prometheusRule.controllerJob -}}
{{- end -}}
