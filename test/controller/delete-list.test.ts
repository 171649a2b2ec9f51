/**
 * DeleteVolume (idempotent, ids that are not ours are fine) and ListVolumes (pagination whose
 * tokens survive deletes, invalid tokens, concurrent deletes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MiB, assertFsckClean, capacity, createReq, expectError, expectedId, grpc, poolStats, startPlugin } from './harness.js';
import type { PluginEnv } from './harness.js';

const { INVALID_ARGUMENT, ABORTED, NOT_FOUND } = grpc.status;

interface Entry {
  volume: { volume_id: string; capacity_bytes: string; volume_context: Record<string, string>; accessible_topology: unknown[] };
  status: { published_node_ids: string[] } | null;
}
interface ListResponse {
  entries: Entry[];
  next_token: string;
}

async function createMany(env: PluginEnv, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await env.client.call<{ volume: { volume_id: string } }>('CreateVolume', createReq(`${prefix}-${i}`, capacity(2 * MiB)))).volume.volume_id);
  return ids.sort();
}

async function listAll(env: PluginEnv, max: number, between?: (page: number, token: string) => Promise<void>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const r = await env.client.call<ListResponse>('ListVolumes', { max_entries: max, starting_token: token });
    assert.ok(max === 0 || r.entries.length <= max, `page of ${r.entries.length} entries exceeds max_entries ${max}`);
    ids.push(...r.entries.map((e) => e.volume.volume_id));
    token = r.next_token;
    pages++;
    if (token && between) await between(pages, token);
    assert.ok(pages < 1000, 'pagination does not end');
  } while (token);
  return { ids, pages };
}

test('DeleteVolume: volume_id is required; ids that do not exist are deleted already', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await expectError(c.call('DeleteVolume', { volume_id: '' }), INVALID_ARGUMENT, /volume_id: missing/);
  await expectError(c.call('DeleteVolume', {}), INVALID_ARGUMENT, /volume_id: missing/);
  for (const volume_id of ['garbage', 'p0:zz', 'nopool:0123456789abcdef0123456789abcdef', `p0:${'0'.repeat(32)}`, 'p0:', ':', 'P0:0123456789abcdef0123456789abcdef', `p0:${'a'.repeat(33)}`, expectedId('never-created')]) {
    assert.deepEqual(await c.call('DeleteVolume', { volume_id }), {}, volume_id);
  }
  assert.equal(poolStats(env.poolPath).logEntriesUsed, 0, 'deleting nothing logs nothing');
  env.assertClean();
});

test('DeleteVolume: removes the volume; repeats (10 sequential, 10 concurrent) are OK and log nothing more', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const [keep] = await createMany(env, 'keep', 1);
  const v = (await c.call<{ volume: { volume_id: string; volume_context: Record<string, string> } }>('CreateVolume', createReq('doomed', { ...capacity(8 * MiB), secrets: { token: 'x' } }))).volume;
  assert.equal((await c.call<ListResponse>('ListVolumes', {})).entries.length, 2);
  assert.deepEqual(await c.call('DeleteVolume', { volume_id: v.volume_id, secrets: { token: 'x' } }), {});
  const list = await c.call<ListResponse>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id), [keep]);
  await expectError(c.call('ControllerGetVolume', { volume_id: v.volume_id }), NOT_FOUND, /does not exist in pool p0/);
  const used = poolStats(env.poolPath).logEntriesUsed;
  for (let i = 0; i < 10; i++) assert.deepEqual(await c.call('DeleteVolume', { volume_id: v.volume_id }), {});
  await Promise.all(Array.from({ length: 10 }, () => c.call('DeleteVolume', { volume_id: v.volume_id })));
  const s = poolStats(env.poolPath);
  assert.equal(s.logEntriesUsed, used);
  assert.equal(s.tombstones, 1, 'one delete entry in the log');
  assert.equal(s.files, 1);
  assertFsckClean(env.poolPath);

  // The name can be used again: same id (it is derived from the name), new size.
  const again = (await c.call<{ volume: { volume_id: string; capacity_bytes: string } }>('CreateVolume', createReq('doomed', capacity(4 * MiB)))).volume;
  assert.equal(again.volume_id, v.volume_id);
  assert.equal(again.capacity_bytes, String(4 * MiB));
  assertFsckClean(env.poolPath);
});

test('DeleteVolume: concurrent deletes of many volumes and creates of others', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const ids = await createMany(env, 'churn', 20);
  const results = await Promise.allSettled([
    ...ids.map((volume_id) => c.call('DeleteVolume', { volume_id })),
    ...ids.map((volume_id) => c.call('DeleteVolume', { volume_id })),
    ...Array.from({ length: 10 }, (_, i) => c.call('CreateVolume', createReq(`fresh-${i}`, capacity(2 * MiB)))),
  ]);
  assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
  const list = await c.call<ListResponse>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id).sort(), Array.from({ length: 10 }, (_, i) => expectedId(`fresh-${i}`)).sort());
  const s = poolStats(env.poolPath);
  assert.equal(s.tombstones, 20);
  assert.equal(s.files, 10);
  assertFsckClean(env.poolPath);
});

test('ListVolumes: entries, max_entries and next_token', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  assert.deepEqual(await c.call<ListResponse>('ListVolumes', {}), { entries: [], next_token: '' });
  const ids = await createMany(env, 'page', 7);
  const all = await c.call<ListResponse>('ListVolumes', { max_entries: 0 });
  assert.deepEqual(all.entries.map((e) => e.volume.volume_id), ids, 'max_entries 0: everything, in volume id order');
  assert.equal(all.next_token, '');
  const e = all.entries[0]!;
  assert.equal(e.volume.capacity_bytes, String(2 * MiB));
  assert.deepEqual(Object.keys(e.volume.volume_context).sort(), ['path', 'pool', 'poolUuid']);
  assert.deepEqual(e.volume.accessible_topology, [{ segments: { 'famfs.csi.io/pool-p0': 'true' } }]);
  assert.deepEqual(e.status, { published_node_ids: [], volume_condition: { abnormal: false, message: 'volume is healthy: no memory errors under it' } });

  const p1 = await c.call<ListResponse>('ListVolumes', { max_entries: 3 });
  assert.deepEqual(p1.entries.map((x) => x.volume.volume_id), ids.slice(0, 3));
  assert.notEqual(p1.next_token, '');
  const p2 = await c.call<ListResponse>('ListVolumes', { max_entries: 3, starting_token: p1.next_token });
  assert.deepEqual(p2.entries.map((x) => x.volume.volume_id), ids.slice(3, 6));
  const p3 = await c.call<ListResponse>('ListVolumes', { max_entries: 3, starting_token: p2.next_token });
  assert.deepEqual(p3.entries.map((x) => x.volume.volume_id), ids.slice(6));
  assert.equal(p3.next_token, '');
  assert.deepEqual((await listAll(env, 7)).pages, 1, 'exactly max_entries left: no further page');
  assert.deepEqual(await listAll(env, 1), { ids, pages: 7 });
  assert.deepEqual((await listAll(env, 100)).ids, ids);
  env.assertClean();
});

test('ListVolumes: invalid token is ABORTED, negative max_entries INVALID_ARGUMENT', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await createMany(env, 'v', 2);
  for (const token of ['garbage', 'p0:zz', '123', 'p0']) {
    await expectError(c.call('ListVolumes', { max_entries: 1, starting_token: token }), ABORTED, /starting_token: .* is not a token this plugin issued/);
  }
  await expectError(c.call('ListVolumes', { max_entries: -1 }), INVALID_ARGUMENT, /max_entries: -1 must not be negative/);
  await expectError(c.call('ListVolumes', { max_entries: -2147483648 }), INVALID_ARGUMENT, /max_entries/);
  env.assertClean();
});

test('ListVolumes: a token stays valid after the volume it names and others are deleted', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const ids = await createMany(env, 'tok', 9);
  const p1 = await c.call<ListResponse>('ListVolumes', { max_entries: 3 });
  const seen = p1.entries.map((e) => e.volume.volume_id);
  assert.deepEqual(seen, ids.slice(0, 3));
  // Delete the token's own volume, one already returned, and two not yet returned.
  const deleted = [ids[2]!, ids[0]!, ids[4]!, ids[7]!];
  for (const volume_id of deleted) await c.call('DeleteVolume', { volume_id });
  let token = p1.next_token;
  while (token) {
    const r = await c.call<ListResponse>('ListVolumes', { max_entries: 3, starting_token: token });
    seen.push(...r.entries.map((e) => e.volume.volume_id));
    token = r.next_token;
  }
  assert.equal(new Set(seen).size, seen.length, 'no duplicates');
  const remaining = ids.filter((id) => !deleted.includes(id));
  for (const id of remaining) assert.ok(seen.includes(id), `remaining volume ${id} was skipped`);
  assert.deepEqual(seen.slice(3), remaining.filter((id) => id > ids[2]!), 'the rest, in order, without the deleted ones');
  assertFsckClean(env.poolPath);
});

test('ListVolumes: pagination while volumes are deleted concurrently', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const ids = await createMany(env, 'live', 30);
  const doomed = ids.filter((_, i) => i % 3 === 1);
  const survivors = ids.filter((id) => !doomed.includes(id));
  const deleting = Promise.all(doomed.map((volume_id) => c.call('DeleteVolume', { volume_id })));
  const { ids: seen } = await listAll(env, 2);
  await deleting;
  assert.equal(new Set(seen).size, seen.length, 'no duplicates');
  assert.deepEqual([...seen].sort(), seen, 'ascending across pages');
  for (const id of survivors) assert.ok(seen.includes(id), `surviving volume ${id} was skipped`);
  for (const id of seen) assert.ok(ids.includes(id), `unknown volume ${id}`);
  const after = await listAll(env, 4);
  assert.deepEqual(after.ids, survivors);
  assertFsckClean(env.poolPath);
});

test('ListVolumes: several pools, one id order and one token space', async (t) => {
  const env = await startPlugin(t, {
    pools: [
      { name: 'p1', device: 'p1.dax', emulated: { size: '64Mi' }, logLength: '8Mi' },
      { name: 'p0', device: 'p0.dax', emulated: { size: '64Mi' }, logLength: '8Mi' },
    ],
  });
  const c = env.client;
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (const pool of ['p0', 'p1']) {
      ids.push((await c.call<{ volume: { volume_id: string } }>('CreateVolume', createReq(`${pool}-${i}`, { ...capacity(2 * MiB), parameters: { pool } }))).volume.volume_id);
    }
  }
  ids.sort();
  assert.deepEqual((await listAll(env, 3)).ids, ids);
  assert.deepEqual((await listAll(env, 0)).ids, ids);
  env.assertClean();
});
