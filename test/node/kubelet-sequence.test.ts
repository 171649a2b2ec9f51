/**
 * The whole kubelet sequence over real sockets with real famfs FUSE mounts:
 * CreateVolume → NodeStage → NodePublish (rw and ro) → write/read → NodeGetVolumeStats →
 * NodeUnpublish → NodeUnstage → DeleteVolume, every step repeated (idempotency), nothing left
 * mounted. Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { MiB } from '../../src/famfs/index.js';
import { findMount, isReadOnlyMount } from '../../src/fuse/mountTable.js';
import { assertNoMountsUnder, mountsBelow, privileged } from '../helpers/mounts.js';
import { mountCapability, serverPidsUnder } from '../helpers/nodePlugin.js';
import { nodeWithController, readAt, writeAt } from '../helpers/cluster.js';

test('kubelet sequence: create, stage, publish rw and ro, write/read, stats, unpublish, unstage, delete', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t, { nodeId: 'node-a' });

  // CreateVolume, twice
  const vol = await ctl.create('pvc-1', 3 * MiB);
  assert.deepEqual(await ctl.create('pvc-1', 3 * MiB), vol, 'CreateVolume is idempotent');
  assert.equal(vol.capacity_bytes, String(4 * MiB), 'rounded up to 2 MiB units');
  const id = vol.volume_id.split(':')[1]!;

  // NodeStage, three times
  const stageReq = n.stageRequest(vol.volume_id, 'pv-1', { volume_context: vol.volume_context });
  for (let i = 0; i < 3; i++) assert.deepEqual(await n.client.call('NodeStageVolume', stageReq), {});
  const staging = n.stagingPath('pv-1');
  const staged = findMount(staging)!;
  assert.equal(staged.fsType, 'fuse.famfs');
  assert.equal(staged.root, `/csi/${id}`);
  const poolMount = findMount(join(n.plugin.stateDir, 'pools', 'pool0'))!;
  assert.equal(poolMount.fsType, 'fuse.famfs');
  assert.deepEqual([staged.major, staged.minor], [poolMount.major, poolMount.minor]);
  assert.equal(serverPidsUnder(n.dir).length, 1, 'one FUSE server for the pool');
  assert.equal(statSync(join(staging, 'data')).size, 4 * MiB);

  // NodePublish read-write and read-only, each three times
  const rwReq = n.publishRequest(vol.volume_id, 'pv-1', 'pod-rw', { volume_context: vol.volume_context });
  const roReq = n.publishRequest(vol.volume_id, 'pv-1', 'pod-ro', { readonly: true, volume_capability: mountCapability('MULTI_NODE_MULTI_WRITER', ['nosuid', 'nodev', 'noexec']) });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await n.client.call('NodePublishVolume', rwReq), {});
    assert.deepEqual(await n.client.call('NodePublishVolume', roReq), {});
  }
  const rw = n.targetPath('pod-rw', 'pv-1');
  const ro = n.targetPath('pod-ro', 'pv-1');
  assert.equal(isReadOnlyMount(findMount(rw)!), false);
  const roMount = findMount(ro)!;
  assert.equal(isReadOnlyMount(roMount), true);
  for (const f of ['nosuid', 'nodev', 'noexec']) assert.ok(roMount.options.includes(f), f);
  assert.equal(roMount.root, `/csi/${id}`);
  // same target, other ro-ness: ALREADY_EXISTS
  const conflict = await n.client.fail('NodePublishVolume', { ...rwReq, readonly: true });
  assert.equal(status[conflict.code], 'ALREADY_EXISTS', conflict.details);
  assert.match(conflict.details, /already published at .* read-write, not read-only/);
  // an access mode that is read-only publishes read-only
  const roMode = n.publishRequest(vol.volume_id, 'pv-1', 'pod-reader', { volume_capability: mountCapability('MULTI_NODE_READER_ONLY') });
  await n.client.call('NodePublishVolume', roMode);
  assert.equal(isReadOnlyMount(findMount(n.targetPath('pod-reader', 'pv-1'))!), true);

  // write through rw, read through ro and staging; ro rejects writes
  const bytes = Buffer.from('hello from famfs-csi\n');
  writeAt(join(rw, 'data'), 2 * MiB - 7, bytes);
  assert.deepEqual(readAt(join(ro, 'data'), 2 * MiB - 7, bytes.length), bytes);
  assert.deepEqual(readAt(join(staging, 'data'), 2 * MiB - 7, bytes.length), bytes);
  assert.throws(() => writeAt(join(ro, 'data'), 0, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
  assert.throws(() => writeFileSync(join(rw, 'new-file'), 'x'), (e: NodeJS.ErrnoException) => e.code !== undefined, 'no new files in a famfs volume');
  assert.equal(statSync(join(rw, 'data')).size, 4 * MiB, 'the file never changes size');

  // NodeGetVolumeStats on the target and on the staging path
  for (const path of [rw, ro, staging]) {
    const stats = await n.client.call('NodeGetVolumeStats', { volume_id: vol.volume_id, volume_path: path });
    assert.deepEqual(stats.usage, [
      { unit: 'BYTES', total: String(4 * MiB), used: String(4 * MiB), available: '0' },
      { unit: 'INODES', total: '1', used: '1', available: '0' },
    ]);
    assert.equal(stats.volume_condition.abnormal, false);
  }
  const other = await n.client.fail('NodeGetVolumeStats', { volume_id: 'pool0:' + 'f'.repeat(32), volume_path: rw });
  assert.equal(status[other.code], 'NOT_FOUND', 'a path of another volume');

  // NodeUnpublish, three times each
  for (const target of [rw, ro, n.targetPath('pod-reader', 'pv-1')]) {
    for (let i = 0; i < 3; i++) assert.deepEqual(await n.client.call('NodeUnpublishVolume', { volume_id: vol.volume_id, target_path: target }), {});
    assert.equal(findMount(target), undefined);
    assert.equal(existsSync(target), false, 'target directory removed');
  }
  // the staged volume still serves
  assert.deepEqual(readAt(join(staging, 'data'), 2 * MiB - 7, bytes.length), bytes);

  // NodeUnstage, three times
  for (let i = 0; i < 3; i++) assert.deepEqual(await n.client.call('NodeUnstageVolume', { volume_id: vol.volume_id, staging_target_path: staging }), {});
  assert.equal(findMount(staging), undefined);
  assert.ok(existsSync(staging), 'the staging directory stays (kubelet owns it)');
  assertNoMountsUnder(n.kubeletDir);

  // DeleteVolume, twice; a deleted volume cannot be staged
  await ctl.delete(vol.volume_id);
  await ctl.delete(vol.volume_id);
  const gone = await n.client.fail('NodeStageVolume', stageReq);
  assert.equal(status[gone.code], 'NOT_FOUND', gone.details);
  assert.match(gone.details, /deleted or never created/);
  assertNoMountsUnder(n.kubeletDir);

  // the pool mount survives the plugin's stop (by design); the test's cleanup removes it
  await n.stop();
  assert.equal(findMount(join(n.plugin.stateDir, 'pools', 'pool0'))?.fsType, 'fuse.famfs');
  assert.equal(mountsBelow(n.kubeletDir).length, 0);
});

test('kubelet sequence: two volumes of one pool share one FUSE server; concurrent stages', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t);
  const vols = await Promise.all(['a', 'b', 'c', 'd'].map((name) => ctl.create(name, 2 * MiB)));
  // all at once: the pool server is started once
  await Promise.all(vols.map((v, i) => n.client.call('NodeStageVolume', n.stageRequest(v.volume_id, `pv-${i}`))));
  assert.equal(serverPidsUnder(n.dir).length, 1);
  for (const [i, v] of vols.entries()) {
    await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, `pv-${i}`, 'pod'));
    writeAt(join(n.targetPath('pod', `pv-${i}`), 'data'), 0, `volume ${i}`);
  }
  for (const [i, v] of vols.entries()) {
    assert.equal(readAt(join(n.targetPath('pod', `pv-${i}`), 'data'), 0, 8).toString(), `volume ${i}`);
    // a volume published at another volume's staging path is refused
    if (i > 0) {
      const e = await n.client.fail('NodePublishVolume', n.publishRequest(v.volume_id, `pv-0`, 'pod2'));
      assert.equal(status[e.code], 'FAILED_PRECONDITION', e.details);
    }
  }
  for (const [i, v] of vols.entries()) {
    await n.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: n.targetPath('pod', `pv-${i}`) });
    await n.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath(`pv-${i}`) });
  }
  assertNoMountsUnder(n.kubeletDir);
});

test('kubelet sequence: mount flags at stage (ro) carry to publish; conflicting re-stage is ALREADY_EXISTS', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n, ctl } = await nodeWithController(t);
  const v = await ctl.create('flags', 2 * MiB);
  const stageReq = n.stageRequest(v.volume_id, 'pv', { volume_capability: mountCapability('MULTI_NODE_MULTI_WRITER', ['ro', 'noatime']) });
  await n.client.call('NodeStageVolume', stageReq);
  await n.client.call('NodeStageVolume', stageReq);
  const staged = findMount(n.stagingPath('pv'))!;
  assert.equal(isReadOnlyMount(staged), true);
  assert.ok(staged.options.includes('noatime'), staged.options.join(','));
  const rwStage = await n.client.fail('NodeStageVolume', n.stageRequest(v.volume_id, 'pv', { volume_capability: mountCapability('MULTI_NODE_MULTI_WRITER', ['rw']) }));
  assert.equal(status[rwStage.code], 'ALREADY_EXISTS', rwStage.details);
  // publishing a read-only staged volume gives a read-only target
  await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, 'pv', 'pod'));
  await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, 'pv', 'pod'));
  const target = n.targetPath('pod', 'pv');
  assert.equal(isReadOnlyMount(findMount(target)!), true);
  assert.throws(() => writeAt(join(target, 'data'), 0, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
  await n.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: target });
  await n.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath('pv') });
  assertNoMountsUnder(n.kubeletDir);
});
