import type { K8sObject } from './helm.js';

/** Typed views of rendered workloads for the chart tests. */
export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string; mountPropagation?: string; readOnly?: boolean }>;
  securityContext?: { privileged?: boolean; capabilities?: { drop?: string[] }; readOnlyRootFilesystem?: boolean };
  resources?: Record<string, unknown>;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  containers: Container[];
  volumes?: Array<{ name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string }; emptyDir?: object }>;
}

export interface Workload extends K8sObject {
  spec: { replicas?: number; strategy?: { type: string }; updateStrategy?: { type: string }; template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } };
}

export function workload(objects: K8sObject[], kind: 'Deployment' | 'DaemonSet', suffix: string): Workload {
  const w = objects.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
  if (!w) throw new Error(`no ${kind} *${suffix}`);
  return w as Workload;
}

export function container(w: Workload, name: string): Container {
  const c = w.spec.template.spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${w.metadata.name} has no container ${name}`);
  return c;
}

export function podSpec(w: Workload): PodSpec {
  return w.spec.template.spec;
}
