{{- define "dpfhcp.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dpfhcp.serviceAccountName" -}}
{{- default (include "dpfhcp.name" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "dpfhcp.selectorLabels" -}}
app.kubernetes.io/name: dpf-hcp-provisioner-operator
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{- define "dpfhcp.labels" -}}
{{ include "dpfhcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "dpfhcp.annotations" -}}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "dpfhcp.webhookService" -}}
{{ include "dpfhcp.name" . }}-webhook
{{- end -}}
