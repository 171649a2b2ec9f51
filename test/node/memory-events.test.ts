/**
 * Kubernetes Events for dax memory errors, against an in-process fake API server spoken to by the
 * real @kubernetes/client-node code: a DaxMemoryError Warning on the PVC (controller) and on the
 * pod (node) once per transition, a DaxMemoryRecovered Normal when the error clears, node reports
 * through ConfigMaps, and no duplicate after a controller restart. Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { MiB } from '../../src/famfs/index.js';
import { tmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, mountScratch, privileged } from '../helpers/mounts.js';
import { testNodePlugin } from '../helpers/nodePlugin.js';
import { CLI, testController } from '../helpers/cluster.js';
import { FakeKubeApi } from '../helpers/fakeKubeApi.js';
import type { KubeObject } from '../helpers/fakeKubeApi.js';
import { until } from '../helpers/until.js';

const POLL_MS = 300;

function famfsCli(...args: string[]): void {
  execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: process.env });
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface EventObject extends KubeObject {
  involvedObject: { kind: string; name: string; namespace: string; uid: string };
  reason: string;
  type: string;
  message: string;
  source?: { component?: string; host?: string };
  count?: number;
}

test('memory errors become DaxMemoryError / DaxMemoryRecovered Events on the PVC and the pod, once per transition', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const api = new FakeKubeApi();
  await api.start();
  t.after(() => api.stop());
  const pool = await tmpPool({ size: 32 * MiB });
  t.after(() => pool.cleanup());
  const s = mountScratch(t, 'famfs-csi-events-');
  const health = { kubernetes: 'on' as const, kubeconfig: api.kubeconfigFile(s.dir), reports: 'kubernetes', intervalMs: POLL_MS };
  const node = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'node-a', dir: s.dir, plugin: { health, kmsg: 'off' } });
  t.after(node.cleanup);
  let ctl = await testController(s.dir, pool.path, { health });
  t.after(() => ctl.stop());

  // What the provisioner and the scheduler would have made: PV → PVC, and a pod on node-a.
  const vol = await ctl.create('pvc-1', 4 * MiB);
  const pvc = api.add('persistentvolumeclaims', { metadata: { name: 'shm', namespace: 'apps' }, spec: {} });
  api.add('persistentvolumes', {
    metadata: { name: 'pvc-1' },
    spec: { csi: { driver: 'famfs.csi.io', volumeHandle: vol.volume_id }, claimRef: { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'shm', uid: pvc.metadata.uid } },
  });
  api.add('persistentvolumes', { metadata: { name: 'other' }, spec: { csi: { driver: 'other.csi.io', volumeHandle: vol.volume_id }, claimRef: { namespace: 'apps', name: 'wrong', uid: 'x' } } });
  const pod = api.add('pods', { metadata: { name: 'writer', namespace: 'apps' }, spec: { nodeName: 'node-a' } });
  api.add('pods', { metadata: { name: 'elsewhere', namespace: 'apps' }, spec: { nodeName: 'node-b' } });
  const podUid = pod.metadata.uid!;
  await node.client.call('NodeStageVolume', node.stageRequest(vol.volume_id, 'pv', { volume_context: vol.volume_context }));
  await node.client.call('NodePublishVolume', node.publishRequest(vol.volume_id, 'pv', podUid, { volume_context: vol.volume_context }));

  const events = () => api.objects.events as EventObject[];
  const on = (kind: string, reason: string) => events().filter((e) => e.involvedObject.kind === kind && e.reason === reason);

  famfsCli('pool', 'inject-error', pool.path, '--volume', vol.volume_id, '--offset', '0', '--length', '8192');
  await until('DaxMemoryError on the PVC and the pod', () => on('PersistentVolumeClaim', 'DaxMemoryError').length > 0 && on('Pod', 'DaxMemoryError').length > 0);
  const [onPvc] = on('PersistentVolumeClaim', 'DaxMemoryError');
  assert.deepEqual(
    { ns: onPvc!.metadata.namespace, name: onPvc!.involvedObject.name, uid: onPvc!.involvedObject.uid, type: onPvc!.type, component: onPvc!.source?.component },
    { ns: 'apps', name: 'shm', uid: pvc.metadata.uid, type: 'Warning', component: 'famfs-csi-controller' },
  );
  assert.match(onPvc!.message, /poison on .* bytes 0x[0-9a-f]+-0x[0-9a-f]+ \(8192 bytes\)/);
  const [onPod] = on('Pod', 'DaxMemoryError');
  assert.deepEqual({ name: onPod!.involvedObject.name, uid: onPod!.involvedObject.uid, type: onPod!.type, component: onPod!.source?.component }, { name: 'writer', uid: podUid, type: 'Warning', component: 'famfs-csi-node' });
  // The node's report went through a ConfigMap.
  const cm = api.objects.configmaps.find((c) => c.metadata.name === 'famfs-csi-health-node-a');
  assert.ok(cm, 'a health report ConfigMap for node-a');

  // More polls do not make more events.
  await sleep(6 * POLL_MS);
  assert.equal(on('PersistentVolumeClaim', 'DaxMemoryError').length, 1);
  assert.equal(on('Pod', 'DaxMemoryError').length, 1);

  // A restarted controller sees the same transition and records nothing new.
  await ctl.stop();
  ctl = await testController(s.dir, pool.path, { health });
  await sleep(6 * POLL_MS);
  assert.equal(on('PersistentVolumeClaim', 'DaxMemoryError').length, 1, 'no duplicate after a restart');

  famfsCli('pool', 'clear-errors', pool.path);
  await until('DaxMemoryRecovered on the PVC and the pod', () => on('PersistentVolumeClaim', 'DaxMemoryRecovered').length > 0 && on('Pod', 'DaxMemoryRecovered').length > 0);
  await sleep(6 * POLL_MS);
  for (const kind of ['PersistentVolumeClaim', 'Pod']) {
    assert.equal(on(kind, 'DaxMemoryRecovered').length, 1, kind);
    assert.equal(on(kind, 'DaxMemoryRecovered')[0]!.type, 'Normal');
  }
  assert.equal(events().filter((e) => e.involvedObject.name === 'wrong' || e.involvedObject.name === 'elsewhere').length, 0);

  // A new error is a new transition: one more Warning each.
  famfsCli('pool', 'inject-error', pool.path, '--volume', vol.volume_id, '--offset', '4096', '--length', '1', '--kind', 'timeout');
  await until('a second DaxMemoryError', () => on('PersistentVolumeClaim', 'DaxMemoryError').length === 2 && on('Pod', 'DaxMemoryError').length === 2);
  assert.match(on('PersistentVolumeClaim', 'DaxMemoryError')[1]!.message, /timeout on /);
  famfsCli('pool', 'clear-errors', pool.path);
  await until('recovered again', () => on('Pod', 'DaxMemoryRecovered').length === 2);

  await node.client.call('NodeUnpublishVolume', { volume_id: vol.volume_id, target_path: node.targetPath(podUid, 'pv') });
  await node.client.call('NodeUnstageVolume', { volume_id: vol.volume_id, staging_target_path: node.stagingPath('pv') });
  assertNoMountsUnder(node.kubeletDir);
});
