/**
 * Log append: a crash after every step, concurrent appenders, a full log, and the master rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { testPool as pool, rawLog, logHeaderOf } from '../helpers/tmpPool.js';
import {
  FM_ALL_HOSTS_RW,
  LOG_ENTRY_SIZE,
  LOG_HEADER_SIZE,
  LOG_OFFSET,
  MiB,
  Pool,
  SUPERBLOCK_STRUCT_SIZE,
  checkSuperblock,
  decodeEntry,
  decodeLogHeader,
  entryIntegrityProblem,
  fmapDeviceRanges,
  fsck,
  logCapacity,
  newUuid,
} from '../../src/famfs/index.js';
import type { DaxDevice, FamfsNode, NewLogEntry } from '../../src/famfs/index.js';

const AU = 2 * MiB;
const LOG_LEN = 8 * MiB;
const SMALL = 64 * MiB;

type T = { after(fn: () => void): void };

function openPool(t: T, path: string, opts: Parameters<typeof Pool.open>[1] = {}): Pool {
  const p = Pool.open(path, opts);
  t.after(() => p.close());
  return p;
}

function describeNode(n: FamfsNode) {
  return n.kind === 'file'
    ? { kind: n.kind, relpath: n.relpath, index: n.index, size: n.size, mode: n.mode, uid: n.uid, gid: n.gid, flags: n.flags, fmap: n.fmap }
    : { kind: n.kind, relpath: n.relpath, index: n.index, mode: n.mode, uid: n.uid, gid: n.gid };
}

/** Everything a fresh open of the pool derives from the log (uuids excluded). */
function poolState(path: string) {
  const p = Pool.open(path);
  try {
    const s = p.stats();
    return {
      nodes: [...p.namespace.walk()].map(describeNode).sort((a, b) => a.relpath.localeCompare(b.relpath)),
      files: s.files,
      directories: s.directories,
      tombstones: s.tombstones,
      usedBytes: s.usedBytes,
      freeBytes: s.freeBytes,
      largestFreeRun: s.largestFreeRun,
      logEntriesUsed: s.logEntriesUsed,
      owners: Array.from(p.replay.space.owners),
      problems: p.replay.problems.map((x) => ({ ...x })),
    };
  } finally {
    p.close();
  }
}

/** Asserts every entry below next_index has seqnum == index and a good CRC, and the header agrees. */
function assertLogIntact(dev: DaxDevice): number {
  const region = dev.map(LOG_OFFSET, LOG_LEN);
  const h = decodeLogHeader(region);
  assert.equal(h.nextSeqnum, h.nextIndex, 'next_seqnum == next_index');
  for (let i = 0; i < h.nextIndex; i++) {
    const off = LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE;
    assert.equal(entryIntegrityProblem(region, off, i), null);
    assert.equal(decodeEntry(region, off, 48).seqnum, i);
  }
  return h.nextIndex;
}

function assertFsckClean(dev: DaxDevice): void {
  const report = fsck(dev);
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.deepEqual(report.warnings, []);
  assert.equal(report.summary?.collisions, 0);
}

/** Existing content every crash case starts from (deterministic: same offsets on every fresh pool). */
async function seed(path: string): Promise<void> {
  const p = Pool.open(path);
  try {
    await p.mkdir('d');
    await p.createFile('d/a', 3 * MiB);
    await p.createFile('b', MiB);
    await p.mkdir('d/e');
  } finally {
    p.close();
  }
}

async function newEntry(kind: 'file' | 'delete', path: string): Promise<NewLogEntry> {
  if (kind === 'delete') return { type: 'delete', relpath: 'b', uid: 0, gid: 0, mode: 0o644 };
  const p = Pool.open(path);
  try {
    const fmap = p.replay.space.allocContiguous(5 * MiB);
    return { type: 'file', relpath: 'd/e/c', size: 5 * MiB, flags: FM_ALL_HOSTS_RW, uid: 1000, gid: 1000, mode: 0o600, fmap };
  } finally {
    p.close();
  }
}

for (const kind of ['file', 'delete'] as const) {
  test(`append of a ${kind.toUpperCase()} entry cut after every step leaves the old or the new state`, async (t) => {
    // The step list and the states before and after a complete append.
    let stepNames: string[] = [];
    let before!: ReturnType<typeof poolState>;
    let after!: ReturnType<typeof poolState>;
    {
      const tp = await pool(t);
      await seed(tp.path);
      before = poolState(tp.path);
      const { index, steps } = rawLog(tp.dev).appendSteps(await newEntry(kind, tp.path));
      assert.equal(index, 4);
      stepNames = steps.map((s) => s.name);
      for (const s of steps) s.run();
      after = poolState(tp.path);
    }
    const commit = stepNames.indexOf('write next_index');
    const seqStep = stepNames.indexOf('write next_seqnum');
    assert.ok(commit > 0, `a 'write next_index' step among ${stepNames.join(', ')}`);
    assert.ok(seqStep >= 0 && seqStep < commit);
    assert.ok(stepNames.indexOf('flush entry') < commit, 'the entry is flushed before the commit');

    // The after state is the before state plus exactly the new entry.
    assert.equal(before.logEntriesUsed, 4);
    assert.equal(after.logEntriesUsed, 5);
    assert.deepEqual(before.problems, []);
    assert.deepEqual(after.problems, []);
    if (kind === 'file') {
      assert.equal(after.files, before.files + 1);
      const c = after.nodes.find((n) => n.relpath === 'd/e/c');
      assert.ok(c && c.kind === 'file');
      assert.equal(c.index, 4);
      assert.equal(c.size, 5 * MiB);
      assert.equal(c.mode, 0o600);
      assert.equal(after.usedBytes, before.usedBytes + 3 * AU);
    } else {
      assert.equal(after.files, before.files - 1);
      assert.equal(after.tombstones, 1);
      assert.equal(after.nodes.find((n) => n.relpath === 'b'), undefined);
      assert.equal(after.usedBytes, before.usedBytes - AU);
    }
    assert.deepEqual(
      after.nodes.filter((n) => n.relpath !== 'd/e/c' && n.relpath !== 'b'),
      before.nodes.filter((n) => n.relpath !== 'd/e/c' && n.relpath !== 'b'),
    );

    for (let k = 0; k <= stepNames.length; k++) {
      const tp = await pool(t);
      await seed(tp.path);
      const { steps } = rawLog(tp.dev).appendSteps(await newEntry(kind, tp.path));
      for (const s of steps.slice(0, k)) s.run();

      const committed = k > commit;
      const label = `${kind}, cut after ${k} step(s) (${k ? stepNames[k - 1] : 'none'})`;
      assert.deepEqual(poolState(tp.path), committed ? after : before, label);

      const report = fsck(tp.dev);
      assert.equal(report.ok, true, `${label}: ${report.errors.join('; ')}`);
      const seqnumAhead = k > seqStep && k <= commit;
      if (seqnumAhead) {
        assert.equal(report.warnings.length, 1, label);
        assert.match(report.warnings[0]!, /next_seqnum 5 differs from next_index 4/);
      } else assert.deepEqual(report.warnings, [], label);

      // A normal append afterwards works, repairs next_seqnum, and leaves a clean pool.
      const p = Pool.open(tp.path);
      try {
        const node = await p.mkdir('later');
        assert.equal(node.index, committed ? 5 : 4, label);
      } finally {
        p.close();
      }
      assert.equal(assertLogIntact(tp.dev), committed ? 6 : 5, label);
      assertFsckClean(tp.dev);
      const final = poolState(tp.path);
      assert.deepEqual(
        final.nodes.filter((n) => n.relpath !== 'later'),
        (committed ? after : before).nodes,
        label,
      );
      tp.cleanup();
    }
  });
}

test('concurrent appends on one Pool are serialized', async (t) => {
  const tp = await pool(t, 256 * MiB);
  const p = openPool(t, tp.path);
  const ops: Promise<FamfsNode>[] = [];
  for (let i = 0; i < 25; i++) {
    ops.push(p.createFile(`f${i}`, ((i % 3) + 1) * MiB));
    ops.push(p.mkdir(`dir${i}/sub`, { parents: true }));
  }
  const nodes = await Promise.all(ops);
  assert.equal(nodes.length, 50);
  assert.equal(p.stats().files, 25);
  assert.equal(p.stats().directories, 50);
  assert.equal(assertLogIntact(tp.dev), 75);
  assertFsckClean(tp.dev);
  assertDisjoint(p);
  assert.deepEqual(poolState(tp.path).nodes, [...p.namespace.walk()].map(describeNode).sort((a, b) => a.relpath.localeCompare(b.relpath)));
});

test('concurrent appends through two Pools on the same device never interleave', async (t) => {
  const tp = await pool(t, 256 * MiB);
  const p1 = openPool(t, tp.path);
  const p2 = openPool(t, tp.path);
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 25; i++) {
    const p = i % 2 === 0 ? p1 : p2;
    const q = i % 2 === 0 ? p2 : p1;
    ops.push(p.createFile(`p${i}`, MiB + i * 4096));
    ops.push(q.mkdir(`shared/d${i}`, { parents: true }));
  }
  // Both pools race for the same name: exactly one wins, the other sees it under the lock.
  const [race] = await Promise.all([Promise.allSettled([p1.createFile('same', MiB), p2.createFile('same', MiB)]), Promise.all(ops)]);
  assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
  const loser = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.equal(loser.reason.code, 'EXISTS');

  p1.refresh();
  p2.refresh();
  for (const p of [p1, p2]) {
    assert.equal(p.stats().files, 26);
    assert.equal(p.stats().directories, 26);
    assertDisjoint(p);
  }
  assert.equal(assertLogIntact(tp.dev), 52);
  assertFsckClean(tp.dev);
});

function assertDisjoint(p: Pool): void {
  const ranges = [...p.namespace.walk()].flatMap((n) => (n.kind === 'file' ? fmapDeviceRanges(n.fmap) : [])).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i - 1]!.offset + ranges[i - 1]!.length <= ranges[i]!.offset, 'file extents overlap');
  assert.equal(p.replay.collisions, 0);
}

test('log full: a full 8 MiB log (15,420 entries) refuses the next append and is unchanged', async (t) => {
  const tp = await pool(t);
  const capacity = logCapacity(LOG_LEN);
  assert.equal(capacity, 15420);
  const log = rawLog(tp.dev);
  for (let i = 0; i < capacity - 2; i++) log.append({ type: 'mkdir', relpath: `d${i}`, uid: 0, gid: 0, mode: 0o755 });

  const p = openPool(t, tp.path);
  assert.equal(p.stats().logEntriesFree, 2);
  // mkdir -p needing two entries fits exactly; afterwards nothing fits.
  await assert.rejects(p.mkdir('x/y/z', { parents: true }), { name: 'FamfsError', code: 'LOG_FULL', message: /log full: 2 of 15420 entries left, 3 needed/ });
  await p.mkdir('x/y', { parents: true });
  assert.equal(logHeaderOf(tp.dev).nextIndex, capacity);
  assert.equal(p.stats().logEntriesFree, 0);
  assert.equal(p.stats().directories, capacity);

  const region = tp.dev.map(LOG_OFFSET, LOG_LEN);
  const snapshot = Buffer.from(region);
  await assert.rejects(p.mkdir('one-more'), { name: 'FamfsError', code: 'LOG_FULL', message: /log full/ });
  await assert.rejects(p.createFile('file', MiB), { name: 'FamfsError', code: 'LOG_FULL', message: /log full/ });
  await assert.rejects(p.remove('d0'), { name: 'FamfsError', code: 'LOG_FULL', message: /log full/ });
  assert.throws(() => rawLog(tp.dev).append({ type: 'mkdir', relpath: 'raw', uid: 0, gid: 0, mode: 0o755 }), {
    name: 'FamfsError',
    code: 'LOG_FULL',
    message: /log full: all 15420 entries are used/,
  });
  // An existing directory needs no entry: mkdir of it still succeeds on a full log.
  assert.equal((await p.mkdir('d0')).index, 0);
  assert.ok(region.equals(snapshot), 'the log is unchanged');
  assert.equal(p.stats().freeBytes, SMALL - LOG_OFFSET - LOG_LEN, 'the refused createFile allocated nothing');

  const report = fsck(tp.dev);
  assert.equal(report.ok, true);
  assert.equal(report.summary?.logEntriesUsed, capacity);
  assert.equal(report.summary?.logEntriesTotal, capacity);
  assert.equal(report.summary?.directories, capacity);
});

test('only the master appends; takeOver makes this host the master', async (t) => {
  const tp = await pool(t);
  const sbView = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  const original = checkSuperblock(sbView);
  assert.ok(original.ok);
  const hostFile = readFileSync(process.env.FAMFS_SYSTEM_UUID_FILE!, 'latin1').replace(/\0.*$/s, '');
  assert.equal(original.superblock.systemUuid, hostFile);

  const master = openPool(t, tp.path);
  assert.equal(master.isMaster(), true);
  await master.mkdir('m');

  const other = newUuid();
  const client = openPool(t, tp.path, { systemUuid: other });
  assert.equal(client.isMaster(), false);
  assert.equal(client.lookup('m')?.kind, 'dir', 'a client still replays the log');
  const logBefore = Buffer.from(tp.dev.map(LOG_OFFSET, LOG_LEN));
  await assert.rejects(client.createFile('f', MiB), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'FamfsError');
    assert.equal(e.code, 'NOT_MASTER');
    assert.ok(e.message.includes(other), e.message);
    assert.ok(e.message.includes(hostFile), e.message);
    return true;
  });
  await assert.rejects(client.mkdir('c'), { code: 'NOT_MASTER' });
  await assert.rejects(client.remove('m'), { code: 'NOT_MASTER' });
  assert.ok(tp.dev.map(LOG_OFFSET, LOG_LEN).equals(logBefore), 'a refused append leaves the log alone');

  const taker = openPool(t, tp.path, { systemUuid: other, takeOver: true });
  const f = await taker.createFile('f', MiB);
  assert.equal(f.kind, 'file');
  const now = checkSuperblock(sbView);
  assert.ok(now.ok, 'the superblock is still valid (CRC updated)');
  assert.equal(now.superblock.systemUuid, other);
  assert.equal(now.superblock.uuid, original.superblock.uuid);
  assert.equal(taker.superblock.systemUuid, other);
  assert.equal(taker.isMaster(), true);
  assert.equal(client.isMaster(), true, 'the pool without takeOver now is on the master host too');
  assert.equal(master.isMaster(), false);
  await assert.rejects(master.mkdir('old-master'), { code: 'NOT_MASTER' });
  await client.mkdir('c');
  assert.equal(master.stats().master, other);

  assertFsckClean(tp.dev);
  assert.equal(fsck(tp.dev).summary?.master, other);
  assert.equal(readFileSync(process.env.FAMFS_SYSTEM_UUID_FILE!, 'latin1').replace(/\0.*$/s, ''), hostFile, 'the host identity file is untouched');
});

test('a Pool given the master uuid in upper case is the master', async (t) => {
  const tp = await pool(t);
  const sb = checkSuperblock(tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE));
  assert.ok(sb.ok);
  const p = openPool(t, tp.path, { systemUuid: sb.superblock.systemUuid.toUpperCase() });
  assert.equal(p.isMaster(), true, 'UUIDs compare by value (famfs memcmps the 16 bytes)');
  await p.mkdir('d');
});
