{{/* Names, labels and the image, shared by every template. */}}

{{- define "affluent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "affluent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "affluent.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "affluent.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "affluent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "affluent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: affluent
{{- end }}

{{/* selectorLabels takes (dict "ctx" $ "component" "broker"). */}}
{{- define "affluent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "affluent.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "affluent.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "affluent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "affluent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the key brokers present to the control plane. */}}
{{- define "affluent.brokerSecretName" -}}
{{- default (printf "%s-broker-auth" (include "affluent.fullname" .)) .Values.brokerAuth.existingSecret }}
{{- end }}

{{/* Environment every Affluent container gets: logging and store secrets. */}}
{{- define "affluent.env" -}}
- name: AFFLUENT_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: AFFLUENT_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}

{{- define "affluent.envFrom" -}}
{{- if .Values.storage.existingSecret }}
- secretRef:
    name: {{ .Values.storage.existingSecret }}
{{- end }}
{{- end }}

{{/* Probes: /healthz is liveness, /readyz readiness, on the HTTP port. */}}
{{- define "affluent.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 60
{{- end }}

{{- define "affluent.tlsVolume" -}}
{{- if .Values.kafka.tls.enabled }}
- name: tls
  secret:
    secretName: {{ required "kafka.tls.existingSecret is required when kafka.tls.enabled" .Values.kafka.tls.existingSecret }}
{{- end }}
{{- end }}

{{- define "affluent.tlsMount" -}}
{{- if .Values.kafka.tls.enabled }}
- name: tls
  mountPath: /etc/affluent/tls
  readOnly: true
{{- end }}
{{- end }}

{{/* Scheduling of a component's pods; spread constraints select its pods. */}}
{{- define "affluent.scheduling" -}}
{{- with .ctx.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .ctx.Values.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range .ctx.Values.topologySpreadConstraints }}
  - {{- toYaml . | nindent 4 }}
    labelSelector:
      matchLabels:
        {{- include "affluent.selectorLabels" (dict "ctx" $.ctx "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}
