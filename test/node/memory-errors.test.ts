/**
 * Dax memory errors end to end: an emulated pool shared by two node plugins and a controller, an
 * error injected with the real CLI, and what every party reports: NodeGetVolumeStats,
 * ControllerGetVolume / ListVolumes, EIO through the FUSE mounts, refused NodeStage; then the
 * error is cleared and everything is normal again. Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { MiB, Pool } from '../../src/famfs/index.js';
import type { FileNode } from '../../src/famfs/index.js';
import { parseVolumeId, volumeDataPath } from '../../src/csi/volumeId.js';
import { tmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, mountScratch, privileged } from '../helpers/mounts.js';
import { testNodePlugin } from '../helpers/nodePlugin.js';
import type { TestNodePlugin } from '../helpers/nodePlugin.js';
import { CLI, readAt, testController, writeAt } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';
import { errnoOf } from '../helpers/errno.js';

const POLL_MS = 300;
// until() gives up after 10 s: the bound within which errors must reach every node and the controller.

function famfsCli(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: process.env });
}

function volumeFile(device: string, volumeId: string): FileNode {
  const pool = Pool.open(device, { writable: false, systemUuid: '00000000-0000-0000-0000-000000000000' });
  try {
    const node = pool.lookup(volumeDataPath(parseVolumeId(volumeId)!));
    assert.equal(node?.kind, 'file');
    return node as FileNode;
  } finally {
    pool.close();
  }
}


const readErrno = (path: string, offset: number, length: number) => errnoOf(() => readAt(path, offset, length));
const writeErrno = (path: string, offset: number, data: Buffer) => errnoOf(() => writeAt(path, offset, data));

async function stats(n: TestNodePlugin, volumeId: string, pod: string, name: string): Promise<{ abnormal: boolean; message: string }> {
  const res = await n.client.call('NodeGetVolumeStats', { volume_id: volumeId, volume_path: n.targetPath(pod, name) });
  return res.volume_condition;
}

test('a poison range inside volume A: both nodes and the controller report A abnormal with the range, B stays normal, reads of the range fail with EIO; clearing heals', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const pool = await tmpPool({ size: 64 * MiB });
  t.after(() => pool.cleanup());
  const s = mountScratch(t, 'famfs-csi-memerr-');
  const reports = join(s.dir, 'reports');
  const health = { reports: `dir:${reports}`, intervalMs: POLL_MS, kubernetes: 'off' as const };
  const nodes: TestNodePlugin[] = [];
  for (const id of ['node-a', 'node-b']) {
    const dir = join(s.dir, id);
    mkdirSync(dir);
    const n = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: id, dir, plugin: { health, kmsg: 'off', metricsAddress: '127.0.0.1:0' } });
    t.after(n.cleanup);
    nodes.push(n);
  }
  const ctl = await testController(s.dir, pool.path, { health, metricsAddress: '127.0.0.1:0' });
  t.after(ctl.stop);

  const a = await ctl.create('vol-a', 4 * MiB);
  const b = await ctl.create('vol-b', 4 * MiB);
  for (const n of nodes) {
    for (const [v, name] of [[a, 'pv-a'], [b, 'pv-b']] as const) {
      await n.client.call('NodeStageVolume', n.stageRequest(v.volume_id, name, { volume_context: v.volume_context }));
      await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, name, 'pod', { volume_context: v.volume_context }));
    }
  }
  for (const n of nodes) assert.equal((await stats(n, a.volume_id, 'pod', 'pv-a')).abnormal, false);

  // 4 KiB poisoned at 1 MiB into volume A: the CLI turns file bytes into device bytes.
  const fileA = volumeFile(pool.path, a.volume_id);
  assert.equal(fileA.fmap.kind, 'simple');
  const devOffset = (fileA.fmap.extents[0] as { offset: number }).offset + MiB;
  const range = `0x${devOffset.toString(16)}-0x${(devOffset + 4095).toString(16)}`;
  const out = famfsCli('pool', 'inject-error', pool.path, '--volume', a.volume_id, '--offset', '1M', '--length', '4096', '--json');
  const injected = JSON.parse(out) as { injected: { range: { offset: number; length: number } }[] };
  assert.deepEqual(injected.injected.map((e) => e.range), [{ offset: devOffset, length: 4096 }]);

  // Within 10 s: both nodes abnormal with the exact range, B normal.
  for (const n of nodes) {
    const cond = await until(`${n.plugin.service.nodeId}: volume A abnormal`, async () => {
      const c = await stats(n, a.volume_id, 'pod', 'pv-a');
      return c.abnormal ? c : undefined;
    });
    assert.match(cond.message, new RegExp(`poison on ${pool.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} bytes ${range} \\(4096 bytes\\)`));
    assert.match(cond.message, /reported by the emulated poison list, first seen \d{4}-\d\d-\d\dT/);
    assert.match(cond.message, /affects volume bytes 0x100000-0x100fff/);
    assert.deepEqual(await stats(n, b.volume_id, 'pod', 'pv-b'), { abnormal: false, message: 'volume is healthy: no memory errors under it' });
  }

  // Served path: the poisoned range fails with EIO on both nodes, the rest of A still reads and writes.
  for (const n of nodes) {
    const data = join(n.targetPath('pod', 'pv-a'), 'data');
    await until('EIO on the poisoned range', async () => (readErrno(data, MiB, 4096) === 'EIO' ? true : undefined));
    assert.equal(readErrno(data, MiB + 4000, 200), 'EIO', 'a read that only overlaps the range');
    assert.equal(writeErrno(data, MiB + 10, Buffer.from('x')), 'EIO');
    assert.equal(readErrno(data, 0, 4096), undefined);
    assert.equal(readErrno(data, MiB + 4096, 4096), undefined);
    writeAt(data, 0, 'still works');
    assert.equal(readAt(data, 0, 11).toString(), 'still works');
    assert.equal(readErrno(join(n.targetPath('pod', 'pv-b'), 'data'), MiB, 4096), undefined);
  }

  // The controller: ControllerGetVolume and ListVolumes.
  const got = await until('controller: A abnormal', async () => {
    const r = await ctl.client.call('ControllerGetVolume', { volume_id: a.volume_id });
    return r.status.volume_condition.abnormal ? r : undefined;
  });
  assert.match(got.status.volume_condition.message, new RegExp(`bytes ${range}`));
  const list = await ctl.client.call('ListVolumes', {});
  const byId = new Map(list.entries.map((e: { volume: { volume_id: string }; status: { volume_condition: { abnormal: boolean } } }) => [e.volume.volume_id, e.status.volume_condition.abnormal]));
  assert.equal(byId.get(a.volume_id), true);
  assert.equal(byId.get(b.volume_id), false);
  assert.equal((await ctl.client.call('ControllerGetVolume', { volume_id: b.volume_id })).status.volume_condition.abnormal, false);

  // Metrics: the error by pool, kind and source; one abnormal volume; pool gauges; RPC and allocation histograms.
  const nodeMetrics = await (await fetch(nodes[0]!.plugin.metricsServer!.url)).text();
  assert.match(nodeMetrics, /famfs_csi_memory_errors\{[^}]*pool="pool0"[^}]*kind="poison"[^}]*source="emulated"[^}]*\} 1/);
  assert.match(nodeMetrics, /famfs_csi_volumes_abnormal\{[^}]*pool="pool0"[^}]*\} 1/);
  assert.match(nodeMetrics, /famfs_csi_rpc_duration_seconds_count\{[^}]*method="NodeGetVolumeStats"[^}]*code="OK"[^}]*\} \d+/);
  const ctlMetrics = await (await fetch(ctl.plugin.metricsServer!.url)).text();
  assert.match(ctlMetrics, /famfs_csi_pool_size_bytes\{[^}]*pool="pool0"[^}]*\} 67108864/);
  assert.match(ctlMetrics, /famfs_csi_pool_volumes\{[^}]*pool="pool0"[^}]*\} 2/);
  assert.match(ctlMetrics, /famfs_csi_pool_log_entries_free\{[^}]*pool="pool0"[^}]*\} \d+/);
  assert.match(ctlMetrics, /famfs_csi_allocation_duration_seconds_count\{[^}]*pool="pool0"[^}]*\} 2/);
  assert.match(ctlMetrics, /famfs_csi_volumes_abnormal\{[^}]*pool="pool0"[^}]*\} 1/);
  assert.match(ctlMetrics, /famfs_csi_rpc_duration_seconds_count\{[^}]*method="CreateVolume"[^}]*code="OK"[^}]*\} 2/);

  // NodeStage of the affected volume is refused; of the other volume it works.
  const refused = await nodes[0]!.client.fail('NodeStageVolume', nodes[0]!.stageRequest(a.volume_id, 'pv-a-again'));
  assert.equal(status[refused.code], 'FAILED_PRECONDITION', refused.details);
  assert.match(refused.details, /memory has errors: .*poison/);
  await nodes[0]!.client.call('NodeStageVolume', nodes[0]!.stageRequest(b.volume_id, 'pv-b-again'));
  await nodes[0]!.client.call('NodeUnstageVolume', { volume_id: b.volume_id, staging_target_path: nodes[0]!.stagingPath('pv-b-again') });

  // Clear: normal again everywhere, reads work.
  famfsCli('pool', 'clear-errors', pool.path);
  for (const n of nodes) {
    await until('node: A normal again', async () => ((await stats(n, a.volume_id, 'pod', 'pv-a')).abnormal ? undefined : true));
    await until('reads work again', async () => (readErrno(join(n.targetPath('pod', 'pv-a'), 'data'), MiB, 4096) === undefined ? true : undefined));
  }
  await until('controller: A normal again', async () => ((await ctl.client.call('ControllerGetVolume', { volume_id: a.volume_id })).status.volume_condition.abnormal ? undefined : true));
  await nodes[0]!.client.call('NodeStageVolume', nodes[0]!.stageRequest(a.volume_id, 'pv-a-again'));

  for (const n of nodes) {
    for (const [v, name] of [[a, 'pv-a'], [b, 'pv-b']] as const) {
      await n.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: n.targetPath('pod', name) });
      await n.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath(name) });
    }
  }
  await nodes[0]!.client.call('NodeUnstageVolume', { volume_id: a.volume_id, staging_target_path: nodes[0]!.stagingPath('pv-a-again') });
  for (const n of nodes) assertNoMountsUnder(n.kubeletDir);
});

test('a whole-device error makes every volume of that pool abnormal and leaves other pools alone; files of the disabled device do not open', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const p0 = await tmpPool({ size: 32 * MiB });
  t.after(() => p0.cleanup());
  const p1 = await tmpPool({ size: 32 * MiB });
  t.after(() => p1.cleanup());
  const s = mountScratch(t, 'famfs-csi-memerr-');
  const pools = [
    { name: 'pool0', device: p0.path },
    { name: 'pool1', device: p1.path },
  ];
  const health = { reports: `dir:${join(s.dir, 'reports')}`, intervalMs: POLL_MS, kubernetes: 'off' as const };
  const n = await testNodePlugin({ pools, nodeId: 'node-a', dir: join(s.dir), plugin: { health, kmsg: 'off' } });
  t.after(n.cleanup);
  const ctl = await testController(s.dir, p0.path, { health, pools });
  t.after(ctl.stop);

  const vols = [await ctl.create('a0', 2 * MiB, { pool: 'pool0' }), await ctl.create('b0', 2 * MiB, { pool: 'pool0' }), await ctl.create('a1', 2 * MiB, { pool: 'pool1' })];
  for (const [i, v] of vols.entries()) {
    await n.client.call('NodeStageVolume', n.stageRequest(v.volume_id, `pv${i}`, { volume_context: v.volume_context }));
    await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, `pv${i}`, 'pod', { volume_context: v.volume_context }));
  }
  famfsCli('pool', 'inject-error', p0.path, '--whole-device', '--kind', 'offline');

  for (const [i, v] of vols.entries()) {
    const want = v.volume_id.startsWith('pool0:');
    const cond = await until(`node: ${v.volume_id} ${want ? 'abnormal' : 'normal'}`, async () => {
      const c = await stats(n, v.volume_id, 'pod', `pv${i}`);
      return c.abnormal === want ? c : undefined;
    });
    if (want) assert.match(cond.message, /offline on .* the whole device, .*affects the whole volume/);
    await until(`controller: ${v.volume_id}`, async () => ((await ctl.client.call('ControllerGetVolume', { volume_id: v.volume_id })).status.volume_condition.abnormal === want ? true : undefined));
  }
  // The FUSE server of pool0 no longer opens files; pool1's does.
  await until('open of a pool0 file fails with EIO', async () => (readErrno(join(n.targetPath('pod', 'pv0'), 'data'), 0, 1) === 'EIO' ? true : undefined));
  assert.equal(readErrno(join(n.targetPath('pod', 'pv2'), 'data'), 0, 1), undefined);

  famfsCli('pool', 'clear-errors', p0.path);
  await until('pool0 volumes normal', async () => ((await stats(n, vols[0]!.volume_id, 'pod', 'pv0')).abnormal ? undefined : true));
  for (const [i, v] of vols.entries()) {
    await n.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: n.targetPath('pod', `pv${i}`) });
    await n.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath(`pv${i}`) });
  }
  assertNoMountsUnder(n.kubeletDir);
});

test('a famfs kernel memory error seen only by one node reaches the controller through the node reports', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const pool = await tmpPool({ size: 32 * MiB });
  t.after(() => pool.cleanup());
  const s = mountScratch(t, 'famfs-csi-memerr-');
  // The node reads a kernel log file in /dev/kmsg's record format (the controller reads none).
  const kmsg = join(s.dir, 'kmsg');
  writeFileSync(kmsg, '6,1,1000,-;Linux version 6.14.0 (noise)\n');
  const health = { reports: `dir:${join(s.dir, 'reports')}`, intervalMs: POLL_MS, kubernetes: 'off' as const };
  const n = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'node-k', dir: join(s.dir), plugin: { health, kmsg } });
  t.after(n.cleanup);
  const ctl = await testController(s.dir, pool.path, { health });
  t.after(ctl.stop);
  const v = await ctl.create('k', 2 * MiB);
  await n.client.call('NodeStageVolume', n.stageRequest(v.volume_id, 'pv', { volume_context: v.volume_context }));
  await n.client.call('NodePublishVolume', n.publishRequest(v.volume_id, 'pv', 'pod', { volume_context: v.volume_context }));

  // A kernel line logged after this node's pool mount started, naming the pool's device.
  const uptimeUs = Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e6);
  appendFileSync(kmsg, `3,2,${uptimeUs},-;famfs_set_daxdev_err: memory error on daxdev ${basename(pool.path)} (0)\n`);

  const cond = await until('controller: abnormal from the node report', async () => {
    const r = await ctl.client.call('ControllerGetVolume', { volume_id: v.volume_id });
    return r.status.volume_condition.abnormal ? r.status.volume_condition : undefined;
  });
  assert.match(cond.message, /memory-error on .* the whole device, reported by the famfs kernel log \(\/dev\/kmsg\) on node node-k/);
  assert.equal((await stats(n, v.volume_id, 'pod', 'pv')).abnormal, true);

  await n.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: n.targetPath('pod', 'pv') });
  await n.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: n.stagingPath('pv') });
  assertNoMountsUnder(n.kubeletDir);
});
