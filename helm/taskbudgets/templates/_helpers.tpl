{{/* vim: set filetype=mustache: */}}

{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "taskbudgets.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. Truncated to 52 characters so that suffixes such as
"-headless" and "-migrate" still fit in a 63-character name.
*/}}
{{- define "taskbudgets.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "taskbudgets.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskbudgets.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskbudgets.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "taskbudgets.labels" -}}
helm.sh/chart: {{ include "taskbudgets.chart" . }}
{{ include "taskbudgets.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: taskbudgets
{{- end }}

{{- define "taskbudgets.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskbudgets.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "taskbudgets.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "taskbudgets.isSqlite" -}}
{{- if eq .Values.database.provider "Sqlite" }}true{{ end }}
{{- end }}

{{/* The migration Job runs only for server databases in Job mode. */}}
{{- define "taskbudgets.migrationJob" -}}
{{- if and (eq .Values.migrations.mode "Job") (not (include "taskbudgets.isSqlite" .)) }}true{{ end }}
{{- end }}

{{/* Storage__MigrateOnStart: OnStart mode, or Job mode with Sqlite. */}}
{{- define "taskbudgets.migrateOnStart" -}}
{{- if or (eq .Values.migrations.mode "OnStart") (and (eq .Values.migrations.mode "Job") (include "taskbudgets.isSqlite" .)) }}true{{ else }}false{{ end }}
{{- end }}

{{- define "taskbudgets.secretName" -}}
{{- .Values.existingSecret | default (include "taskbudgets.fullname" .) }}
{{- end }}

{{/* The chart renders its own Secret only when it has something to put in it. */}}
{{- define "taskbudgets.renderSecret" -}}
{{- if and (not .Values.existingSecret) (or .Values.database.connectionString (include "taskbudgets.adminKeyInChartSecret" .)) }}true{{ end }}
{{- end }}

{{- define "taskbudgets.hasConnectionString" -}}
{{- if or .Values.existingSecret .Values.database.connectionString }}true{{ end }}
{{- end }}

{{/* The Secret the admin key comes from: auth.existingSecret, existingSecret, else the chart's own. */}}
{{- define "taskbudgets.adminKeySecretName" -}}
{{- .Values.auth.existingSecret | default (include "taskbudgets.secretName" .) }}
{{- end }}

{{/* Whether the chart's own Secret holds the admin key (given, or generated once). */}}
{{- define "taskbudgets.adminKeyInChartSecret" -}}
{{- if and (not .Values.auth.existingSecret) (not .Values.existingSecret) (or .Values.auth.adminKey .Values.auth.generateAdminKey) }}true{{ end }}
{{- end }}

{{/*
The admin key for the chart's Secret: auth.adminKey, else the key this release's
Secret already holds (so an upgrade keeps it), else a new one. One key for the
release, never one per pod. `helm template` has no cluster to look in, so it
shows a new key each time.
*/}}
{{- define "taskbudgets.adminKey" -}}
{{- if .Values.auth.adminKey }}
{{- .Values.auth.adminKey }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "taskbudgets.fullname" .) | default dict }}
{{- $kept := dig "data" .Values.secretKeys.adminKey "" $existing }}
{{- if $kept }}
{{- $kept | b64dec }}
{{- else }}
{{- printf "tb_%s" (randAlphaNum 43) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "taskbudgets.policyConfigMapName" -}}
{{- .Values.existingPolicyConfigMap | default (printf "%s-policy" (include "taskbudgets.fullname" .)) }}
{{- end }}

{{/* The policy file's text: `policy` may be a YAML string or structured values. */}}
{{- define "taskbudgets.policyText" -}}
{{- if kindIs "string" .Values.policy }}
{{- .Values.policy }}
{{- else }}
{{- toYaml .Values.policy }}
{{- end }}
{{- end }}

{{/*
Fail early, with a message that says what to change, on value combinations
that the JSON schema cannot express clearly.
*/}}
{{- define "taskbudgets.validate" -}}
{{- if include "taskbudgets.isSqlite" . }}
{{- if or (ne (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail (printf "database.provider=Sqlite supports exactly one replica: SQLite is a single-node file that replicas cannot share. Set replicaCount=1 and autoscaling.enabled=false (got replicaCount=%v, autoscaling.enabled=%v), or use database.provider=SqlServer or PostgreSql." .Values.replicaCount .Values.autoscaling.enabled) }}
{{- end }}
{{- else if not (include "taskbudgets.hasConnectionString" .) }}
{{- fail (printf "database.provider=%s needs a connection string: set database.connectionString, or existingSecret naming a Secret with key %q." .Values.database.provider .Values.secretKeys.connectionString) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)." .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) }}
{{- end }}
{{- if not (or .Values.auth.existingSecret .Values.existingSecret .Values.auth.adminKey .Values.auth.generateAdminKey) }}
{{- fail "auth.generateAdminKey=false needs an admin key from a Secret (auth.existingSecret or existingSecret) or auth.adminKey: without one, each pod would generate a key of its own." }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName: the Secret holding the certificate and key." }}
{{- end }}
{{- if and .Values.tls.clientCa.enabled (not .Values.tls.enabled) }}
{{- fail "tls.clientCa.enabled needs tls.enabled: client certificates are asked for over TLS." }}
{{- end }}
{{- if and .Values.tls.enabled .Values.tls.clientCa.enabled .Values.tls.clientCa.require .Values.tls.clientCa.requireOnHttpPort }}
{{- fail "tls.clientCa.requireOnHttpPort: the kubelet's probes and Prometheus reach the HTTP port without a client certificate; leave it false." }}
{{- end }}
{{- if .Values.podDisruptionBudget.enabled }}
{{- if and (kindIs "invalid" .Values.podDisruptionBudget.minAvailable) (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) }}
{{- fail "podDisruptionBudget: set one of minAvailable or maxUnavailable." }}
{{- end }}
{{- if and (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set only one of minAvailable and maxUnavailable (set the other to null)." }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Environment shared by the service and the migration Job: provider, data
directory, connection string. Argument: dict "root" $ "secretName" <name>.
*/}}
{{- define "taskbudgets.databaseEnv" -}}
{{- $root := .root -}}
- name: Storage__Provider
  value: {{ $root.Values.database.provider | quote }}
- name: Storage__DataDirectory
  value: /data
{{- if include "taskbudgets.hasConnectionString" $root }}
- name: ConnectionStrings__Governance
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ $root.Values.secretKeys.connectionString }}
      {{- if include "taskbudgets.isSqlite" $root }}
      # Sqlite falls back to Data Source=/data/governance.db.
      optional: true
      {{- end }}
{{- end }}
- name: TMPDIR
  value: /tmp
{{- end }}

{{- define "taskbudgets.grpcProbe" -}}
{{- $p := .probe -}}
{{- if and (eq .root.Values.probes.mode "grpc") (not .root.Values.tls.enabled) }}
grpc:
  port: {{ .root.Values.ports.grpc }}
  {{- if $p.grpcService }}
  service: {{ $p.grpcService | quote }}
  {{- end }}
{{- else }}
httpGet:
  path: {{ $p.httpPath }}
  port: http
  {{- if .root.Values.tls.enabled }}
  # The kubelet's gRPC probe has no TLS; its HTTPS probe does not verify the certificate.
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- if hasKey $p "initialDelaySeconds" }}
initialDelaySeconds: {{ $p.initialDelaySeconds }}
{{- end }}
periodSeconds: {{ $p.periodSeconds }}
timeoutSeconds: {{ $p.timeoutSeconds }}
failureThreshold: {{ $p.failureThreshold }}
{{- end }}
