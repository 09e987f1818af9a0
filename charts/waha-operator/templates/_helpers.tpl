{{/* Names and labels, in the style of `helm create`. */}}

{{- define "waha-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "waha-operator.fullname" -}}
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

{{- define "waha-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "waha-operator.labels" -}}
helm.sh/chart: {{ include "waha-operator.chart" . }}
{{ include "waha-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "waha-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "waha-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The component label keeps the controller's selector from matching a hub's pods. */}}
{{- define "waha-operator.controllerSelectorLabels" -}}
{{ include "waha-operator.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "waha-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "waha-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "waha-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* One hub's resource name; the context is (dict "root" $ "hub" $hub). */}}
{{- define "waha-operator.hubName" -}}
{{- printf "%s-hub-%s" (include "waha-operator.fullname" .root) .hub.name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "waha-operator.hubNamespace" -}}
{{- default .root.Release.Namespace .hub.namespace }}
{{- end }}

{{- define "waha-operator.hubSelectorLabels" -}}
{{ include "waha-operator.selectorLabels" .root }}
app.kubernetes.io/component: hub
waha.io/hub: {{ .hub.name }}
{{- end }}

{{/* The security context of every container of the chart. */}}
{{- define "waha-operator.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "waha-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The Lease rule alone, for the release namespace when it is not among watchNamespaces; the chart
test checks it is one of the controller's rules (_rbac.tpl).
*/}}
{{- define "waha-operator.leaderElectionRules" -}}
# leader election: only the Lease holder reconciles
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end }}
