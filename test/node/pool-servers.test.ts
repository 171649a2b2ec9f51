/**
 * `famfs-csi pool-servers` with a node plugin in `--pool-servers external` mode (how the chart runs
 * them: the pool mounts belong to their own long-lived process, so the node plugin can be
 * restarted or upgraded without taking them down). Needs root and /dev/fuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { MiB } from '../../src/famfs/index.js';
import { findMount } from '../../src/fuse/mountTable.js';
import { scratchDir, tmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, cleanupMounts, mountsBelow, privileged } from '../helpers/mounts.js';
import { serverPidsUnder, testNodePlugin } from '../helpers/nodePlugin.js';
import { CLI, nodeWithController, readAt, testController, writeAt } from '../helpers/cluster.js';
import { until } from '../helpers/until.js';


function mountPid(mountpoint: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(`${mountpoint}.pid`, 'utf8'), 10);
  } catch {
    return undefined;
  }
}

test('pool-servers mounts every pool and restarts a server that dies; an external-mode node plugin stages through those mounts', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const pool = await tmpPool({ size: 32 * MiB });
  t.after(() => pool.cleanup());
  const s = scratchDir('famfs-csi-poolservers-');
  const stateDir = join(s.dir, 'state');
  const proc = spawn(process.execPath, [CLI, 'pool-servers', '--pool', `pool0=${pool.path},reclaim=safe`, '--state-dir', stateDir, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  t.after(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    for (const pid of serverPidsUnder(s.dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  const mp = join(stateDir, 'pools', 'pool0');
  await until(`pool0 mounted by pool-servers (output: ${out})`, () => findMount(mp)?.fsType === 'fuse.famfs', 15_000);

  const node = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'n1', dir: s.dir, plugin: { poolServers: 'external', kmsg: 'off', health: { kubernetes: 'off', reports: 'off' } } });
  t.after(node.cleanup);
  const ctl = await testController(s.dir, pool.path);
  t.after(ctl.stop);
  const v = await ctl.create('v', 2 * MiB);
  await node.client.call('NodeStageVolume', node.stageRequest(v.volume_id, 'pv', { volume_context: v.volume_context }));
  await node.client.call('NodePublishVolume', node.publishRequest(v.volume_id, 'pv', 'pod', { volume_context: v.volume_context }));
  const data = join(node.targetPath('pod', 'pv'), 'data');
  writeAt(data, 0, 'through the external server');
  assert.equal(readAt(data, 0, 27).toString(), 'through the external server');
  assert.deepEqual(serverPidsUnder(node.stateDir), [mountPid(mp)], 'the node plugin started no server of its own');

  // Stopping and restarting the node plugin leaves the mount and the pod's volume alone.
  await node.stop();
  assert.equal(readAt(data, 0, 27).toString(), 'through the external server');

  // A server that dies is replaced (after cleaning its dead mount); new stages work again.
  const first = mountPid(mp)!;
  process.kill(first, 'SIGKILL');
  await until('a new pool server', () => {
    const pid = mountPid(mp);
    return pid !== undefined && pid !== first && findMount(mp)?.fsType === 'fuse.famfs';
  });
  const again = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: 'n1', dir: s.dir, plugin: { poolServers: 'external', kmsg: 'off', health: { kubernetes: 'off', reports: 'off' } } });
  t.after(again.cleanup);
  await again.client.call('NodeStageVolume', again.stageRequest(v.volume_id, 'pv2', { volume_context: v.volume_context }));
  assert.equal(readAt(join(again.stagingPath('pv2'), 'data'), 0, 27).toString(), 'through the external server');
  await again.client.call('NodeUnpublishVolume', { volume_id: v.volume_id, target_path: again.targetPath('pod', 'pv') });
  for (const name of ['pv', 'pv2']) await again.client.call('NodeUnstageVolume', { volume_id: v.volume_id, staging_target_path: again.stagingPath(name) });
  assertNoMountsUnder(again.kubeletDir);

  // SIGTERM: the servers unmount and the process exits 0.
  proc.kill('SIGTERM');
  assert.equal(await exited, 0, out);
  await until('pool0 unmounted', () => findMount(mp) === undefined);
});

test('an external-mode node plugin without pool-servers fails NodeStage with UNAVAILABLE naming the missing mount', async (t) => {
  if (!privileged(t, { fuse: true })) return;
  const { n: node, ctl } = await nodeWithController(t, { size: 32 * MiB, plugin: { poolServers: 'external', serverStartTimeoutMs: 500, kmsg: 'off', health: { kubernetes: 'off', reports: 'off' } } });
  const v = await ctl.create('v', 2 * MiB);
  const e = await node.client.fail('NodeStageVolume', node.stageRequest(v.volume_id, 'pv'));
  assert.equal(status[e.code], 'UNAVAILABLE', e.details);
  assert.match(e.details, /is not mounted; with --pool-servers external the famfs-csi pool-servers process/);
  assert.deepEqual(serverPidsUnder(node.dir), []);
});
