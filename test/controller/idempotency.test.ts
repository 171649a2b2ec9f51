/**
 * CreateVolume idempotency (the CO retries every call) and concurrency: same request, same
 * answer; incompatible repeats are ALREADY_EXISTS; concurrent calls never collide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiB, assertFsckClean, capacity, createReq, expectError, expectedId, firstNonZero, grpc, makePool, poolStats, startPlugin } from './harness.js';

const { ABORTED, ALREADY_EXISTS, RESOURCE_EXHAUSTED } = grpc.status;

interface Vol {
  volume_id: string;
  capacity_bytes: string;
  volume_context: Record<string, string>;
  accessible_topology: unknown[];
}

test('CreateVolume: the same request 10 times gives the same volume (sequential and concurrent)', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const req = createReq('pvc-idem', { ...capacity(5 * MiB), parameters: { mode: '0640', 'csi.storage.k8s.io/pvc/name': 'x' } });
  const first = (await c.call<{ volume: Vol }>('CreateVolume', req)).volume;
  assert.equal(first.volume_id, expectedId('pvc-idem'));
  assert.equal(first.capacity_bytes, String(6 * MiB));
  for (let i = 0; i < 9; i++) assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', req)).volume, first);
  const concurrent = await Promise.all(Array.from({ length: 10 }, () => c.call<{ volume: Vol }>('CreateVolume', req)));
  for (const r of concurrent) assert.deepEqual(r.volume, first);
  const s = poolStats(env.poolPath);
  assert.equal(s.files, 1, 'one volume in the pool');
  assert.equal(s.logEntriesUsed, 3, 'csi dir, volume dir and data file: nothing logged by the repeats');
  const list = await c.call<{ entries: { volume: Vol }[] }>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id), [first.volume_id]);
  assertFsckClean(env.poolPath);
});

test('CreateVolume: same name with incompatible size, mode, owner or striping is ALREADY_EXISTS', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const base = (await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-a', capacity(4 * MiB)))).volume;
  await expectError(c.call('CreateVolume', createReq('pvc-a', capacity(8 * MiB))), ALREADY_EXISTS, /volume p0:[0-9a-f]{32} exists with capacity 4194304 bytes, outside the requested range \[8388608, ∞\]/);
  await expectError(c.call('CreateVolume', createReq('pvc-a', capacity(MiB, 3 * MiB))), ALREADY_EXISTS, /capacity 4194304 bytes, outside the requested range \[1048576, 3145728\]/);
  await expectError(c.call('CreateVolume', createReq('pvc-a', { ...capacity(4 * MiB), parameters: { mode: '0600' } })), ALREADY_EXISTS, /exists with mode 0660 uid 0 gid 0, not 0600 0 0/);
  await expectError(c.call('CreateVolume', createReq('pvc-a', { ...capacity(4 * MiB), parameters: { uid: '1000' } })), ALREADY_EXISTS, /mode 0660 uid 0 gid 0, not 0660 1000 0/);
  await expectError(c.call('CreateVolume', createReq('pvc-a', { ...capacity(4 * MiB), parameters: { gid: '7' } })), ALREADY_EXISTS, /not 0660 0 7/);

  // Compatible: a smaller requirement, a range around the size, or no range at all.
  for (const range of [capacity(2 * MiB), capacity(MiB, 4 * MiB), capacity(4 * MiB, 64 * MiB), {}]) {
    assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-a', range))).volume, base);
  }
  // The defaults written out are the same request.
  assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-a', { ...capacity(4 * MiB), parameters: { mode: '0660', uid: '0', gid: '0', pool: 'p0' } }))).volume, base);

  const striped = (await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-s', { ...capacity(16 * MiB), parameters: { stripes: '2' } }))).volume;
  assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-s', { ...capacity(16 * MiB), parameters: { stripes: '2' } }))).volume, striped);
  await expectError(c.call('CreateVolume', createReq('pvc-s', { ...capacity(16 * MiB), parameters: { stripes: '4', buckets: '4' } })), ALREADY_EXISTS, /2 stripes of chunk 2097152, not 4 of 2097152/);
  await expectError(c.call('CreateVolume', createReq('pvc-s', { ...capacity(16 * MiB), parameters: { stripes: '2', chunkSize: '4Mi' } })), ALREADY_EXISTS, /not 2 of 4194304/);
  // Smaller than one chunk, a "striped" volume is contiguous; the same request again is the same volume.
  const small = (await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-small', { ...capacity(2 * MiB), parameters: { stripes: '2', chunkSize: '4Mi' } }))).volume;
  assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', createReq('pvc-small', { ...capacity(2 * MiB), parameters: { stripes: '2', chunkSize: '4Mi' } }))).volume, small);
  const s = poolStats(env.poolPath);
  assert.equal(s.files, 3);
  assert.equal(s.logEntriesUsed, 7, 'no rejected repeat logged anything');
  assertFsckClean(env.poolPath);
});

// The StorageClass parameters differ (striped vs contiguous): not the same volume, so CSI wants
// ALREADY_EXISTS, as service.ts's checkCompatible intends ("striped allocation, but no stripes
// were requested").
test('CreateVolume: same name, existing volume striped, request without stripes is ALREADY_EXISTS', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await c.call('CreateVolume', createReq('pvc-striped', { ...capacity(16 * MiB), parameters: { stripes: '2' } }));
  const used = poolStats(env.poolPath).logEntriesUsed;
  await expectError(c.call('CreateVolume', createReq('pvc-striped', capacity(16 * MiB))), ALREADY_EXISTS, /striped allocation, but no stripes were requested/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, used);
  env.assertClean();
});

test('CreateVolume: same name, existing volume contiguous, request with stripes is ALREADY_EXISTS', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await c.call('CreateVolume', createReq('pvc-contiguous', capacity(16 * MiB)));
  const used = poolStats(env.poolPath).logEntriesUsed;
  await expectError(c.call('CreateVolume', createReq('pvc-contiguous', { ...capacity(16 * MiB), parameters: { stripes: '2' } })), ALREADY_EXISTS, /volume p0:[0-9a-f]{32} exists with/);
  assert.equal(poolStats(env.poolPath).logEntriesUsed, used);
  env.assertClean();
});

test('CreateVolume: 50 concurrent calls for 10 names make exactly 10 volumes', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const names = Array.from({ length: 10 }, (_, i) => `pvc-conc-${i}`);
  const calls = Array.from({ length: 50 }, (_, i) => names[i % 10]!);
  const results = await Promise.allSettled(calls.map((name, i) => c.call<{ volume: Vol }>('CreateVolume', createReq(name, capacity((1 + (i % 10)) * MiB)))));
  const failures = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Error);
  assert.deepEqual(failures.map((e) => e.message), [], 'all 50 calls succeed');
  const byName = new Map<string, Vol[]>();
  results.forEach((r, i) => {
    const v = (r as PromiseFulfilledResult<{ volume: Vol }>).value.volume;
    byName.set(calls[i]!, [...(byName.get(calls[i]!) ?? []), v]);
  });
  const ids = new Set<string>();
  for (const [name, vols] of byName) {
    assert.equal(vols.length, 5);
    for (const v of vols) assert.deepEqual(v, vols[0], `every answer for ${name} is the same volume`);
    assert.equal(vols[0]!.volume_id, expectedId(name));
    ids.add(vols[0]!.volume_id);
  }
  assert.equal(ids.size, 10, 'no two names share a volume');
  const s = poolStats(env.poolPath);
  assert.equal(s.files, 10);
  assert.equal(s.logEntriesUsed, 1 + 10 * 2);
  const list = await c.call<{ entries: { volume: Vol }[] }>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id).sort(), [...ids].sort());
  const fsck = assertFsckClean(env.poolPath);
  assert.equal(fsck.summary?.files, 10);
});

test('CreateVolume: concurrent calls racing for the last free space never overcommit the pool', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  // 246 MiB of data space: 15 volumes of 16 MiB fit, 20 are asked for at once.
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => c.call<{ volume: Vol }>('CreateVolume', createReq(`race-${i}`, capacity(16 * MiB)))));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const failed = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as grpc.ServiceError);
  assert.equal(ok.length, 15);
  for (const e of failed) {
    assert.equal(e.code, RESOURCE_EXHAUSTED, `${grpc.status[e.code]}: ${e.details}`);
    assert.match(e.details, /free/);
  }
  const s = poolStats(env.poolPath);
  assert.equal(s.files, 15);
  assert.equal(s.freeBytes, 6 * MiB);
  const fsck = assertFsckClean(env.poolPath);
  assert.equal(fsck.summary?.files, 15);
  const list = await c.call<{ entries: unknown[] }>('ListVolumes', {});
  assert.equal(list.entries.length, 15, 'failed creates leave no volume behind');
});

test('CreateVolume: a call for a name whose create is still running waits, then ABORTED after the lock timeout', async (t) => {
  const env = await startPlugin(t, {
    lockTimeoutMs: 5,
    pool: { emulated: { size: '512Mi' } },
    // Junk in the data region: the create zero-fills 400 MiB, which takes a while.
    prepare: (dir) => makePool(join(dir, 'p0.dax'), 512 * MiB, { junkData: true }),
  });
  const c = env.client;
  const req = createReq('slow', capacity(400 * MiB));
  const first = c.call<{ volume: Vol }>('CreateVolume', req);
  await sleep(2);
  await expectError(c.call('CreateVolume', req), ABORTED, /another operation on volume:[0-9a-f]{32} is still in progress after 5 ms; retry later/);
  const v = (await first).volume;
  assert.equal(v.capacity_bytes, String(400 * MiB));
  assert.deepEqual((await c.call<{ volume: Vol }>('CreateVolume', req)).volume, v, 'the retry after the first finished gets the volume');
  assert.equal(firstNonZero(env.poolPath, v.volume_context.path!), -1);
  assert.equal(poolStats(env.poolPath).files, 1);
  env.assertClean();
});
