{{/* The CSI driver name; fixed by the plugin (GetPluginInfo). */}}
{{- define "famfs-csi.driverName" -}}famfs.csi.io{{- end -}}

{{- define "famfs-csi.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name prefix: the release name, or release-chart when they differ. */}}
{{- define "famfs-csi.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "famfs-csi.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "famfs-csi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: famfs-csi
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "controller") */}}
{{- define "famfs-csi.componentLabels" -}}
{{ include "famfs-csi.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "famfs-csi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "famfs-csi.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* famfs-csi image of a component: (dict "root" $ "image" .Values.node.image) */}}
{{- define "famfs-csi.image" -}}
{{- $repo := .image.repository | default .root.Values.image.repository -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- define "famfs-csi.pullPolicy" -}}
{{- .image.pullPolicy | default .root.Values.image.pullPolicy -}}
{{- end -}}

{{/* A sidecar image: repository:tag */}}
{{- define "famfs-csi.sidecarImage" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{- define "famfs-csi.configPath" -}}/etc/famfs-csi/config.yaml{{- end -}}

{{/* The configuration file every component reads (README "Configuration"). */}}
{{- define "famfs-csi.config" -}}
stateDir: {{ .Values.stateDir }}
kubeletDir: {{ .Values.kubeletDir }}
pools:
{{- toYaml .Values.pools | nindent 2 }}
{{- end -}}

{{/* "true" when a pool is a real dax device (not emulated): pods then need /dev and privilege. */}}
{{- define "famfs-csi.hasDaxDevice" -}}
{{- $dax := false -}}
{{- range .Values.pools -}}
{{- if not .emulated -}}{{- $dax = true -}}{{- end -}}
{{- end -}}
{{- if $dax -}}true{{- end -}}
{{- end -}}

{{/* Host directories of the emulated pools' files (and their poison lists), one per line, sorted. */}}
{{- define "famfs-csi.emulatedPoolDirs" -}}
{{- $dirs := dict -}}
{{- range .Values.pools -}}
{{- if .emulated -}}{{- $_ := set $dirs (dir .device) true -}}{{- end -}}
{{- end -}}
{{- range $d, $_ := $dirs }}
{{ $d }}
{{- end -}}
{{- end -}}

{{/* Volumes for the emulated pool directories. */}}
{{- define "famfs-csi.poolDirVolumes" -}}
{{- range $i, $d := (include "famfs-csi.emulatedPoolDirs" . | trim | splitList "\n" | compact) }}
- name: pool-dir-{{ $i }}
  hostPath:
    path: {{ $d }}
    type: DirectoryOrCreate
{{- end }}
{{- end -}}

{{- define "famfs-csi.poolDirMounts" -}}
{{- range $i, $d := (include "famfs-csi.emulatedPoolDirs" . | trim | splitList "\n" | compact) }}
- name: pool-dir-{{ $i }}
  mountPath: {{ $d }}
{{- end }}
{{- end -}}

{{/* Environment shared by famfs-csi containers. */}}
{{- define "famfs-csi.commonEnv" -}}
- name: FAMFS_CSI_CONFIG
  value: {{ include "famfs-csi.configPath" . }}
- name: FAMFS_SYSTEM_UUID_FILE
  value: {{ .Values.systemUuidDir }}/system_uuid
- name: FAMFS_CSI_LOG_FORMAT
  value: {{ .Values.logFormat }}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end -}}

{{/* The checksum of the configuration, so plugins restart when the pools change. */}}
{{- define "famfs-csi.configChecksum" -}}
{{- include "famfs-csi.config" . | sha256sum -}}
{{- end -}}

{{/* CSI sidecars: root (the plugin socket is 0600 root), nothing else. */}}
{{- define "famfs-csi.sidecarSecurityContext" -}}
runAsUser: 0
runAsNonRoot: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
