import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { e2eEnv } from './env.js';
import type { E2eEnv } from './env.js';
import { Kubectl, eventually } from './kubectl.js';
import { leaks, snapshot } from './leaks.js';
import { collectDiagnostics } from './diagnostics.js';

/**
 * One e2e scenario: its own namespace (label famfs-e2e/scenario), a leak snapshot before and a
 * leak check after (nothing of it may remain in the pool or in any node's mounts), diagnostics
 * into the diagnostics directory when it fails, and cleanup whatever happens.
 */
export interface ScenarioContext {
  t: TestContext;
  k: Kubectl;
  env: E2eEnv;
  ns: string;
  /** Nodes that report the pool's topology label (where volumes can be used), sorted. */
  poolNodes: string[];
  apply(manifest: object | object[]): void;
  waitRunning(pod: string): void;
  waitBound(pvc: string): void;
  /** The node a pod runs on. */
  nodeOf(pod: string): string;
  /** The CSI volume handle (pool:id) of a bound claim. */
  volumeHandle(pvc: string): string;
  /** Reasons and messages of the Events about one object of this namespace (or another). */
  events(kind: string, name: string, namespace?: string): Array<{ reason: string; message: string; type: string; source: string }>;
  sh(pod: string, script: string): string;
}

export function scenario(name: string, body: (ctx: ScenarioContext) => Promise<void> | void): void {
  test(name, async (t) => {
    const env = e2eEnv();
    const k = new Kubectl(env.kubectl, env.timeoutSeconds);
    const ns = `famfs-e2e-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40)}`;
    const topologyKey = `famfs.csi.io/pool-${env.pool}`;
    const poolNodes = k
      .run(['get', 'nodes', '-l', `${topologyKey}=true`, '-o', 'jsonpath={.items[*].metadata.name}'])
      .stdout.split(/\s+/)
      .filter(Boolean)
      .sort();
    const before = snapshot(k, env);
    k.run(['create', 'namespace', ns]);
    k.run(['label', 'namespace', ns, 'famfs-e2e/scenario=true']);
    const ctx: ScenarioContext = {
      t,
      k,
      env,
      ns,
      poolNodes,
      apply: (m) => k.apply(ns, m),
      waitRunning: (pod) => k.wait(ns, `pod/${pod}`, 'condition=Ready'),
      waitBound: (pvc) => k.wait(ns, `pvc/${pvc}`, 'jsonpath={.status.phase}=Bound'),
      nodeOf: (pod) => k.run(['get', 'pod', pod, '--namespace', ns, '-o', 'jsonpath={.spec.nodeName}']).stdout.trim(),
      volumeHandle: (pvc) => {
        const pv = k.run(['get', 'pvc', pvc, '--namespace', ns, '-o', 'jsonpath={.spec.volumeName}']).stdout.trim();
        return k.run(['get', 'pv', pv, '-o', 'jsonpath={.spec.csi.volumeHandle}']).stdout.trim();
      },
      events: (kind, objName, namespace) =>
        k
          .json<{ items: Array<{ reason: string; message: string; type: string; source?: { component?: string }; reportingComponent?: string }> }>([
            'get', 'events', '--namespace', namespace ?? ns, '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${objName}`,
          ])
          .items.map((e) => ({ reason: e.reason, message: e.message, type: e.type, source: e.source?.component || e.reportingComponent || '' })),
      sh: (pod, script) => k.sh(ns, pod, script),
    };
    let failed = false;
    try {
      await body(ctx);
    } catch (e) {
      failed = true;
      const dir = collectDiagnostics(k, { dir: env.diagnosticsDir, label: name, releaseNamespace: env.namespace, release: env.release, namespaces: [ns] });
      t.diagnostic(`diagnostics: ${dir}`);
      throw e;
    } finally {
      k.run(['delete', 'namespace', ns, '--wait=true', `--timeout=${env.timeoutSeconds}s`], { allowFailure: true });
      k.run(['delete', 'storageclass', '-l', 'famfs-e2e/scenario'], { allowFailure: true });
    }
    // PVs of the namespace go away asynchronously (DeleteVolume); then nothing may be left.
    let left: string[] = [];
    try {
      await eventually(`no leaks after "${name}"`, env.timeoutSeconds, () => {
        left = leaks(before, snapshot(k, env));
        return left.length === 0 ? true : undefined;
      }, 3000);
    } catch {
      if (!failed) collectDiagnostics(k, { dir: env.diagnosticsDir, label: `${name}-leaks`, releaseNamespace: env.namespace, release: env.release });
    }
    assert.deepEqual(left, [], `leaks after "${name}"`);
  });
}
