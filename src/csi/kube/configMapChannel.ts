import { createHash } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { decodeReport, encodeReport } from '../health/reports.js';
import type { HealthReportChannel, NodeHealthReport } from '../health/reports.js';
import { apiStatus, describeApiError } from './connect.js';
import type { Kube } from './connect.js';

const PREFIX = 'famfs-csi-health-';
const MAX_NAME = 253;
const HASH_HEX = 8;
export const REPORT_KEY = 'report.json';
export const REPORT_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'famfs-csi',
  'app.kubernetes.io/component': 'health-report',
};
const SELECTOR = Object.entries(REPORT_LABELS)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The ConfigMap holding a node's report: famfs-csi-health-<node>. A node name that does not make
 * a valid DNS subdomain is cleaned up and gets a hash of the original appended, so two nodes whose
 * names clean up alike (Node_A, node-a) still get different ConfigMaps.
 */
export function reportConfigMapName(node: string): string {
  const raw = `${PREFIX}${node}`;
  if (raw.length <= MAX_NAME && DNS_SUBDOMAIN.test(raw)) return raw;
  const hash = createHash('sha256').update(node).digest('hex').slice(0, HASH_HEX);
  const cleaned = raw
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .split('.')
    .map((label) => label.replace(/^-+|-+$/g, ''))
    .filter((label) => label.length > 0)
    .join('.');
  const body = cleaned.slice(0, MAX_NAME - HASH_HEX - 1).replace(/[^a-z0-9]+$/, '');
  return `${body}-${hash}`;
}

/** Node reports as one ConfigMap per node in the driver's namespace. */
export class ConfigMapReportChannel implements HealthReportChannel {
  readonly description: string;
  private readonly namespace: string;

  constructor(
    private readonly kube: Kube,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = opts.namespace ?? kube.namespace;
    this.description = `configmaps in namespace ${this.namespace}`;
  }

  async publish(report: NodeHealthReport): Promise<void> {
    const name = reportConfigMapName(report.node);
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: this.namespace, labels: { ...REPORT_LABELS } },
      data: { [REPORT_KEY]: encodeReport(report) },
    };
    try {
      try {
        await this.write(name, body);
      } catch (err) {
        // Another writer created it between our replace (404) and create; replace it once more.
        if (apiStatus(err) !== 409) throw err;
        await this.write(name, body);
      }
    } catch (err) {
      throw new Error(`kubernetes: cannot publish the health report of node ${report.node} to ConfigMap ${this.namespace}/${name}: ${describeApiError(err)}`);
    }
  }

  async readAll(): Promise<NodeHealthReport[]> {
    let items: V1ConfigMap[];
    try {
      items = (await this.kube.core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector: SELECTOR })).items;
    } catch (err) {
      throw new Error(`kubernetes: cannot list health report ConfigMaps in namespace ${this.namespace} (labels ${SELECTOR}): ${describeApiError(err)}`);
    }
    const out: NodeHealthReport[] = [];
    for (const cm of items) {
      const text = cm.data?.[REPORT_KEY];
      const report = text === undefined ? undefined : decodeReport(text);
      if (report) out.push(report);
    }
    return out;
  }

  /** Replace (unconditionally: no resourceVersion) or create when it does not exist yet. */
  private async write(name: string, body: V1ConfigMap): Promise<void> {
    try {
      await this.kube.core.replaceNamespacedConfigMap({ namespace: this.namespace, name, body });
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
      await this.kube.core.createNamespacedConfigMap({ namespace: this.namespace, body });
    }
  }
}
