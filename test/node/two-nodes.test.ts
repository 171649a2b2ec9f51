/**
 * Two nodes, one pool: two node plugins with their own state directories, kubelet directories and
 * node ids serve the same emulated pool file (two FUSE servers, two pool mounts), as two hosts
 * sharing fabric-attached memory would. Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { MiB } from '../../src/famfs/index.js';
import { findMount } from '../../src/fuse/mountTable.js';
import { scratchDir, tmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, cleanupMounts, mountsBelow, privileged } from '../helpers/mounts.js';
import { testNodePlugin } from '../helpers/nodePlugin.js';
import { nodeWithController, readAt, testController, writeAt } from '../helpers/cluster.js';

test('two nodes, one pool: a new volume is visible on both, bytes cross immediately, a deleted volume cannot be staged', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const pool = await tmpPool({ size: 64 * MiB });
  t.after(() => pool.cleanup());
  const s = scratchDir('famfs-csi-2nodes-');
  t.after(() => {
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  const dirA = join(s.dir, 'node-a');
  const dirB = join(s.dir, 'node-b');
  mkdirSync(dirA);
  mkdirSync(dirB);
  const a = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'node-a', dir: dirA });
  t.after(a.cleanup);
  const b = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'node-b', dir: dirB });
  t.after(b.cleanup);
  const ctl = await testController(s.dir, pool.path);
  t.after(ctl.stop);

  const infoA = await a.client.call('NodeGetInfo');
  const infoB = await b.client.call('NodeGetInfo');
  assert.deepEqual([infoA.node_id, infoB.node_id], ['node-a', 'node-b']);
  assert.deepEqual(infoA.accessible_topology, infoB.accessible_topology);

  // Both pool servers up before the volume exists (a first volume brings them up).
  const first = await ctl.create('warm-up', 2 * MiB);
  for (const n of [a, b]) await n.client.call('NodeStageVolume', n.stageRequest(first.volume_id, 'warm'));
  const mpA = findMount(join(a.plugin.stateDir, 'pools', 'pool0'))!;
  const mpB = findMount(join(b.plugin.stateDir, 'pools', 'pool0'))!;
  assert.notDeepEqual([mpA.major, mpA.minor], [mpB.major, mpB.minor], 'two separate FUSE mounts');

  // A volume created after both are up is visible on both.
  const vol = await ctl.create('shared', 6 * MiB);
  for (const n of [a, b]) {
    await n.client.call('NodeStageVolume', n.stageRequest(vol.volume_id, 'pv', { volume_context: vol.volume_context }));
    await n.client.call('NodePublishVolume', n.publishRequest(vol.volume_id, 'pv', 'pod', { volume_context: vol.volume_context }));
  }
  const dataA = join(a.targetPath('pod', 'pv'), 'data');
  const dataB = join(b.targetPath('pod', 'pv'), 'data');

  // Bytes written through node A's target are read through node B's target, immediately, exactly.
  for (const [offset, len] of [
    [0, 1],
    [4095, 2],
    [MiB - 3, 4096 + 5],
    [2 * MiB - 1, 2],
    [6 * MiB - 100, 100],
  ] as const) {
    const bytes = randomBytes(len);
    writeAt(dataA, offset, bytes);
    assert.deepEqual(readAt(dataB, offset, len), bytes, `A→B at ${offset}+${len}`);
    const back = randomBytes(len);
    writeAt(dataB, offset, back);
    assert.deepEqual(readAt(dataA, offset, len), back, `B→A at ${offset}+${len}`);
  }
  assert.equal(readAt(dataA, 6 * MiB - 1, 10).length, 1, 'EOF at the volume size');

  // Delete: the volume disappears from both and cannot be staged on either.
  for (const n of [a, b]) {
    await n.client.call('NodeUnpublishVolume', { volume_id: vol.volume_id, target_path: n.targetPath('pod', 'pv') });
    await n.client.call('NodeUnstageVolume', { volume_id: vol.volume_id, staging_target_path: n.stagingPath('pv') });
  }
  await ctl.delete(vol.volume_id);
  await Promise.all(
    [a, b].map(async (n) => {
      const e = await n.client.fail('NodeStageVolume', n.stageRequest(vol.volume_id, 'pv-again'));
      assert.equal(status[e.code], 'NOT_FOUND', e.details);
    }),
  );
  for (const n of [a, b]) {
    await n.client.call('NodeUnstageVolume', { volume_id: first.volume_id, staging_target_path: n.stagingPath('warm') });
    assertNoMountsUnder(n.kubeletDir);
  }
});

test('two nodes, one pool: a volume deleted while published shows abnormal on the other node', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n: a, ctl } = await nodeWithController(t, { nodeId: 'node-a' });
  const vol = await ctl.create('doomed', 2 * MiB);
  await a.client.call('NodeStageVolume', a.stageRequest(vol.volume_id, 'pv'));
  await a.client.call('NodePublishVolume', a.publishRequest(vol.volume_id, 'pv', 'pod'));
  await ctl.delete(vol.volume_id);
  // The server hides a tombstoned volume at the next lookup (after the kernel's entry cache expires).
  let stats;
  for (let i = 0; i < 40; i++) {
    stats = await a.client.call('NodeGetVolumeStats', { volume_id: vol.volume_id, volume_path: a.targetPath('pod', 'pv') });
    if (stats.volume_condition.abnormal) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(stats.volume_condition.abnormal, true, JSON.stringify(stats));
  assert.match(stats.volume_condition.message, /no longer exists in pool pool0/);
  await a.client.call('NodeUnpublishVolume', { volume_id: vol.volume_id, target_path: a.targetPath('pod', 'pv') });
  await a.client.call('NodeUnstageVolume', { volume_id: vol.volume_id, staging_target_path: a.stagingPath('pv') });
  assertNoMountsUnder(a.kubeletDir);
});
