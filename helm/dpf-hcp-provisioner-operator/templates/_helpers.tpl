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
{{ include "dpfhcp.releaseLabels" . }}
{{- end -}}

{{- /* Labels of every object but the selector's (the test pod must not be selected). */ -}}
{{- define "dpfhcp.releaseLabels" -}}
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

{{- /*
What the operator reads and writes in a provisioner's namespace (its HostedCluster's too), its
DPUCluster's namespace and its hosted control plane's namespace (<namespace>-<name>). One rule set,
granted cluster-wide or per watched namespace (rbac.yaml).
*/ -}}
{{- define "dpfhcp.namespacedRules" -}}
# The resource it serves: listed and watched; read fresh before a finalizer or status write;
# patched for its finalizer (JSON patch). Never created, replaced or deleted.
- apiGroups: [provisioning.dpu.hcp.io]
  resources: [dpfhcpprovisioners]
  verbs: [get, list, watch, patch]
# Its conditions, phase and references (PUT on /status).
- apiGroups: [provisioning.dpu.hcp.io]
  resources: [dpfhcpprovisioners/status]
  verbs: [update]
# HostedCluster and NodePool next to the provisioner: applied (get, create, patch), watched by
# label, deleted by the finalizer.
- apiGroups: [hypershift.openshift.io]
  resources: [hostedclusters, nodepools]
  verbs: [get, list, watch, create, patch, delete]
# The DPUCluster: read (exists, type), watched, and spec.kubeconfig patched to the injected secret.
- apiGroups: [provisioning.dpu.nvidia.com]
  resources: [dpuclusters]
  verbs: [get, list, watch, patch]
# DPUs of the DPUCluster: listed and watched to decide whose CSRs are approved and which BFB and
# DPUFlavor need a bf.cfg template; never written.
- apiGroups: [provisioning.dpu.nvidia.com]
  resources: [dpus]
  verbs: [list, watch]
# A DPUFlavor's skip-bfcfg-size-check annotation, read when a bf.cfg template is over DPF's 128 KiB.
- apiGroups: [provisioning.dpu.nvidia.com]
  resources: [dpuflavors]
  verbs: [get]
# Secrets. Read: the pull secret and SSH key, HyperShift's admin kubeconfig, and in the control
# plane's namespace the ignition CA and the NodePool's token (listed: its name ends in a hash).
# Watched as metadata only. Written: the copies next to the HostedCluster and the kubeconfig given
# to DPF (created, patched; listed by label and deleted by the finalizer).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
# ConfigMaps written: the MachineConfig ConfigMap next to the HostedCluster (applied, watched by
# label, deleted by the finalizer), and the bf.cfg template earlier versions wrote next to the
# DPUCluster (deleted). The bf.cfg templates themselves are in DPF's namespace (rbac.yaml).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, delete]
# Events on the provisioner: condition transitions and CSRs left pending.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}
