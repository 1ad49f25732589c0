{{/* Chart name, at most 63 characters. */}}
{{- define "machvm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless the release name contains it. */}}
{{- define "machvm.fullname" -}}
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

{{- define "machvm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "machvm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "machvm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "machvm.labels" -}}
helm.sh/chart: {{ include "machvm.chart" . }}
{{ include "machvm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Memory arithmetic, in MiB. The container's limit is page store + heap + overhead; the JVM may use
heap (-Xmx) + direct memory (-XX:MaxDirectMemorySize = store + headroom) + the rest of the overhead, which adds up
to the same limit. src/main/docker/entrypoint.sh derives the same flags from a limit when they are not given.
*/}}
{{- define "machvm.memoryLimitMiB" -}}
{{- add (int .Values.machvm.store.capacityMiB) (int .Values.jvm.heapMiB) (int .Values.jvm.overheadMiB) }}
{{- end }}

{{- define "machvm.maxDirectMemoryMiB" -}}
{{- add (int .Values.machvm.store.capacityMiB) (int .Values.jvm.directHeadroomMiB) }}
{{- end }}

{{- define "machvm.javaToolOptions" -}}
{{- $options := list (printf "-Xmx%dm" (int .Values.jvm.heapMiB)) (printf "-XX:MaxDirectMemorySize=%sm" (include "machvm.maxDirectMemoryMiB" .)) }}
{{- with .Values.jvm.extraOptions }}
{{- $options = append $options . }}
{{- end }}
{{- join " " $options }}
{{- end }}

{{/* Stops rendering with one line naming the value when sizes cannot work. */}}
{{- define "machvm.validate" -}}
{{- $capacity := int .Values.machvm.store.capacityMiB }}
{{- $heap := int .Values.jvm.heapMiB }}
{{- $overhead := int .Values.jvm.overheadMiB }}
{{- $headroom := int .Values.jvm.directHeadroomMiB }}
{{- if lt $capacity 1 }}
{{- fail (printf "machvm.store.capacityMiB must be at least 1, not %d" $capacity) }}
{{- end }}
{{- if not (has (int .Values.machvm.store.slabSizeMiB) (list 1 2 4 8 16 32 64 128 256 512 1024)) }}
{{- fail (printf "machvm.store.slabSizeMiB must be a power of two from 1 to 1024, not %v" .Values.machvm.store.slabSizeMiB) }}
{{- end }}
{{- if lt $heap 128 }}
{{- fail (printf "jvm.heapMiB must be at least 128, not %d" $heap) }}
{{- end }}
{{- if or (lt $headroom 16) (ge $headroom $overhead) }}
{{- fail (printf "jvm.directHeadroomMiB must be at least 16 and below jvm.overheadMiB (%d), not %d" $overhead $headroom) }}
{{- end }}
{{- if lt (int .Values.machvm.api.maxTransferMiB) 1 }}
{{- fail (printf "machvm.api.maxTransferMiB must be at least 1, not %v" .Values.machvm.api.maxTransferMiB) }}
{{- end }}
{{- if lt (int .Values.machvm.tasks.max) 1 }}
{{- fail (printf "machvm.tasks.max must be at least 1, not %v" .Values.machvm.tasks.max) }}
{{- end }}
{{- if lt (int .Values.replicaCount) 1 }}
{{- fail (printf "replicaCount must be at least 1, not %v" .Values.replicaCount) }}
{{- end }}
{{- if lt (int .Values.persistence.saveMiBPerSecond) 1 }}
{{- fail (printf "persistence.saveMiBPerSecond must be at least 1, not %v" .Values.persistence.saveMiBPerSecond) }}
{{- end }}
{{- end }}

{{/*
Environment of machvm.security.*: the mode, API keys from a Secret (one variable per tenant), admins, allowed hosts,
and the JWT issuer. Fails on a combination that cannot start.
*/}}
{{- define "machvm.securityEnv" -}}
{{- $s := .Values.security -}}
{{- if not (has $s.mode (list "protected" "api-key" "jwt" "none")) -}}
{{- fail (printf "security.mode must be protected, api-key, jwt or none, not %q" $s.mode) -}}
{{- end -}}
- name: MACHVM_SECURITY_MODE
  value: {{ $s.mode | quote }}
{{- if eq $s.mode "api-key" }}
{{- if or (not $s.apiKeys.existingSecret) (not $s.apiKeys.tenants) }}
{{- fail "security.mode=api-key needs security.apiKeys.existingSecret and security.apiKeys.tenants" }}
{{- end }}
{{- range $s.apiKeys.tenants }}
{{- if not (regexMatch "^[a-z0-9][a-z0-9.]*$" .) }}
{{- fail (printf "security.apiKeys.tenants: %q must be lower-case letters, digits and '.' (an environment variable name)" .) }}
{{- end }}
- name: MACHVM_SECURITY_APIKEYS_{{ . | upper | replace "." "_" }}
  valueFrom:
    secretKeyRef:
      name: {{ $s.apiKeys.existingSecret }}
      key: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $s.adminTenants }}
- name: MACHVM_SECURITY_ADMINTENANTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $s.allowedHosts }}
- name: MACHVM_SECURITY_ALLOWEDHOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- if eq $s.mode "jwt" }}
{{- if not (or $s.jwt.issuerUri $s.jwt.jwkSetUri) }}
{{- fail "security.mode=jwt needs security.jwt.issuerUri or security.jwt.jwkSetUri" }}
{{- end }}
{{- with $s.jwt.issuerUri }}
- name: SPRING_SECURITY_OAUTH2_RESOURCESERVER_JWT_ISSUERURI
  value: {{ . | quote }}
{{- end }}
{{- with $s.jwt.jwkSetUri }}
- name: SPRING_SECURITY_OAUTH2_RESOURCESERVER_JWT_JWKSETURI
  value: {{ . | quote }}
{{- end }}
- name: MACHVM_SECURITY_TENANTCLAIM
  value: {{ $s.jwt.tenantClaim | quote }}
{{- end }}
{{- end }}

{{/*
Seconds Kubernetes waits after SIGTERM before SIGKILL: the preStop sleep, the drain of requests in flight
(spring.lifecycle.timeout-per-shutdown-phase, 20 s), writing a full page store at persistence.saveMiBPerSecond, and
a margin. A number in terminationGracePeriodSeconds replaces the computation.
*/}}
{{- define "machvm.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds }}
{{- int .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- $capacity := int .Values.machvm.store.capacityMiB }}
{{- $rate := int .Values.persistence.saveMiBPerSecond }}
{{- $save := 0 }}
{{- if .Values.persistence.enabled }}
{{- $save = div (add $capacity $rate -1) $rate }}
{{- end }}
{{- add (int .Values.preStopSleepSeconds) 20 $save 10 }}
{{- end }}
{{- end }}

{{/* The headless Service of the shards: pod i is <fullname>-i.<this>. */}}
{{- define "machvm.shardsService" -}}
{{- printf "%s-shards" (include "machvm.fullname" .) }}
{{- end }}

{{/* Shard i's URL, with {i} for the index. */}}
{{- define "machvm.peerTemplate" -}}
{{- printf "http://%s-{i}.%s.%s.svc.%s:8080" (include "machvm.fullname" .) (include "machvm.shardsService" .) (.Release.Namespace | default "default") .Values.cluster.domain }}
{{- end }}

{{/* The cluster settings of every shard (io.machvm.cluster.ClusterProperties). */}}
{{- define "machvm.clusterEnv" -}}
- name: MACHVM_CLUSTER_ENABLED
  value: "true"
# shard 0 makes the first table for this many shards; the others copy it from shard 0 (MACHVM_CLUSTER_JOIN)
- name: MACHVM_CLUSTER_SHARDS
  value: {{ int (.Values.cluster.initialShards | default .Values.replicaCount) | quote }}
- name: MACHVM_CLUSTER_PEERS
  value: {{ include "machvm.peerTemplate" . | quote }}
- name: MACHVM_CLUSTER_JOIN
  value: {{ include "machvm.peerTemplate" . | replace "{i}" "0" | quote }}
- name: MACHVM_CLUSTER_MOVEWAIT
  value: "{{ int .Values.cluster.moveWaitSeconds }}s"
# the shards' calls to each other authenticate with it (machvm.cluster.secret)
- name: MACHVM_CLUSTER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "machvm.clusterSecretName" . }}
      key: {{ .Values.cluster.secret.key | quote }}
{{- end }}

{{/* The Secret that holds the cluster secret: the user's, or the one the chart makes. */}}
{{- define "machvm.clusterSecretName" -}}
{{- .Values.cluster.secret.existingSecret | default (printf "%s-cluster" (include "machvm.fullname" .)) }}
{{- end }}
