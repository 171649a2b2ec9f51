/**
 * CreateVolume conformance: every validation rule (code and message), capacity rounding and
 * limits, StorageClass parameters, topology, the response shape, and zero-filled memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACCESS_MODES,
  BLOCK_CAP,
  LOG_LEN,
  MiB,
  POOL_DATA,
  assertFsckClean,
  capacity,
  createReq,
  expectError,
  expectedId,
  fillBytes,
  firstNonZero,
  grpc,
  mountCap,
  poolStats,
  startPlugin,
  topology,
  volumeFile,
  withPool,
} from './harness.js';
import { LOG_OFFSET, Pool, createEmulatedDevice, fmapDeviceRanges, newUuid } from '../../src/famfs/index.js';
import { join } from 'node:path';

const { INVALID_ARGUMENT, OUT_OF_RANGE, RESOURCE_EXHAUSTED } = grpc.status;

interface CreateResponse {
  volume: {
    volume_id: string;
    capacity_bytes: string;
    volume_context: Record<string, string>;
    accessible_topology: { segments: Record<string, string> }[];
    content_source: unknown;
  };
}

test('CreateVolume: the response has the volume id, capacity, context and topology', async (t) => {
  const env = await startPlugin(t);
  const res = await env.client.call<CreateResponse>('CreateVolume', createReq('pvc-0001', capacity(8 * MiB)));
  const v = res.volume;
  assert.match(v.volume_id, /^p0:[0-9a-f]{32}$/);
  assert.equal(v.volume_id, expectedId('pvc-0001'));
  assert.equal(v.capacity_bytes, String(8 * MiB));
  const id = v.volume_id.slice(3);
  const uuid = withPool(env.poolPath, (p) => p.superblock.uuid);
  assert.deepEqual(v.volume_context, { pool: 'p0', path: `csi/${id}/data`, poolUuid: uuid });
  assert.deepEqual(v.accessible_topology, [{ segments: { 'famfs.csi.io/pool-p0': 'true' } }]);
  assert.equal(v.content_source, null);
  const file = volumeFile(env.poolPath, v.volume_context.path!);
  assert.equal(file.size, 8 * MiB);
  assert.equal(file.mode, 0o660, 'default mode of a volume file');
  assert.deepEqual([file.uid, file.gid], [0, 0]);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: name is required, at most 128 bytes, without control characters', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await expectError(c.call('CreateVolume', createReq('')), INVALID_ARGUMENT, /name: missing/);
  await expectError(c.call('CreateVolume', { volume_capabilities: [mountCap()] }), INVALID_ARGUMENT, /name: missing/);
  await expectError(c.call('CreateVolume', createReq('n'.repeat(129))), INVALID_ARGUMENT, /name: 129 bytes is longer than the 128 bytes/);
  // 43 three-byte characters: 43 characters, but 129 bytes.
  await expectError(c.call('CreateVolume', createReq('€'.repeat(43))), INVALID_ARGUMENT, /name: 129 bytes/);
  for (const bad of ['nul\u0000inside', 'tab\there', 'line\nbreak', 'bell\u0007', 'del\u007f', '\u001b[31mred']) {
    await expectError(c.call('CreateVolume', createReq(bad)), INVALID_ARGUMENT, /name: .* contains control characters/);
  }
  const max = await c.call<CreateResponse>('CreateVolume', createReq('m'.repeat(128), capacity(2 * MiB)));
  assert.equal(max.volume.volume_id, expectedId('m'.repeat(128)));
  const maxUtf8 = 'é'.repeat(64); // 64 characters, 128 bytes
  assert.equal((await c.call<CreateResponse>('CreateVolume', createReq(maxUtf8, capacity(2 * MiB)))).volume.volume_id, expectedId(maxUtf8));
  assert.equal(poolStats(env.poolPath).files, 2, 'only the two valid names made volumes');
  assertFsckClean(env.poolPath);
});

test('CreateVolume: C1 control characters (U+0080..U+009F) in the name are refused too', async (t) => {
  const env = await startPlugin(t);
  // U+009B is the 8-bit CSI escape introducer, U+0085 is NEL (a line break): both are Unicode
  // control characters (category Cc) like U+0000..U+001F and U+007F.
  for (const bad of ['csi\u009b31mred', 'next\u0085line']) {
    await expectError(env.client.call('CreateVolume', createReq(bad, capacity(2 * MiB))), INVALID_ARGUMENT, /control characters/);
  }
  env.assertClean();
});

test('CreateVolume: names with "/", "..", and unicode are hashed, never used as paths', async (t) => {
  const env = await startPlugin(t);
  const names = ['a/b', '../../../etc/passwd', '..', '.', '/abs/path', 'csi/x/data', '卷-名前-🚀', 'a', 'A', 'a ', 'pvc-%2F'];
  const ids = new Set<string>();
  for (const name of names) {
    const { volume } = await env.client.call<CreateResponse>('CreateVolume', createReq(name, capacity(2 * MiB)));
    assert.equal(volume.volume_id, expectedId(name), name);
    assert.match(volume.volume_context.path!, /^csi\/[0-9a-f]{32}\/data$/, name);
    ids.add(volume.volume_id);
  }
  assert.equal(ids.size, names.length, 'every name maps to its own volume');
  const list = await env.client.call<{ entries: { volume: { volume_id: string } }[] }>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id).sort(), [...ids].sort());
  const paths = withPool(env.poolPath, (p) => [...p.namespace.walk()].map((n) => n.relpath));
  assert.ok(paths.every((p) => p === 'csi' || /^csi\/[0-9a-f]{32}(\/data)?$/.test(p)), `pool holds only csi/<hash>/data: ${paths.join(', ')}`);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: volume capabilities (mount only, fs_type "" or famfs, any known access mode)', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const cv = (name: string, caps: unknown[]) => c.call<CreateResponse>('CreateVolume', { name, volume_capabilities: caps, ...capacity(2 * MiB) });
  await expectError(cv('nocaps', []), INVALID_ARGUMENT, /volume_capabilities: at least one volume capability is required/);
  await expectError(cv('block', [BLOCK_CAP]), INVALID_ARGUMENT, /volume_capabilities\[0\]: block volumes are not supported/);
  await expectError(cv('mixed', [mountCap(), BLOCK_CAP]), INVALID_ARGUMENT, /volume_capabilities\[1\]: block volumes are not supported/);
  await expectError(cv('ext4', [mountCap('SINGLE_NODE_WRITER', 'ext4')]), INVALID_ARGUMENT, /volume_capabilities\[0\]\.mount\.fs_type: "ext4" is not supported/);
  await expectError(cv('xfs', [mountCap('SINGLE_NODE_WRITER', 'xfs')]), INVALID_ARGUMENT, /fs_type: "xfs"/);
  await expectError(cv('unknown', [mountCap('UNKNOWN')]), INVALID_ARGUMENT, /access_mode\.mode: UNKNOWN is not a known access mode/);
  await expectError(cv('unknown-number', [mountCap(99)]), INVALID_ARGUMENT, /access_mode\.mode: 99 is not a known access mode/);
  await expectError(cv('nomode', [{ mount: {} }]), INVALID_ARGUMENT, /volume_capabilities\[0\]\.access_mode: missing/);
  await expectError(cv('noaccesstype', [{ access_mode: { mode: 'SINGLE_NODE_WRITER' } }]), INVALID_ARGUMENT, /access_type must be mount/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, 0, 'rejected requests log nothing');

  await cv('fs-empty', [mountCap('SINGLE_NODE_WRITER', '')]);
  await cv('fs-famfs', [mountCap('SINGLE_NODE_WRITER', 'famfs')]);
  for (const mode of ACCESS_MODES) {
    const { volume } = await cv(`mode-${mode}`, [mountCap(mode)]);
    assert.equal(volume.volume_id, expectedId(`mode-${mode}`));
  }
  await cv('all-modes', ACCESS_MODES.map((m) => mountCap(m)));
  assert.equal(poolStats(env.poolPath).files, 2 + ACCESS_MODES.length + 1);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: capacity_range rounding, defaults and limits', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const size = async (name: string, extra: Record<string, unknown>) => Number((await c.call<CreateResponse>('CreateVolume', createReq(name, extra))).volume.capacity_bytes);
  assert.equal(await size('default', {}), 16 * MiB, 'no range: the 16Mi default');
  assert.equal(await size('one-byte', capacity(1)), 2 * MiB, '1 byte rounds up to one 2 MiB unit');
  assert.equal(await size('five-million', capacity(5_000_000)), 6_291_456);
  assert.equal(await size('exact', capacity(4 * MiB, 4 * MiB)), 4 * MiB);
  assert.equal(await size('limit-only', capacity(0, 5 * MiB)), 4 * MiB, 'limit below the default: the largest whole units under the limit');
  assert.equal(await size('limit-above-default', capacity(0, 64 * MiB)), 16 * MiB);
  assert.equal(await size('rounded-within-limit', capacity(3 * MiB, 5 * MiB)), 4 * MiB);

  await expectError(c.call('CreateVolume', createReq('limit-below-rounded', capacity(3 * MiB, 3 * MiB))), OUT_OF_RANGE, /limit_bytes 3145728 is below 4194304/);
  await expectError(c.call('CreateVolume', createReq('limit-below-unit', capacity(0, MiB))), OUT_OF_RANGE, /limit_bytes 1048576 is below/);
  await expectError(c.call('CreateVolume', createReq('required-above-limit', capacity(8 * MiB, 4 * MiB))), OUT_OF_RANGE, /required_bytes 8388608 exceeds limit_bytes 4194304/);
  await expectError(c.call('CreateVolume', createReq('negative', capacity(-1))), INVALID_ARGUMENT, /capacity_range\.required_bytes: -1 must not be negative/);
  await expectError(c.call('CreateVolume', createReq('negative-limit', capacity(2 * MiB, -5))), INVALID_ARGUMENT, /capacity_range\.limit_bytes: -5 must not be negative/);
  await expectError(c.call('CreateVolume', createReq('int64-max', capacity('9223372036854775807'))), OUT_OF_RANGE, /required_bytes: 9223372036854775807 bytes is beyond any pool/);
  await expectError(c.call('CreateVolume', createReq('limit-int64-max-required-too', capacity('9223372036854775807', '9223372036854775807'))), OUT_OF_RANGE, /9223372036854775807/);
  // 2^63 does not fit an int64: proto-loader's client encodes "9223372036854775808" as the int64
  // -2^63 (two's complement), so what reaches the plugin is negative.
  await expectError(c.call('CreateVolume', createReq('two-pow-63', capacity('9223372036854775808'))), INVALID_ARGUMENT, /-9223372036854775808 must not be negative/);
  await expectError(c.call('CreateVolume', createReq('above-2^53', capacity('9007199254740993'))), OUT_OF_RANGE, /beyond any pool/);
  await expectError(c.call('CreateVolume', createReq('larger-than-pool', capacity(300 * MiB))), OUT_OF_RANGE, /314572800 bytes is larger than pool p0 \(257949696 bytes of data space\)/);
  await expectError(c.call('CreateVolume', createReq('one-unit-too-big', capacity(POOL_DATA + 1))), OUT_OF_RANGE, /larger than pool p0/);
  const used = poolStats(env.poolPath).logEntriesUsed;
  assert.equal(used, 1 + 7 * 2, 'only the 7 valid requests logged entries');
  assertFsckClean(env.poolPath);
});

test('CreateVolume: a volume may fill the whole pool; one more byte is RESOURCE_EXHAUSTED with the free figures', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const big = await c.call<CreateResponse>('CreateVolume', createReq('whole', capacity(100 * MiB)));
  assert.equal(big.volume.capacity_bytes, String(100 * MiB));
  await c.call('CreateVolume', createReq('second', capacity(100 * MiB)));
  // 46 MiB are free now, in one run.
  const err = await expectError(c.call('CreateVolume', createReq('too-big', capacity(60 * MiB))), RESOURCE_EXHAUSTED, /free/);
  assert.match(err.details, /62914560 bytes requested, 48234496 bytes free, largest free run 48234496 bytes/);
  const before = poolStats(env.poolPath).logEntriesUsed;
  for (let i = 0; i < 3; i++) await expectError(c.call('CreateVolume', createReq('too-big', capacity(60 * MiB))), RESOURCE_EXHAUSTED, /largest free run/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, before, 'retries of a request that cannot fit log nothing');
  const rest = await c.call<CreateResponse>('CreateVolume', createReq('rest', capacity(46 * MiB)));
  assert.equal(rest.volume.capacity_bytes, String(46 * MiB));
  await expectError(c.call('CreateVolume', createReq('nothing-left', capacity(1))), RESOURCE_EXHAUSTED, /0 bytes free, largest free run 0 bytes/);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: StorageClass parameters', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const cv = (name: string, parameters: Record<string, string>, size = 2 * MiB) => c.call<CreateResponse>('CreateVolume', createReq(name, { ...capacity(size), parameters }));
  await expectError(cv('unknown', { fstype: 'famfs' }), INVALID_ARGUMENT, /parameters: unknown key "fstype"/);
  await expectError(cv('unknown2', { pool: 'p0', 'famfs.csi.io/stripes': '2' }), INVALID_ARGUMENT, /unknown key "famfs\.csi\.io\/stripes"/);
  const bad: [Record<string, string>, RegExp][] = [
    [{ mode: 'rwx' }, /parameters\.mode: "rwx"/],
    [{ mode: '0999' }, /parameters\.mode: "0999"/],
    [{ mode: '' }, /parameters\.mode/],
    [{ uid: '-1' }, /parameters\.uid: "-1" must be an integer 0\.\.4294967294/],
    [{ uid: 'root' }, /parameters\.uid: "root"/],
    [{ uid: '4294967295' }, /parameters\.uid: "4294967295"/],
    [{ gid: '1.5' }, /parameters\.gid: "1\.5"/],
    [{ gid: '' }, /parameters\.gid/],
    [{ stripes: '0' }, /parameters\.stripes: "0" must be an integer 1\.\.16/],
    [{ stripes: '17' }, /parameters\.stripes: "17"/],
    [{ stripes: 'two' }, /parameters\.stripes: "two"/],
    [{ stripes: '2', chunkSize: 'huge' }, /parameters\.chunkSize: "huge" is not a size/],
    [{ stripes: '2', chunkSize: '0' }, /parameters\.chunkSize: "0"/],
    [{ stripes: '2', buckets: '0' }, /parameters\.buckets: "0" must be an integer 1\.\.64/],
    [{ stripes: '2', buckets: '65' }, /parameters\.buckets: "65"/],
    [{ chunkSize: '4Mi' }, /parameters: chunkSize is only meaningful with stripes/],
    [{ buckets: '4' }, /parameters: buckets is only meaningful with stripes/],
    [{ pool: '' }, /parameters\.pool: must not be empty/],
    [{ pool: 'nope' }, /parameters\.pool: "nope" is not a configured pool \(configured: p0\)/],
  ];
  for (const [parameters, message] of bad) await expectError(cv('bad', parameters), INVALID_ARGUMENT, message);
  // Values that parse but famfs cannot stripe with name the stripe setting in famfs's words.
  await expectError(cv('bad-chunk', { stripes: '2', chunkSize: '3Mi' }, 16 * MiB), INVALID_ARGUMENT, /parameters\.chunkSize: "3Mi" must be a power of two/);
  await expectError(cv('strips-over-buckets', { stripes: '4', buckets: '2' }, 16 * MiB), INVALID_ARGUMENT, /parameters\.stripes: 4 must not exceed parameters\.buckets \(2\)/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, 0, 'rejected requests log nothing');

  const k8s = await cv('k8s-keys', { 'csi.storage.k8s.io/pvc/name': 'data', 'csi.storage.k8s.io/pvc/namespace': 'default', 'csi.storage.k8s.io/pv/name': 'pvc-1234', 'csi.storage.k8s.io/fstype': 'famfs' });
  assert.equal(k8s.volume.volume_id, expectedId('k8s-keys'));

  const owned = await cv('owned', { pool: 'p0', mode: '0640', uid: '1000', gid: '2000' });
  const f = volumeFile(env.poolPath, owned.volume.volume_context.path!);
  assert.deepEqual([f.mode, f.uid, f.gid], [0o640, 1000, 2000]);
  const sticky = volumeFile(env.poolPath, (await cv('mode-forms', { mode: '0o1777' })).volume.volume_context.path!);
  assert.equal(sticky.mode, 0o1777);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: stripes=2 creates an interleaved volume (relaxStripeBuckets pool)', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const s = await c.call<CreateResponse>('CreateVolume', createReq('striped', { ...capacity(16 * MiB), parameters: { stripes: '2' } }));
  assert.equal(s.volume.capacity_bytes, String(16 * MiB));
  const f = volumeFile(env.poolPath, s.volume.volume_context.path!);
  assert.equal(f.fmap.kind, 'interleaved');
  assert.ok(f.fmap.kind === 'interleaved');
  const ie = f.fmap.extents[0]!;
  assert.equal(ie.strips.length, 2);
  assert.equal(ie.chunkSize, 2 * MiB);
  assert.equal(ie.strips.reduce((n, x) => n + x.length, 0), 16 * MiB);
  // The two strips lie in different halves (buckets) of the device.
  const half = Math.floor(256 / 2 / 2) * 2 * MiB;
  assert.notEqual(Math.floor(ie.strips[0]!.offset / half), Math.floor(ie.strips[1]!.offset / half));

  const wide = await c.call<CreateResponse>('CreateVolume', createReq('wide', { ...capacity(32 * MiB), parameters: { stripes: '4', chunkSize: '4Mi', buckets: '8' } }));
  const w = volumeFile(env.poolPath, wide.volume.volume_context.path!);
  assert.ok(w.fmap.kind === 'interleaved');
  assert.deepEqual([w.fmap.extents[0]!.strips.length, w.fmap.extents[0]!.chunkSize], [4, 4 * MiB]);

  // Smaller than one chunk: famfs allocates it contiguously.
  const small = await c.call<CreateResponse>('CreateVolume', createReq('small-striped', { ...capacity(2 * MiB), parameters: { stripes: '2', chunkSize: '4Mi' } }));
  assert.equal(volumeFile(env.poolPath, small.volume.volume_context.path!).fmap.kind, 'simple');
  assertFsckClean(env.poolPath);
});

test('CreateVolume: striping a small pool without relaxStripeBuckets is INVALID_ARGUMENT (1 GiB buckets)', async (t) => {
  const env = await startPlugin(t, { pool: { relaxStripeBuckets: false } });
  await expectError(env.client.call('CreateVolume', createReq('striped', { ...capacity(16 * MiB), parameters: { stripes: '2' } })), INVALID_ARGUMENT, /at least 1 GiB/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, 0);
  env.assertClean();
});

test('CreateVolume: volume_content_source and mutable_parameters are refused', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const src = await c.call<CreateResponse>('CreateVolume', createReq('source', capacity(2 * MiB)));
  await expectError(c.call('CreateVolume', createReq('clone', { volume_content_source: { volume: { volume_id: src.volume.volume_id } } })), INVALID_ARGUMENT, /volume_content_source: famfs-csi cannot create volumes from snapshots or other volumes/);
  await expectError(c.call('CreateVolume', createReq('restore', { volume_content_source: { snapshot: { snapshot_id: 'snap-1' } } })), INVALID_ARGUMENT, /volume_content_source/);
  await expectError(c.call('CreateVolume', createReq('mutable', { mutable_parameters: { iops: '100' } })), INVALID_ARGUMENT, /mutable_parameters: famfs-csi has no mutable parameters/);
  assert.equal(poolStats(env.poolPath).files, 1);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: accessibility_requirements', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await expectError(c.call('CreateVolume', createReq('elsewhere', { accessibility_requirements: { requisite: [topology('p1')], preferred: [topology('p1')] } })), RESOURCE_EXHAUSTED, /no configured pool is in the requisite topology/);
  await expectError(
    c.call('CreateVolume', createReq('pinned-elsewhere', { parameters: { pool: 'p0' }, accessibility_requirements: { requisite: [topology('p1')] } })),
    RESOURCE_EXHAUSTED,
    /pool p0 is not in the requisite topology \(p1\)/,
  );
  await expectError(c.call('CreateVolume', createReq('zone-only', { accessibility_requirements: { requisite: [{ segments: { 'topology.kubernetes.io/zone': 'a' } }] } })), RESOURCE_EXHAUSTED, /requisite topology/);
  const ok = await c.call<CreateResponse>('CreateVolume', createReq('here', { ...capacity(2 * MiB), accessibility_requirements: { requisite: [topology('p1'), topology('p0')], preferred: [topology('p0')] } }));
  assert.deepEqual(ok.volume.accessible_topology, [topology('p0')]);
  const pref = await c.call<CreateResponse>('CreateVolume', createReq('preferred-only', { ...capacity(2 * MiB), accessibility_requirements: { requisite: [], preferred: [topology('p0')] } }));
  assert.equal(pref.volume.volume_id, expectedId('preferred-only'));
  assert.equal(poolStats(env.poolPath).files, 2);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: two pools, chosen by parameter or topology; a name lives in one pool only', async (t) => {
  const env = await startPlugin(t, {
    pools: [
      { name: 'p0', device: 'p0.dax', emulated: { size: '64Mi' }, logLength: '8Mi' },
      { name: 'p1', device: 'p1.dax', emulated: { size: '64Mi' }, logLength: '8Mi' },
    ],
  });
  const c = env.client;
  await expectError(c.call('CreateVolume', createReq('which', capacity(2 * MiB))), INVALID_ARGUMENT, /parameters\.pool: missing; this driver has 2 pools \(p0, p1\)/);
  const byParam = await c.call<CreateResponse>('CreateVolume', createReq('by-param', { ...capacity(2 * MiB), parameters: { pool: 'p1' } }));
  assert.equal(byParam.volume.volume_id, expectedId('by-param', 'p1'));
  assert.deepEqual(byParam.volume.accessible_topology, [topology('p1')]);
  assert.equal(byParam.volume.volume_context.pool, 'p1');
  const byTopo = await c.call<CreateResponse>('CreateVolume', createReq('by-topology', { ...capacity(2 * MiB), accessibility_requirements: { requisite: [topology('p1')] } }));
  assert.equal(byTopo.volume.volume_id, expectedId('by-topology', 'p1'));
  const preferred = await c.call<CreateResponse>('CreateVolume', createReq('preferred', { ...capacity(2 * MiB), accessibility_requirements: { requisite: [topology('p0'), topology('p1')], preferred: [topology('p1')] } }));
  assert.equal(preferred.volume.volume_id, expectedId('preferred', 'p1'));
  await expectError(c.call('CreateVolume', createReq('by-param', { ...capacity(2 * MiB), parameters: { pool: 'p0' } })), grpc.status.ALREADY_EXISTS, /a volume of that name exists in pool p1, not in p0/);
  const again = await c.call<CreateResponse>('CreateVolume', createReq('by-param', { ...capacity(2 * MiB), parameters: { pool: 'p1' } }));
  assert.equal(again.volume.volume_id, byParam.volume.volume_id);
  env.assertClean();
  assert.equal(poolStats(join(env.dir, 'p0.dax')).files, 0);
  assert.equal(poolStats(join(env.dir, 'p1.dax')).files, 3);
});

test('CreateVolume: a new volume reads as zeros even where the pool held junk', async (t) => {
  const env = await startPlugin(t, {
    // A pool file whose data region is full of 0xff before the plugin formats it.
    prepare(dir) {
      const path = join(dir, 'p0.dax');
      createEmulatedDevice(path, 256 * MiB);
      fillBytes(path, LOG_OFFSET + LOG_LEN, 256 * MiB - LOG_OFFSET - LOG_LEN, 0xff);
    },
  });
  const c = env.client;
  const res = await c.call<CreateResponse>('CreateVolume', createReq('zeroed', capacity(32 * MiB)));
  const file = volumeFile(env.poolPath, res.volume.volume_context.path!);
  const ranges = fmapDeviceRanges(file.fmap);
  assert.equal(ranges.reduce((n, r) => n + r.length, 0), 32 * MiB);
  assert.equal(firstNonZero(env.poolPath, res.volume.volume_context.path!), -1, 'the whole extent is zero');
  // The junk is really there outside the volume, so the check above means something.
  const after = ranges[0]!.offset + ranges[0]!.length;
  withPool(env.poolPath, (p) => assert.equal(p.device.map(after, 1)[0], 0xff));

  const striped = await c.call<CreateResponse>('CreateVolume', createReq('zeroed-striped', { ...capacity(24 * MiB), parameters: { stripes: '3' } }));
  assert.equal(firstNonZero(env.poolPath, striped.volume.volume_context.path!), -1, 'every strip is zero');
  assertFsckClean(env.poolPath);
});

test('CreateVolume: space of a deleted volume is zero-filled before it is handed out again (reclaim safe)', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const a = await c.call<CreateResponse>('CreateVolume', createReq('tenant-a', capacity(8 * MiB)));
  const fa = volumeFile(env.poolPath, a.volume.volume_context.path!);
  const ra = fmapDeviceRanges(fa.fmap)[0]!;
  fillBytes(env.poolPath, ra.offset, ra.length, 0xab); // tenant A's secrets
  await c.call('DeleteVolume', { volume_id: a.volume.volume_id });
  const b = await c.call<CreateResponse>('CreateVolume', createReq('tenant-b', capacity(8 * MiB)));
  const rb = fmapDeviceRanges(volumeFile(env.poolPath, b.volume.volume_context.path!).fmap)[0]!;
  assert.equal(rb.offset, ra.offset, 'first fit reuses the freed extent');
  assert.equal(firstNonZero(env.poolPath, b.volume.volume_context.path!), -1, "tenant B never sees tenant A's bytes");
  assertFsckClean(env.poolPath);
});

test('CreateVolume: a pool another host has taken over is FAILED_PRECONDITION "not the master"; reads still work', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const mine = (await c.call<CreateResponse>('CreateVolume', createReq('before', capacity(2 * MiB)))).volume;
  // Another host (another system uuid) becomes the pool's master and writes to it.
  const other = Pool.open(env.poolPath, { systemUuid: newUuid(), takeOver: true });
  try {
    await other.mkdir('other-host');
  } finally {
    other.close();
  }
  await expectError(c.call('CreateVolume', createReq('after', capacity(2 * MiB))), grpc.status.FAILED_PRECONDITION, /is not the master of the pool/);
  await expectError(c.call('DeleteVolume', { volume_id: mine.volume_id }), grpc.status.FAILED_PRECONDITION, /not the master/);
  assert.deepEqual((await c.call<CreateResponse>('CreateVolume', createReq('before', capacity(2 * MiB)))).volume, mine, 'an existing volume is still returned');
  assert.equal((await c.call<{ entries: unknown[] }>('ListVolumes', {})).entries.length, 1);
  assert.equal(poolStats(env.poolPath).files, 1);
  env.assertClean();
});

test('CreateVolume: pool defaults (mode, uid, gid, volumeSize) from the configuration', async (t) => {
  const env = await startPlugin(t, { pool: { defaults: { mode: '0600', uid: 1000, gid: 1001, volumeSize: '6Mi' } } });
  const res = await env.client.call<CreateResponse>('CreateVolume', createReq('defaults'));
  assert.equal(res.volume.capacity_bytes, String(6 * MiB));
  const f = volumeFile(env.poolPath, res.volume.volume_context.path!);
  assert.deepEqual([f.mode, f.uid, f.gid], [0o600, 1000, 1001]);
  assertFsckClean(env.poolPath);
});
