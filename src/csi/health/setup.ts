import { join } from 'node:path';
import { connectKube } from '../kube/connect.js';
import type { Kube } from '../kube/connect.js';
import { ConfigMapReportChannel } from '../kube/configMapChannel.js';
import { KubeEventRecorder, LogEventRecorder } from '../kube/events.js';
import type { EventRecorder } from '../kube/events.js';
import type { Logger } from '../logger.js';
import { DirectoryReportChannel } from './reports.js';
import type { HealthReportChannel } from './reports.js';

/** How a plugin reports memory errors: Kubernetes, the node → controller channel, the poll period. */
export interface HealthSettings {
  /** auto: use the API server when running in a cluster (or given a kubeconfig); on: required; off: never. */
  kubernetes?: 'auto' | 'on' | 'off';
  kubeconfig?: string;
  /** "kubernetes" (ConfigMaps), "dir:PATH", or "off"; default: kubernetes when connected, else dir:<stateDir>/health. */
  reports?: string;
  /** Memory error poll period (default 2 s). */
  intervalMs?: number;
}

export function parseReportsSpec(spec: string): { kind: 'kubernetes' } | { kind: 'dir'; dir: string } | { kind: 'off' } {
  if (spec === 'kubernetes' || spec === 'off') return { kind: spec };
  if (spec.startsWith('dir:') && spec.length > 4) {
    const dir = spec.slice(4);
    if (!dir.startsWith('/')) throw new Error(`health reports: "${spec}": the directory must be an absolute path`);
    return { kind: 'dir', dir };
  }
  throw new Error(`health reports: "${spec}" must be kubernetes, dir:/absolute/path or off`);
}

export function connectFromSettings(s: HealthSettings, logger: Logger): Kube | undefined {
  return connectKube({ mode: s.kubernetes ?? 'auto', kubeconfig: s.kubeconfig }, logger);
}

export function reportChannel(s: HealthSettings, kube: Kube | undefined, stateDir: string): HealthReportChannel | undefined {
  const spec = parseReportsSpec(s.reports ?? (kube ? 'kubernetes' : `dir:${join(stateDir, 'health')}`));
  if (spec.kind === 'off') return undefined;
  if (spec.kind === 'dir') return new DirectoryReportChannel(spec.dir);
  if (!kube) throw new Error('health reports: "kubernetes" needs a connection to Kubernetes (run in a cluster, or give a kubeconfig)');
  return new ConfigMapReportChannel(kube);
}

export function eventRecorder(kube: Kube | undefined, component: string, instance: string, logger: Logger): EventRecorder {
  return kube ? new KubeEventRecorder(kube, { component, instance, logger }) : new LogEventRecorder({ component, instance, logger });
}
