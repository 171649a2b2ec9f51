/**
 * GetCapacity (free space, largest free run, reclaim modes, topology, capabilities, parameters)
 * and the log-full rule shared by CreateVolume and GetCapacity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BLOCK_CAP, LOG_ENTRIES_8MI, MiB, POOL_DATA, assertFsckClean, capacity, createReq, expectError, fillLog, grpc, makePool, mountCap, poolStats, startPlugin, topology } from './harness.js';
import type { PluginEnv } from './harness.js';

const { INVALID_ARGUMENT, RESOURCE_EXHAUSTED } = grpc.status;

interface CapacityResponse {
  available_capacity: string;
  maximum_volume_size: { value: string } | null;
  minimum_volume_size: { value: string } | null;
}

async function getCapacity(env: PluginEnv, req: object = {}): Promise<{ available: number; maximum: number; minimum: number }> {
  const r = await env.client.call<CapacityResponse>('GetCapacity', req);
  return { available: Number(r.available_capacity), maximum: Number(r.maximum_volume_size?.value ?? -1), minimum: Number(r.minimum_volume_size?.value ?? -1) };
}

async function create(env: PluginEnv, name: string, size: number): Promise<string> {
  return (await env.client.call<{ volume: { volume_id: string } }>('CreateVolume', createReq(name, capacity(size)))).volume.volume_id;
}

test('GetCapacity: free space before and after create and delete (reclaim safe)', async (t) => {
  const env = await startPlugin(t);
  assert.deepEqual(await getCapacity(env), { available: POOL_DATA, maximum: POOL_DATA, minimum: 2 * MiB });
  const id = await create(env, 'a', 16 * MiB);
  assert.deepEqual(await getCapacity(env), { available: POOL_DATA - 16 * MiB, maximum: POOL_DATA - 16 * MiB, minimum: 2 * MiB });
  await env.client.call('DeleteVolume', { volume_id: id });
  assert.deepEqual(await getCapacity(env), { available: POOL_DATA, maximum: POOL_DATA, minimum: 2 * MiB }, 'the space comes back');
  assertFsckClean(env.poolPath);
});

test('GetCapacity: with reclaim never the space of a deleted volume does not come back', async (t) => {
  const env = await startPlugin(t, { pool: { reclaim: 'never' } });
  const id = await create(env, 'a', 16 * MiB);
  await create(env, 'b', 16 * MiB);
  assert.equal((await getCapacity(env)).available, POOL_DATA - 32 * MiB);
  await env.client.call('DeleteVolume', { volume_id: id });
  assert.deepEqual(await getCapacity(env), { available: POOL_DATA - 32 * MiB, maximum: POOL_DATA - 32 * MiB, minimum: 2 * MiB });
  // A new volume does not go where the deleted one was.
  await create(env, 'c', 16 * MiB);
  assert.equal((await getCapacity(env)).available, POOL_DATA - 48 * MiB);
  assertFsckClean(env.poolPath, 'never');
});

test('GetCapacity: maximum_volume_size is the largest free run; CreateVolume beyond it is RESOURCE_EXHAUSTED', async (t) => {
  const env = await startPlugin(t);
  await create(env, 'a', 100 * MiB);
  const b = await create(env, 'b', 40 * MiB);
  await create(env, 'c', 100 * MiB);
  await env.client.call('DeleteVolume', { volume_id: b });
  // Free: the 40 MiB hole where b was and 6 MiB at the end.
  assert.deepEqual(await getCapacity(env), { available: 46 * MiB, maximum: 40 * MiB, minimum: 2 * MiB });
  const err = await expectError(env.client.call('CreateVolume', createReq('d', capacity(44 * MiB))), RESOURCE_EXHAUSTED, /46137344 bytes requested, 48234496 bytes free/);
  assert.match(err.details, /largest free run 41943040 bytes/);
  await create(env, 'fits', 40 * MiB);
  assert.deepEqual(await getCapacity(env), { available: 6 * MiB, maximum: 6 * MiB, minimum: 2 * MiB });
  assertFsckClean(env.poolPath);
});

test('GetCapacity: topology, parameters and capabilities', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  assert.equal((await getCapacity(env, { accessible_topology: topology('p0') })).available, POOL_DATA);
  assert.deepEqual(await getCapacity(env, { accessible_topology: topology('p1') }), { available: 0, maximum: 0, minimum: 2 * MiB }, 'another pool: nothing');
  assert.equal((await getCapacity(env, { accessible_topology: { segments: { 'famfs.csi.io/pool-p0': 'false' } } })).available, 0);
  assert.equal((await getCapacity(env, { parameters: { pool: 'p0', mode: '0600', 'csi.storage.k8s.io/fstype': 'famfs' } })).available, POOL_DATA);
  assert.equal((await getCapacity(env, { parameters: { pool: 'other' } })).available, 0);
  await expectError(c.call('GetCapacity', { parameters: { speed: 'fast' } }), INVALID_ARGUMENT, /parameters: unknown key "speed"/);
  await expectError(c.call('GetCapacity', { parameters: { stripes: 'many' } }), INVALID_ARGUMENT, /parameters\.stripes: "many"/);
  assert.equal((await getCapacity(env, { volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] })).available, POOL_DATA);
  assert.equal((await getCapacity(env, { volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'famfs')] })).available, POOL_DATA);
  assert.deepEqual((await getCapacity(env, { volume_capabilities: [BLOCK_CAP] })).available, 0, 'block: no capacity');
  assert.equal((await getCapacity(env, { volume_capabilities: [mountCap(), BLOCK_CAP] })).maximum, 0);
  assert.equal((await getCapacity(env, { volume_capabilities: [mountCap('SINGLE_NODE_WRITER', 'ext4')] })).available, 0, 'ext4: no capacity');
});

test('GetCapacity: sums several pools; topology picks one', async (t) => {
  const env = await startPlugin(t, {
    pools: [
      { name: 'p0', device: 'p0.dax', emulated: { size: '64Mi' }, logLength: '8Mi' },
      { name: 'p1', device: 'p1.dax', emulated: { size: '128Mi' }, logLength: '8Mi' },
    ],
  });
  assert.deepEqual(await getCapacity(env), { available: 54 * MiB + 118 * MiB, maximum: 118 * MiB, minimum: 2 * MiB });
  assert.equal((await getCapacity(env, { accessible_topology: topology('p0') })).available, 54 * MiB);
  assert.equal((await getCapacity(env, { parameters: { pool: 'p1' } })).available, 118 * MiB);
  assert.equal((await getCapacity(env, { parameters: { pool: 'p1' }, accessible_topology: topology('p0') })).available, 0);
  env.assertClean();
});

test('Log full: CreateVolume is RESOURCE_EXHAUSTED "log full", GetCapacity 0, deletes still work while entries last', async (t) => {
  const env = await startPlugin(t, {
    async prepare(dir) {
      const path = join(dir, 'p0.dax');
      await makePool(path, 256 * MiB);
      await fillLog(path, 4); // room for one volume (3 entries) and one delete
    },
  });
  const c = env.client;
  assert.equal(poolStats(env.poolPath).logEntriesTotal, LOG_ENTRIES_8MI);
  assert.equal((await getCapacity(env)).available, POOL_DATA, 'a volume still fits');
  const a = await create(env, 'last', 4 * MiB);
  assert.equal(poolStats(env.poolPath).logEntriesFree, 1);
  assert.deepEqual(await getCapacity(env), { available: 0, maximum: 0, minimum: 2 * MiB }, 'log full: no volume fits, whatever the free bytes');
  for (let i = 0; i < 3; i++) {
    await expectError(c.call('CreateVolume', createReq('one-too-many', capacity(2 * MiB))), RESOURCE_EXHAUSTED, /pool p0: log full \(1 of 15420 entries left, a volume needs 2\)/);
  }
  assert.equal(poolStats(env.poolPath).logEntriesFree, 1, 'failed creates logged nothing');
  assert.equal((await c.call<{ volume: { volume_id: string } }>('CreateVolume', createReq('last', capacity(4 * MiB)))).volume.volume_id, a, 'an existing volume is still returned');
  await c.call('DeleteVolume', { volume_id: a });
  assert.equal(poolStats(env.poolPath).logEntriesFree, 0);
  await expectError(c.call('CreateVolume', createReq('one-too-many', capacity(2 * MiB))), RESOURCE_EXHAUSTED, /log full/);
  await c.call('DeleteVolume', { volume_id: a });
  assert.equal((await getCapacity(env)).available, 0);
  assert.deepEqual((await c.call<{ entries: unknown[] }>('ListVolumes', {})).entries, []);
  assertFsckClean(env.poolPath);
});

test('Log full: one entry left on a pool without volumes', async (t) => {
  const env = await startPlugin(t, {
    async prepare(dir) {
      const path = join(dir, 'p0.dax');
      await makePool(path, 256 * MiB);
      await fillLog(path, 1);
    },
  });
  await expectError(env.client.call('CreateVolume', createReq('first', capacity(2 * MiB))), RESOURCE_EXHAUSTED, /log full \(1 of 15420 entries left, a volume needs 3\)/);
  assert.deepEqual(await getCapacity(env), { available: 0, maximum: 0, minimum: 2 * MiB });
  assert.equal(poolStats(env.poolPath).logEntriesFree, 1);
  assertFsckClean(env.poolPath);
});
