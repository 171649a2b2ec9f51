/**
 * The node plugin over its real socket, for everything that needs no famfs FUSE server:
 * Identity, NodeGetInfo, NodeGetCapabilities, argument validation, path safety, error codes,
 * idempotent unpublish/unstage, and pool servers that fail to start (fake `mount` commands).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { createEmulatedDevice, MiB } from '../../src/famfs/index.js';
import { Mounter } from '../../src/node/mounter.js';
import { findMount } from '../../src/fuse/mountTable.js';
import { NODE_CAPABILITIES } from '../../src/node/service.js';
import { tmpPool, scratchDir } from '../helpers/tmpPool.js';
import type { TmpPool } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, cleanupMounts, privileged } from '../helpers/mounts.js';
import { mountCapability, testNodePlugin } from '../helpers/nodePlugin.js';
import type { TestNodePlugin } from '../helpers/nodePlugin.js';

const VOL = 'pool0:0123456789abcdef0123456789abcdef';

async function setup(t: import('node:test').TestContext, plugin: Parameters<typeof testNodePlugin>[0]['plugin'] = {}): Promise<{ n: TestNodePlugin; pool: TmpPool }> {
  const pool = await tmpPool({ size: 32 * MiB });
  const n = await testNodePlugin({
    pools: [
      { name: 'pool0', device: pool.path },
      { name: 'ghost', device: join(pool.path, '..', 'not-here.dax') },
    ],
    nodeId: 'worker-7',
    // no FUSE server in this file: a pool server that cannot mount
    plugin: { cliCommand: ['/bin/sh', '-c', 'echo "fake famfs-csi: cannot mount $*" >&2; exit 3', 'fake'], ...plugin },
  });
  t.after(async () => {
    await n.cleanup();
    pool.cleanup();
  });
  return { n, pool };
}

async function code(n: TestNodePlugin, method: string, req: object, expected: status, message?: RegExp): Promise<void> {
  const e = await n.client.fail(method, req);
  assert.equal(status[e.code], status[expected], `${method} ${JSON.stringify(req)}: ${e.details}`);
  if (message) assert.match(e.details, message);
}

test('node: Identity, NodeGetInfo and NodeGetCapabilities', async (t) => {
  const { n } = await setup(t);
  const info = await n.client.call('GetPluginInfo');
  assert.equal(info.name, 'famfs.csi.io');
  const caps = await n.client.call('GetPluginCapabilities');
  assert.deepEqual(
    caps.capabilities.map((c: { service: { type: string } }) => c.service.type),
    ['VOLUME_ACCESSIBILITY_CONSTRAINTS'],
  );
  assert.deepEqual(await n.client.call('Probe'), { ready: { value: true } });

  const nodeInfo = await n.client.call('NodeGetInfo');
  assert.equal(nodeInfo.node_id, 'worker-7');
  assert.equal(nodeInfo.max_volumes_per_node, '0');
  assert.deepEqual(nodeInfo.accessible_topology.segments, { 'famfs.csi.io/pool-pool0': 'true' }, 'only pools whose device is on this node');

  const nodeCaps = await n.client.call('NodeGetCapabilities');
  assert.deepEqual(
    nodeCaps.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type),
    NODE_CAPABILITIES,
  );
  for (const c of ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'SINGLE_NODE_MULTI_WRITER', 'VOLUME_CONDITION']) assert.ok(NODE_CAPABILITIES.includes(c as never), c);
  await code(n, 'NodeExpandVolume', { volume_id: VOL }, status.UNIMPLEMENTED);
  await code(n, 'CreateVolume', { name: 'x' }, status.UNIMPLEMENTED);

  // Probe: ready only while the state directory exists and is writable
  rmSync(n.stateDir, { recursive: true });
  assert.deepEqual(await n.client.call('Probe'), { ready: { value: false } });
  mkdirSync(n.stateDir);
  assert.deepEqual(await n.client.call('Probe'), { ready: { value: true } });
});

test('node: missing and malformed arguments are INVALID_ARGUMENT naming the field', async (t) => {
  const { n } = await setup(t);
  const staging = n.stagingPath('v');
  const target = n.targetPath('pod', 'v');
  const cap = mountCapability();
  const I = status.INVALID_ARGUMENT;

  await code(n, 'NodeStageVolume', { staging_target_path: staging, volume_capability: cap }, I, /^volume_id: missing/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, volume_capability: cap }, I, /^staging_target_path: missing/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: staging }, I, /^volume_capability: missing/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: staging, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }, I, /block volumes are not supported/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: staging, volume_capability: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }, I, /fs_type: "ext4" is not supported/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: staging, volume_capability: { mount: {}, access_mode: { mode: 'UNKNOWN' } } }, I, /access_mode/);
  await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: staging, volume_capability: mountCapability('SINGLE_NODE_WRITER', ['nosuid', 'suid']) }, I, /mount_flags: mount flag "suid" is not supported/);

  await code(n, 'NodePublishVolume', { staging_target_path: staging, target_path: target, volume_capability: cap }, I, /^volume_id: missing/);
  await code(n, 'NodePublishVolume', { volume_id: VOL, target_path: target, volume_capability: cap }, I, /^staging_target_path: missing/);
  await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, volume_capability: cap }, I, /^target_path: missing/);
  await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: target }, I, /^volume_capability: missing/);
  await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: staging, volume_capability: cap }, I, /is the staging path/);
  await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: target, volume_capability: mountCapability('SINGLE_NODE_WRITER', ['ro', 'rw']) }, I, /contradict/);

  await code(n, 'NodeUnpublishVolume', { target_path: target }, I, /^volume_id: missing/);
  await code(n, 'NodeUnpublishVolume', { volume_id: VOL }, I, /^target_path: missing/);
  await code(n, 'NodeUnstageVolume', { staging_target_path: staging }, I, /^volume_id: missing/);
  await code(n, 'NodeUnstageVolume', { volume_id: VOL }, I, /^staging_target_path: missing/);

  await code(n, 'NodeGetVolumeStats', { volume_path: target }, I, /^volume_id: missing/);
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL }, I, /^volume_path: missing/);
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL, volume_path: 'relative/path' }, I, /volume_path: "relative\/path" must be an absolute path/);
});

test('node: traversal, relative and foreign paths are rejected before anything is mounted', async (t) => {
  const { n } = await setup(t);
  const outside = scratchDir();
  t.after(outside.cleanup);
  const I = status.INVALID_ARGUMENT;
  const staging = n.stagingPath('v');
  const bad = [
    [`${n.kubeletDir}/pods/../../outside`, /not a normalized path/],
    [`${n.kubeletDir}/pods/p/./mount`, /not a normalized path/],
    [`${n.kubeletDir}/pods/p/mount/`, /not a normalized path/],
    ['pods/p/mount', /must be an absolute path/],
    [join(outside.dir, 'mount'), /is not inside the kubelet directory/],
    ['/etc/kubernetes', /is not inside the kubelet directory/],
    [join(n.stateDir, 'pools', 'pool0'), /inside the plugin's state directory/],
  ] as const;
  for (const [p, re] of bad) {
    await code(n, 'NodeStageVolume', { volume_id: VOL, staging_target_path: p, volume_capability: mountCapability() }, I, new RegExp(`^staging_target_path: .*${re.source}`));
    await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: p, volume_capability: mountCapability() }, I, new RegExp(`^target_path: .*${re.source}`));
    await code(n, 'NodeUnpublishVolume', { volume_id: VOL, target_path: p }, I, new RegExp(`^target_path: .*${re.source}`));
    await code(n, 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: p }, I, new RegExp(`^staging_target_path: .*${re.source}`));
  }
  // a symlink in the kubelet directory that leads out of it
  mkdirSync(join(n.kubeletDir, 'pods'), { recursive: true });
  symlinkSync(outside.dir, join(n.kubeletDir, 'pods', 'evil'));
  await code(n, 'NodePublishVolume', { volume_id: VOL, staging_target_path: staging, target_path: join(n.kubeletDir, 'pods', 'evil', 'mount'), volume_capability: mountCapability() }, I, /resolves to .* outside the kubelet directory/);
  await code(n, 'NodeUnpublishVolume', { volume_id: VOL, target_path: join(n.kubeletDir, 'pods', 'evil', 'mount') }, I, /outside the kubelet directory/);
  assert.equal(existsSync(join(outside.dir, 'mount')), false, 'nothing was created outside');
  assertNoMountsUnder(n.dir);
});

test('node: unknown volumes, re-formatted and missing pools', async (t) => {
  const { n, pool } = await setup(t);
  const NF = status.NOT_FOUND;
  const stage = (volume_id: string, extra: object = {}) => n.stageRequest(volume_id, 'v', extra);
  await code(n, 'NodeStageVolume', stage('not-a-famfs-id'), NF, /not a famfs-csi volume id/);
  await code(n, 'NodeStageVolume', stage('pool0:xyz'), NF, /not a famfs-csi volume id/);
  await code(n, 'NodeStageVolume', stage('other:0123456789abcdef0123456789abcdef'), NF, /pool other is not configured on this node/);
  await code(n, 'NodePublishVolume', n.publishRequest('nope', 'v', 'pod'), NF);
  // the pool's device is not on this node
  await code(n, 'NodeStageVolume', stage('ghost:0123456789abcdef0123456789abcdef'), status.FAILED_PRECONDITION, /device .*not-here\.dax does not exist on node worker-7/);
  // volume created in another famfs file system than the one on the device now
  await code(n, 'NodeStageVolume', stage(VOL, { volume_context: { poolUuid: '00000000-1111-2222-3333-444444444444' } }), status.FAILED_PRECONDITION, /was created in pool pool0 with file system uuid 00000000-1111-2222-3333-444444444444, but .* now holds famfs uuid .*re-formatted/);
  // a device without a famfs superblock
  const raw = scratchDir();
  t.after(raw.cleanup);
  createEmulatedDevice(join(raw.dir, 'raw.dax'), 16 * MiB);
  const n2 = await testNodePlugin({ pools: [{ name: 'pool0', device: join(raw.dir, 'raw.dax') }] });
  t.after(n2.cleanup);
  await code(n2, 'NodeStageVolume', n2.stageRequest(VOL, 'v'), status.FAILED_PRECONDITION, /no famfs superblock/);
  assert.ok(pool.path);
  assertNoMountsUnder(n.dir);
});

test('node: publish before stage is FAILED_PRECONDITION; unpublish and unstage of nothing are OK', async (t) => {
  if (!privileged(t)) return;
  const { n } = await setup(t);
  await code(n, 'NodePublishVolume', n.publishRequest(VOL, 'v', 'pod'), status.FAILED_PRECONDITION, /is not staged at .*globalmount; call NodeStageVolume first/);
  assert.equal(existsSync(n.targetPath('pod', 'v')), false, 'no target directory was created');

  // staging path holding some other mount: not this volume
  const plain = join(n.dir, 'plain');
  mkdirSync(plain);
  const staging = n.stagingPath('v');
  mkdirSync(staging);
  const m = new Mounter();
  await m.bind(plain, staging);
  await code(n, 'NodePublishVolume', n.publishRequest(VOL, 'v', 'pod'), status.FAILED_PRECONDITION, /not staged at .* \(it holds a \w+ mount of/);
  await code(n, 'NodeStageVolume', n.stageRequest(VOL, 'v'), status.ALREADY_EXISTS, /already holds a \w+ mount of .*not volume pool0:/);
  // unstage never unmounts what is not a famfs volume
  await code(n, 'NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging }, status.FAILED_PRECONDITION, /not a famfs volume; not unmounting it/);
  assert.ok(findMount(staging), 'the foreign mount is still there');
  await m.unmount(staging);

  // nothing there: OK, repeatedly; the staging directory stays, the target directory goes
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await n.client.call('NodeUnstageVolume', { volume_id: VOL, staging_target_path: staging }), {});
    assert.ok(existsSync(staging), 'NodeUnstage does not remove the staging directory');
  }
  const target = n.targetPath('pod', 'v');
  mkdirSync(target);
  for (let i = 0; i < 3; i++) assert.deepEqual(await n.client.call('NodeUnpublishVolume', { volume_id: VOL, target_path: target }), {});
  assert.equal(existsSync(target), false, 'NodeUnpublish removes the target directory');
  // an unknown or unparsable volume id is fine too (nothing to unmount; never a stuck pod)
  assert.deepEqual(await n.client.call('NodeUnpublishVolume', { volume_id: 'gone:whatever', target_path: target }), {});
  assert.deepEqual(await n.client.call('NodeUnstageVolume', { volume_id: 'gone:whatever', staging_target_path: join(n.kubeletDir, 'never-made') }), {});

  // a target that holds files (no mount): never deleted
  mkdirSync(target);
  writeFileSync(join(target, 'precious'), 'x');
  await code(n, 'NodeUnpublishVolume', { volume_id: VOL, target_path: target }, status.FAILED_PRECONDITION, /holds files; not removing them/);
  assert.equal(readFileSync(join(target, 'precious'), 'utf8'), 'x');
  // a target holding a foreign mount is left alone
  rmSync(join(target, 'precious'));
  await m.bind(plain, target);
  await code(n, 'NodeUnpublishVolume', { volume_id: VOL, target_path: target }, status.FAILED_PRECONDITION, /not a famfs volume/);
  await m.unmount(target);
  assertNoMountsUnder(n.dir);
});

test('node: NodeGetVolumeStats of paths that are not this volume is NOT_FOUND', async (t) => {
  if (!privileged(t)) return;
  const { n } = await setup(t);
  const target = n.targetPath('pod', 'v');
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL, volume_path: target }, status.NOT_FOUND, /is not a mount of volume/);
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL, volume_path: '/proc' }, status.NOT_FOUND, /is not a mount of volume/);
  await code(n, 'NodeGetVolumeStats', { volume_id: 'junk', volume_path: target }, status.NOT_FOUND, /not a famfs-csi volume id/);
  mkdirSync(target);
  const plain = join(n.dir, 'plain');
  mkdirSync(plain);
  writeFileSync(join(plain, 'data'), 'x');
  await new Mounter().bind(plain, target);
  t.after(() => cleanupMounts(n.dir));
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL, volume_path: target }, status.NOT_FOUND, /is not a mount of volume/);
  await code(n, 'NodeGetVolumeStats', { volume_id: VOL, volume_path: join(target, 'data') }, status.NOT_FOUND);
  await new Mounter().unmount(target);
  assertNoMountsUnder(n.dir);
});

test('node: a pool server that cannot mount gives UNAVAILABLE with its log; nothing is left mounted', async (t) => {
  if (!privileged(t)) return;
  const { n } = await setup(t);
  const e = await n.client.fail('NodeStageVolume', n.stageRequest(VOL, 'v'));
  assert.equal(status[e.code], 'UNAVAILABLE', e.details);
  assert.match(e.details, /pool pool0: the FUSE server exited with status 3 before its mount at .*\/state\/pools\/pool0 answered/);
  assert.match(e.details, /fake famfs-csi: cannot mount mount --pool pool0 --device .*pool\.dax --mountpoint .*\/state\/pools\/pool0 --reclaim never/);
  const log = readFileSync(join(n.stateDir, 'pools', 'pool0.log'), 'utf8');
  assert.match(log, /fake famfs-csi: cannot mount/);
  // the log is appended to: a second attempt shows only its own output in the error
  const again = await n.client.fail('NodeStageVolume', n.stageRequest(VOL, 'v'));
  assert.equal(status[again.code], 'UNAVAILABLE');
  assert.equal((again.details.match(/fake famfs-csi/g) ?? []).length, 1);
  assert.equal((readFileSync(join(n.stateDir, 'pools', 'pool0.log'), 'utf8').match(/fake famfs-csi/g) ?? []).length, 2);
  assertNoMountsUnder(n.dir);
});

test('node: a pool server that never mounts is killed after the start timeout; it runs in its own session', async (t) => {
  if (!privileged(t)) return;
  const s = scratchDir();
  t.after(s.cleanup);
  const pidFile = join(s.dir, 'pid');
  const { n } = await setup(t, {
    cliCommand: ['/bin/sh', '-c', `echo $$ > ${pidFile}; echo "starting slowly"; exec sleep 60`, 'fake'],
    serverStartTimeoutMs: 700,
  });
  const started = Date.now();
  const e = await n.client.fail('NodeStageVolume', n.stageRequest(VOL, 'v'));
  assert.equal(status[e.code], 'UNAVAILABLE', e.details);
  assert.match(e.details, /did not answer within 700 ms \(last state: absent\); server log .*: starting slowly/);
  assert.ok(Date.now() - started < 5000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  // it was its own session leader (setsid: detached), so it outlives the plugin's process group
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the stuck server was killed');
  assertNoMountsUnder(n.dir);
});

test('node: pool servers are detached session leaders with the contract arguments', async (t) => {
  if (!privileged(t)) return;
  const s = scratchDir();
  t.after(s.cleanup);
  const out = join(s.dir, 'out');
  const { n, pool } = await setup(t, {
    cliCommand: ['/bin/sh', '-c', `echo "$$ $(cut -d' ' -f6 /proc/$$/stat) $*" > ${out}; exit 1`, 'fake'],
  });
  await n.client.fail('NodeStageVolume', n.stageRequest(VOL, 'v'));
  const [pid, session, ...args] = readFileSync(out, 'utf8').trim().split(' ');
  assert.equal(session, pid, 'the server is the leader of its own session (detached)');
  assert.deepEqual(args, ['mount', '--pool', 'pool0', '--device', pool.path, '--mountpoint', join(n.plugin.stateDir, 'pools', 'pool0'), '--reclaim', 'never']);
});
