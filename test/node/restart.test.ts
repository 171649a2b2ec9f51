/**
 * Surviving restarts: kill -9 of the node plugin (a `famfs-csi node` subprocess) mid-way through
 * the kubelet sequence, and kill -9 of a pool's FUSE server. Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MiB } from '../../src/famfs/index.js';
import { findMount, isReadOnlyMount } from '../../src/fuse/mountTable.js';
import { Mounter } from '../../src/node/mounter.js';
import { scratchDir, tmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, cleanupMounts, mountsBelow, privileged } from '../helpers/mounts.js';
import { serverPidsUnder } from '../helpers/nodePlugin.js';
import { nodeWithController, readAt, spawnNodePlugin, testController, writeAt } from '../helpers/cluster.js';
import { CsiTestClient } from '../helpers/csiClient.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('restart: kill -9 of the node plugin mid-way; the restarted plugin adopts the pool mount and the published volumes', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const pool = await tmpPool({ size: 64 * MiB });
  t.after(() => pool.cleanup());
  const s = scratchDir('famfs-csi-restart-');
  t.after(() => {
    for (const pid of serverPidsUnder(s.dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  const ctl = await testController(s.dir, pool.path);
  t.after(ctl.stop);
  const kubelet = join(s.dir, 'kubelet');
  const staging = (name: string) => join(kubelet, 'plugins', 'kubernetes.io', 'csi', 'famfs.csi.io', name, 'globalmount');
  const target = (pod: string, name: string) => join(kubelet, 'pods', pod, 'volumes', 'kubernetes.io~csi', name, 'mount');
  for (const p of [staging('pv1'), staging('pv2'), target('pod', 'pv1'), target('pod', 'pv2')]) mkdirSync(join(p, '..'), { recursive: true });
  const cap = { mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } };
  const stageReq = (v: string, name: string) => ({ volume_id: v, staging_target_path: staging(name), volume_capability: cap });
  const publishReq = (v: string, name: string, readonly = false) => ({ volume_id: v, staging_target_path: staging(name), target_path: target('pod', name), volume_capability: cap, readonly });

  const v1 = await ctl.create('pvc-1', 2 * MiB);
  const v2 = await ctl.create('pvc-2', 2 * MiB);
  let node = await spawnNodePlugin({ dir: s.dir, device: pool.path, nodeId: 'node-r' });
  t.after(() => node.kill9());
  await node.client.call('NodeStageVolume', stageReq(v1.volume_id, 'pv1'));
  await node.client.call('NodePublishVolume', publishReq(v1.volume_id, 'pv1', true));
  const servers = serverPidsUnder(s.dir);
  assert.equal(servers.length, 1);
  const poolMount = findMount(join(s.dir, 'state', 'pools', 'pool0'))!;
  const bytes = randomBytes(1000);
  writeAt(join(staging('pv1'), 'data'), 12345, bytes);

  // kill -9 while a NodeStage is in flight
  const inflight = node.client.call('NodeStageVolume', stageReq(v2.volume_id, 'pv2')).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 15));
  await node.kill9();
  await inflight;
  assert.ok(alive(servers[0]!), 'the FUSE server outlives the node plugin');
  assert.equal(isReadOnlyMount(findMount(target('pod', 'pv1'))!), true, 'the published volume is still mounted');
  assert.deepEqual(readAt(join(target('pod', 'pv1'), 'data'), 12345, 1000), bytes, 'and still serves');

  node = await spawnNodePlugin({ dir: s.dir, device: pool.path, nodeId: 'node-r' });
  assert.match(node.output(), /node plugin started/);
  assert.match(node.output(), /pool FUSE mount found and adopted/);
  // the kubelet repeats what it had not seen finish; everything is idempotent and adopted
  await node.client.call('NodeStageVolume', stageReq(v1.volume_id, 'pv1'));
  await node.client.call('NodePublishVolume', publishReq(v1.volume_id, 'pv1', true));
  await node.client.call('NodeStageVolume', stageReq(v2.volume_id, 'pv2'));
  await node.client.call('NodePublishVolume', publishReq(v2.volume_id, 'pv2'));
  assert.deepEqual(serverPidsUnder(s.dir), servers, 'no new FUSE server: the pool mount was adopted');
  const adopted = findMount(join(s.dir, 'state', 'pools', 'pool0'))!;
  assert.equal(adopted.id, poolMount.id);
  const conflict = await node.client.fail('NodePublishVolume', publishReq(v1.volume_id, 'pv1', false));
  assert.equal(conflict.code, 6 /* ALREADY_EXISTS */, 'the restarted plugin knows v1 is published read-only');
  const stats = await node.client.call('NodeGetVolumeStats', { volume_id: v1.volume_id, volume_path: target('pod', 'pv1') });
  assert.equal(stats.volume_condition.abnormal, false);
  writeAt(join(target('pod', 'pv2'), 'data'), 0, 'after restart');
  assert.equal(readAt(join(staging('pv2'), 'data'), 0, 13).toString(), 'after restart');

  // a clean stop (SIGTERM) leaves every mount in place as well
  assert.equal(await node.terminate(), 0);
  assert.ok(findMount(target('pod', 'pv2')));
  assert.ok(alive(servers[0]!));
  node = await spawnNodePlugin({ dir: s.dir, device: pool.path, nodeId: 'node-r' });
  for (const [v, name] of [
    [v1.volume_id, 'pv1'],
    [v2.volume_id, 'pv2'],
  ] as const) {
    await node.client.call('NodeUnpublishVolume', { volume_id: v, target_path: target('pod', name) });
    await node.client.call('NodeUnstageVolume', { volume_id: v, staging_target_path: staging(name) });
  }
  assertNoMountsUnder(kubelet);
});

test('restart: kill -9 of the FUSE server shows abnormal stats; the next stage replaces the dead mount and a republish heals the volume', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t, { nodeId: 'node-k' });
  const v1 = await ctl.create('pvc-1', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v1.volume_id, 'pv1'));
  await n.client.call('NodePublishVolume', n.publishRequest(v1.volume_id, 'pv1', 'pod'));
  const bytes = randomBytes(4096);
  writeAt(join(n.targetPath('pod', 'pv1'), 'data'), 4096, bytes);
  const mp = join(n.plugin.stateDir, 'pools', 'pool0');
  const before = findMount(mp)!;
  const [server] = serverPidsUnder(n.dir);
  assert.ok(server);
  assert.deepEqual(await n.plugin.servers.checkHealth(), { pool0: 'healthy' });

  process.kill(server, 'SIGKILL');
  for (let i = 0; i < 100 && alive(server); i++) await new Promise((r) => setTimeout(r, 20));

  const stats = await n.client.call('NodeGetVolumeStats', { volume_id: v1.volume_id, volume_path: n.targetPath('pod', 'pv1') });
  assert.equal(stats.volume_condition.abnormal, true);
  assert.match(stats.volume_condition.message, new RegExp(`FUSE server of pool pool0 \\(mounted at ${mp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is gone: (ENOTCONN|ECONNABORTED|EIO) at \\d{4}-\\d\\d-\\d\\dT`));
  assert.equal(stats.usage.length, 2, 'usage is always there (kubelet rejects an empty list)');
  assert.deepEqual(await n.plugin.servers.checkHealth(), { pool0: 'dead' });

  // the next NodeStage of another volume cleans the dead mount and starts a new server
  const v2 = await ctl.create('pvc-2', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v2.volume_id, 'pv2'));
  const after = findMount(mp)!;
  assert.equal(after.fsType, 'fuse.famfs');
  assert.notDeepEqual([after.major, after.minor], [before.major, before.minor], 'a new FUSE mount');
  const [fresh] = serverPidsUnder(n.dir);
  assert.ok(fresh && fresh !== server);
  assert.deepEqual(await n.plugin.servers.checkHealth(), { pool0: 'healthy' });
  assert.equal(findMount(join(mp, 'pools')), undefined);

  // v1's mounts are still the dead ones; publishing again re-stages and replaces them
  const still = await n.client.call('NodeGetVolumeStats', { volume_id: v1.volume_id, volume_path: n.targetPath('pod', 'pv1') });
  assert.equal(still.volume_condition.abnormal, true);
  await n.client.call('NodePublishVolume', n.publishRequest(v1.volume_id, 'pv1', 'pod'));
  const healed = await n.client.call('NodeGetVolumeStats', { volume_id: v1.volume_id, volume_path: n.targetPath('pod', 'pv1') });
  assert.equal(healed.volume_condition.abnormal, false, healed.volume_condition.message);
  assert.deepEqual(readAt(join(n.targetPath('pod', 'pv1'), 'data'), 4096, 4096), bytes, 'the bytes live in the pool, not in the server');

  for (const [v, name] of [
    [v1.volume_id, 'pv1'],
    [v2.volume_id, 'pv2'],
  ] as const) {
    await n.client.call('NodeUnpublishVolume', { volume_id: v, target_path: n.targetPath('pod', name) });
    await n.client.call('NodeUnstageVolume', { volume_id: v, staging_target_path: n.stagingPath(name) });
  }
  assertNoMountsUnder(n.kubeletDir);
});

test('restart: unpublish and unstage of dead mounts (FUSE server killed) are OK, repeatedly', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t);
  const v = await ctl.create('pvc', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v.volume_id, 'pv'));
  await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, 'pv', 'pod'));
  for (const pid of serverPidsUnder(n.dir)) process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  const c = new CsiTestClient(n.socket);
  t.after(() => c.close());
  for (let i = 0; i < 2; i++) {
    await c.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: n.targetPath('pod', 'pv') });
    await c.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath('pv') });
  }
  assertNoMountsUnder(n.kubeletDir);
});

test('restart: a pool mount unmounted by someone else; staged volumes keep working, the next stage starts a new server', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t);
  const v1 = await ctl.create('pvc-1', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v1.volume_id, 'pv1'));
  const [old] = serverPidsUnder(n.dir);
  const mp = join(n.plugin.stateDir, 'pools', 'pool0');
  await new Mounter().unmount(mp);
  assert.equal(findMount(mp), undefined);
  assert.ok(alive(old!), 'the old server still serves the staged bind mount');
  // re-staging the staged volume is OK; publishing it works
  await n.client.call('NodeStageVolume', n.stageRequest(v1.volume_id, 'pv1'));
  await n.client.call('NodePublishVolume', n.publishRequest(v1.volume_id, 'pv1', 'pod'));
  writeAt(join(n.targetPath('pod', 'pv1'), 'data'), 0, 'still here');
  // a new volume gets a new server (and pool mount)
  const v2 = await ctl.create('pvc-2', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v2.volume_id, 'pv2'));
  assert.equal(findMount(mp)?.fsType, 'fuse.famfs');
  assert.equal(serverPidsUnder(n.dir).length, 2);
  // publishing v1 again (its target is on the old server) stays idempotent
  await n.client.call('NodePublishVolume', n.publishRequest(v1.volume_id, 'pv1', 'pod'));
  await n.client.call('NodeUnpublishVolume', { volume_id: v1.volume_id, target_path: n.targetPath('pod', 'pv1') });
  await n.client.call('NodeUnstageVolume', { volume_id: v1.volume_id, staging_target_path: n.stagingPath('pv1') });
  // the old server exits once its last mount is gone
  for (let i = 0; i < 100 && alive(old!); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(old!), false, 'the old server exited after its last mount went away');
  await n.client.call('NodeUnstageVolume', { volume_id: v2.volume_id, staging_target_path: n.stagingPath('pv2') });
  assertNoMountsUnder(n.kubeletDir);
});
