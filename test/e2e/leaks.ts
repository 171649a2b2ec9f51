import type { Kubectl } from './kubectl.js';
import type { E2eEnv } from './env.js';
import { volumeMounts } from './mountinfo.js';

/**
 * What must be the same before and after a scenario (pmem-csi's volumeleaks idea): the pool's
 * volumes and free space (from `famfs-csi pool ls --json` in a node plugin) and every node's famfs
 * volume bind mounts (from the node plugin's /proc/self/mountinfo).
 */
export interface LeakSnapshot {
  freeBytes: number;
  /** famfs volume directories: csi/<id>. */
  volumes: string[];
  /** node -> volume bind mount points. */
  mounts: Record<string, string[]>;
}

export interface PoolLs {
  pool: { freeBytes: number; usedBytes: number; largestFreeRun: number; files: number };
  entries: Array<{ path: string; type: string; size?: number }>;
}

export interface PluginPod {
  name: string;
  node: string;
}

export function nodePluginPods(k: Kubectl, env: E2eEnv): PluginPod[] {
  const pods = k.json<{ items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string } }> }>([
    'get', 'pods', '--namespace', env.namespace, '-l', `app.kubernetes.io/instance=${env.release},app.kubernetes.io/component=node`,
  ]);
  return pods.items.filter((p) => p.status.phase === 'Running').map((p) => ({ name: p.metadata.name, node: p.spec.nodeName }));
}

export function poolLs(k: Kubectl, env: E2eEnv, pod?: string): PoolLs {
  const target = pod ?? nodePluginPods(k, env)[0]?.name;
  if (!target) throw new Error('no running node plugin pod');
  const r = k.exec(env.namespace, target, 'famfs-csi', ['famfs-csi', 'pool', 'ls', env.poolDevice, '--json', '--reclaim', 'safe']);
  if (r.status !== 0) throw new Error(`famfs-csi pool ls failed in ${target}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as PoolLs;
}

export function volumeDirs(ls: PoolLs): string[] {
  return ls.entries.filter((e) => e.type === 'directory' && /^csi\/[0-9a-f]{32}$/.test(e.path)).map((e) => e.path).sort();
}

export function snapshot(k: Kubectl, env: E2eEnv): LeakSnapshot {
  const pods = nodePluginPods(k, env);
  const ls = poolLs(k, env, pods[0]?.name);
  const mounts: Record<string, string[]> = {};
  for (const p of pods) {
    const info = k.exec(env.namespace, p.name, 'famfs-csi', ['cat', '/proc/self/mountinfo']);
    if (info.status !== 0) throw new Error(`cannot read mountinfo in ${p.name}: ${info.stderr.trim()}`);
    mounts[p.node] = volumeMounts(info.stdout).map((m) => m.mountPoint).sort();
  }
  return { freeBytes: ls.pool.freeBytes, volumes: volumeDirs(ls), mounts };
}

/** Human-readable leaks: what `after` has that `before` had not, and space not given back. */
export function leaks(before: LeakSnapshot, after: LeakSnapshot): string[] {
  const out: string[] = [];
  for (const v of after.volumes.filter((x) => !before.volumes.includes(x))) out.push(`famfs volume ${v} is left in the pool`);
  for (const [node, mounts] of Object.entries(after.mounts)) {
    const was = before.mounts[node] ?? [];
    for (const m of mounts.filter((x) => !was.includes(x))) out.push(`bind mount ${m} is left on node ${node}`);
  }
  if (after.volumes.length <= before.volumes.length && after.freeBytes < before.freeBytes) {
    out.push(`pool free space did not return: ${before.freeBytes} bytes before, ${after.freeBytes} after`);
  }
  return out;
}
