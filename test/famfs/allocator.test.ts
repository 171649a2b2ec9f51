/**
 * The allocator: SpaceMap first fit, claims and releases, striped allocation rules, and pool-level
 * behaviour (filling a pool, reclaim, zero-fill, interleaved files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpPool, testPool as pool } from '../helpers/tmpPool.js';
import type { TmpPool } from '../helpers/tmpPool.js';
import { COLLIDED, FREE, FamfsError, GiB, LOG_OFFSET, METADATA, MiB, Pool, SpaceMap, fmapDeviceRanges, fsck } from '../../src/famfs/index.js';
import type { FamfsNode, Fmap, InterleaveParams, PoolOptions, Reclaim, SimpleExtent } from '../../src/famfs/index.js';

const AU = 2 * MiB;
const LOG_LEN = 8 * MiB;
const RESERVED = LOG_OFFSET + LOG_LEN;

type T = { after(fn: () => void): void };

function openPool(t: T, path: string, opts: PoolOptions = {}): Pool {
  const p = Pool.open(path, opts);
  t.after(() => p.close());
  return p;
}

function ext(fmap: Fmap): SimpleExtent {
  assert.equal(fmap.kind, 'simple');
  assert.equal(fmap.extents.length, 1);
  return fmap.extents[0] as SimpleExtent;
}

function strips(fmap: Fmap): { chunkSize: number; strips: SimpleExtent[] } {
  assert.equal(fmap.kind, 'interleaved');
  assert.equal(fmap.extents.length, 1);
  return fmap.extents[0] as { chunkSize: number; strips: SimpleExtent[] };
}

/** A small deterministic PRNG (mulberry32) as the allocator's random source. */
function seeded(seed: number): (maxExclusive: number) => number {
  let a = seed >>> 0;
  return (max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * max);
  };
}

/** random(n) = n - 1: the Fisher-Yates shuffle leaves the buckets in order 0, 1, 2, ... */
const inOrder = (max: number) => max - 1;

function offsetOf(n: FamfsNode | undefined): number {
  assert.ok(n && n.kind === 'file');
  return ext(n.fmap).offset;
}

function assertFsckClean(tp: TmpPool, reclaim?: Reclaim): void {
  const report = fsck(tp.dev, reclaim ? { reclaim } : {});
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.deepEqual(report.warnings, []);
  assert.equal(report.summary?.collisions, 0);
}

function assertNoOverlap(p: Pool): void {
  const ranges = [...p.namespace.walk()].flatMap((n) => (n.kind === 'file' ? fmapDeviceRanges(n.fmap) : [])).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i - 1]!.offset + ranges[i - 1]!.length <= ranges[i]!.offset, 'extents overlap');
  assert.equal(p.replay.collisions, 0);
}

// ------------------------------------------------------------------------------------------------
// SpaceMap

test('SpaceMap: reserved units, first fit, rounding to 2 MiB', () => {
  const m = new SpaceMap(64 * MiB, AU, RESERVED);
  assert.equal(m.unitCount, 32);
  assert.equal(m.usedBytes, 5 * AU);
  assert.equal(m.freeBytes, 27 * AU);
  assert.equal(m.largestFreeRun(), 27 * AU);
  assert.equal(m.ownerAt(0), METADATA);
  assert.equal(m.ownerAt(RESERVED - 1), METADATA);
  assert.equal(m.ownerAt(RESERVED), FREE);

  const a = m.allocContiguous(1);
  assert.deepEqual(a, { kind: 'simple', extents: [{ devIndex: 0, offset: RESERVED, length: AU }] });
  assert.deepEqual(m.allocContiguous(1), a, 'allocating does not claim');
  assert.deepEqual(m.claim(ext(a), 7), []);
  assert.equal(m.freeBytes, 26 * AU);
  assert.equal(m.ownerAt(RESERVED + AU - 1), 7);

  const b = m.allocContiguous(AU + 1);
  assert.deepEqual(ext(b), { devIndex: 0, offset: RESERVED + AU, length: 2 * AU });
  m.claim(ext(b), 8);
  const c = m.allocContiguous(3 * AU);
  assert.deepEqual(ext(c), { devIndex: 0, offset: RESERVED + 3 * AU, length: 3 * AU }, 'an exact multiple is not rounded further');
  m.claim(ext(c), 9);
  assert.equal(m.freeBytes, 21 * AU);
  assert.equal(m.largestFreeRun(), 21 * AU);

  // Freeing a makes a one-unit hole at the front: first fit uses it for one unit, not for two.
  m.release(ext(a), 7);
  assert.equal(m.ownerAt(RESERVED), FREE);
  assert.equal(m.freeBytes, 22 * AU);
  assert.equal(ext(m.allocContiguous(MiB)).offset, RESERVED);
  assert.equal(ext(m.allocContiguous(2 * AU)).offset, RESERVED + 6 * AU);
  assert.equal(m.largestFreeRun(), 21 * AU);
});

test('SpaceMap: first fit skips holes that are too small', () => {
  const m = new SpaceMap(64 * MiB, AU, RESERVED);
  // Units 5..31 free; occupy every other unit from 5 to 15 -> one-unit holes at 6, 8, 10, 12, 14.
  for (let u = 5; u <= 15; u += 2) m.claim({ devIndex: 0, offset: u * AU, length: AU }, u);
  assert.equal(ext(m.allocContiguous(AU)).offset, 6 * AU);
  assert.equal(ext(m.allocContiguous(2 * AU)).offset, 16 * AU);
  assert.equal(m.largestFreeRun(), 16 * AU);
  m.release({ devIndex: 0, offset: 7 * AU, length: AU }, 7);
  assert.equal(ext(m.allocContiguous(3 * AU)).offset, 6 * AU, 'units 6, 7, 8 are now a run of three');
});

test('SpaceMap: claim returns the owners it collides with and quarantines collided units; release frees only its own units', () => {
  const m = new SpaceMap(64 * MiB, AU, RESERVED);
  assert.deepEqual(m.claim({ devIndex: 0, offset: 10 * AU, length: 2 * AU }, 1), []);
  assert.deepEqual(m.claim({ devIndex: 0, offset: 12 * AU, length: AU }, 2), []);
  const free = m.freeBytes;
  assert.deepEqual(m.claim({ devIndex: 0, offset: 11 * AU, length: 3 * AU }, 3), [1, 2]);
  assert.equal(m.freeBytes, free - AU, 'only the one previously free unit is newly used');
  assert.equal(m.ownerAt(11 * AU), COLLIDED);
  assert.equal(m.ownerAt(12 * AU), COLLIDED);
  assert.equal(m.ownerAt(13 * AU), 3);
  assert.deepEqual(m.claim({ devIndex: 0, offset: LOG_OFFSET, length: AU }, 4), [METADATA]);
  assert.equal(m.ownerAt(LOG_OFFSET), METADATA, 'the log region is never taken over by a colliding entry');
  // As in famfs's bitmap, any unit already in use counts, even one the same entry claimed.
  assert.deepEqual(m.claim({ devIndex: 0, offset: 13 * AU, length: AU }, 3), [3]);

  // Entry 1 still owns unit 10 only; releasing its whole extent leaves the quarantined unit alone.
  m.release({ devIndex: 0, offset: 10 * AU, length: 2 * AU }, 1);
  assert.equal(m.ownerAt(10 * AU), FREE);
  assert.equal(m.ownerAt(11 * AU), COLLIDED);
  m.release({ devIndex: 0, offset: 11 * AU, length: 3 * AU }, 99);
  assert.equal(m.ownerAt(12 * AU), COLLIDED, 'release by a non-owner frees nothing');
  m.release({ devIndex: 0, offset: 11 * AU, length: 3 * AU }, 3);
  assert.equal(m.ownerAt(12 * AU), COLLIDED, 'collided units are never freed');
  assert.equal(m.ownerAt(13 * AU), COLLIDED, 'a unit claimed twice by one entry is quarantined too');
  // 27 allocatable units, three of them quarantined.
  assert.equal(m.freeBytes, 24 * AU);
});

test('SpaceMap: NO_SPACE names the request, the free bytes and the largest free run', () => {
  const m = new SpaceMap(64 * MiB, AU, RESERVED);
  m.claim({ devIndex: 0, offset: 20 * AU, length: AU }, 1); // free: 5..19 (15 units) and 21..31 (11 units)
  assert.equal(m.largestFreeRun(), 15 * AU);
  assert.throws(
    () => m.allocContiguous(16 * AU),
    (e: unknown) => {
      assert.ok(e instanceof FamfsError);
      assert.equal(e.code, 'NO_SPACE');
      assert.equal(e.message, `out of space: ${16 * AU} bytes requested, ${26 * AU} bytes free, largest free run ${15 * AU} bytes`);
      assert.deepEqual(e.details, { requested: 16 * AU, free: 26 * AU, largestFreeRun: 15 * AU });
      return true;
    },
  );
  assert.equal(ext(m.allocContiguous(15 * AU)).offset, 5 * AU);
});

// ------------------------------------------------------------------------------------------------
// Striped allocation

const BIG = 8 * GiB; // a virtual device: SpaceMap is pure bookkeeping

test('allocInterleaved: a file smaller than one chunk is allocated contiguously', () => {
  const m = new SpaceMap(BIG, AU, RESERVED);
  const f = m.allocInterleaved(7 * MiB, { nstrips: 4, nbuckets: 8, chunkSize: 8 * MiB }, { random: inOrder });
  assert.deepEqual(f, { kind: 'simple', extents: [{ devIndex: 0, offset: RESERVED, length: 8 * MiB }] });
});

test('allocInterleaved: nstrips strips in distinct buckets, each inside its bucket, of ceil(size_au/(nstrips*chunk_au))*chunk bytes', () => {
  const cases: { size: number; p: InterleaveParams }[] = [
    { size: 100 * MiB, p: { nstrips: 4, nbuckets: 8, chunkSize: 4 * MiB } },
    { size: 8 * MiB, p: { nstrips: 4, nbuckets: 4, chunkSize: 2 * MiB } },
    { size: 8 * MiB + 1, p: { nstrips: 4, nbuckets: 4, chunkSize: 2 * MiB } },
    { size: 1 * GiB, p: { nstrips: 8, nbuckets: 8, chunkSize: 16 * MiB } },
    { size: 33 * MiB, p: { nstrips: 3, chunkSize: 8 * MiB } },
    { size: 64 * MiB, p: { nstrips: 1, nbuckets: 5, chunkSize: 64 * MiB } },
  ];
  for (const [n, { size, p }] of cases.entries()) {
    const m = new SpaceMap(BIG, AU, RESERVED);
    const nbuckets = p.nbuckets ?? p.nstrips;
    const bucketBytes = Math.floor(m.unitCount / nbuckets) * AU;
    const ie = strips(m.allocInterleaved(size, p, { random: seeded(n + 1) }));
    const stripLen = Math.ceil(Math.ceil(size / AU) / (p.nstrips * (p.chunkSize / AU))) * p.chunkSize;
    const label = JSON.stringify({ size, p });
    assert.equal(ie.chunkSize, p.chunkSize, label);
    assert.equal(ie.strips.length, p.nstrips, label);
    const buckets = new Set<number>();
    for (const s of ie.strips) {
      assert.equal(s.devIndex, 0);
      assert.equal(s.length, stripLen, label);
      assert.equal(s.offset % AU, 0);
      const b = Math.floor(s.offset / bucketBytes);
      assert.ok(s.offset + s.length <= (b + 1) * bucketBytes, `${label}: strip inside bucket ${b}`);
      assert.ok(s.offset >= RESERVED, 'not in the superblock/log');
      buckets.add(b);
    }
    assert.equal(buckets.size, p.nstrips, `${label}: distinct buckets`);
    assert.ok(stripLen * p.nstrips >= size, 'the strips cover the file');
    // Each strip is the first fit of its bucket (the map is empty: the bucket start, or after the log).
    for (const s of ie.strips) {
      const b = Math.floor(s.offset / bucketBytes);
      assert.equal(s.offset, Math.max(b * bucketBytes, RESERVED));
    }
  }
});

test('allocInterleaved: deterministic for a fixed random; strips follow the shuffled bucket order', () => {
  const p = { nstrips: 5, nbuckets: 8, chunkSize: 2 * MiB };
  const calls: number[] = [];
  const rnd = seeded(42);
  const recorded = (max: number) => {
    calls.push(max);
    return rnd(max);
  };
  const a = new SpaceMap(BIG, AU, RESERVED).allocInterleaved(64 * MiB, p, { random: recorded });
  const b = new SpaceMap(BIG, AU, RESERVED).allocInterleaved(64 * MiB, p, { random: seeded(42) });
  assert.deepEqual(a, b);
  assert.deepEqual(calls, [8, 7, 6, 5, 4, 3, 2], 'Fisher-Yates: random(i + 1) for i = nbuckets-1 .. 1');

  // Replay the same shuffle to predict the buckets, in order.
  const order = [0, 1, 2, 3, 4, 5, 6, 7];
  const again = seeded(42);
  for (let i = order.length - 1; i > 0; i--) {
    const j = again(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  assert.deepEqual(
    strips(a).strips.map((s) => Math.floor(s.offset / GiB)),
    order.slice(0, 5),
  );

  // With the identity shuffle the strips are in buckets 0..4.
  const c = strips(new SpaceMap(BIG, AU, RESERVED).allocInterleaved(64 * MiB, p, { random: inOrder }));
  assert.deepEqual(
    c.strips.map((s) => s.offset),
    [RESERVED, 1 * GiB, 2 * GiB, 3 * GiB, 4 * GiB],
  );
});

test('allocInterleaved: full buckets are skipped; too few buckets with room is NO_SPACE', () => {
  const m = new SpaceMap(4 * GiB, AU, RESERVED);
  const p = { nstrips: 3, nbuckets: 4, chunkSize: 2 * MiB };
  // Fill bucket 1 completely and bucket 2 up to its last 2 MiB.
  m.claim({ devIndex: 0, offset: 1 * GiB, length: GiB }, 1);
  m.claim({ devIndex: 0, offset: 2 * GiB, length: GiB - AU }, 2);
  const small = strips(m.allocInterleaved(6 * MiB, p, { random: inOrder }));
  assert.deepEqual(
    small.strips.map((s) => s.offset),
    [RESERVED, 3 * GiB - AU, 3 * GiB],
    'bucket 2 fits one 2 MiB strip in its last unit',
  );
  // The order in which buckets are tried does not matter for which ones are skipped.
  const shuffled = strips(m.allocInterleaved(6 * MiB, p, { random: seeded(3) }));
  for (const s of shuffled.strips) assert.notEqual(Math.floor(s.offset / GiB), 1);
});

test('allocInterleaved: NO_SPACE when fewer than nstrips buckets have room', () => {
  const m = new SpaceMap(4 * GiB, AU, RESERVED);
  m.claim({ devIndex: 0, offset: 1 * GiB, length: GiB }, 1);
  m.claim({ devIndex: 0, offset: 2 * GiB, length: GiB - AU }, 2);
  assert.throws(() => m.allocInterleaved(12 * MiB, { nstrips: 3, nbuckets: 4, chunkSize: 2 * MiB }, { random: inOrder }), {
    name: 'FamfsError',
    code: 'NO_SPACE',
    message: /3 strips of 4194304 bytes needed in 4 buckets of 1073741824 bytes; only 2 buckets have room \(free \d+ bytes, largest free run \d+ bytes\)/,
  });
});

test('allocInterleaved: invalid parameters are INVALID and name the parameter', () => {
  const m = new SpaceMap(BIG, AU, RESERVED);
  const bad: [InterleaveParams, RegExp, boolean?][] = [
    [{ nstrips: 2, nbuckets: 4, chunkSize: 3 * MiB }, /^chunk size 3145728 must be a power of two and a multiple of the 2097152-byte alloc unit$/],
    [{ nstrips: 2, nbuckets: 4, chunkSize: MiB }, /^chunk size 1048576 must be a power of two and a multiple/],
    [{ nstrips: 2, nbuckets: 4, chunkSize: 0 }, /^chunk size 0 must be a power of two/],
    [{ nstrips: 2, nbuckets: 4, chunkSize: 4 * GiB }, /^chunk size 4294967296 must be below 4 GiB/],
    [{ nstrips: 1, nbuckets: 0, chunkSize: AU }, /^nbuckets 0 must be 1\.\.64$/],
    [{ nstrips: 1, nbuckets: 65, chunkSize: AU }, /^nbuckets 65 must be 1\.\.64$/, true],
    [{ nstrips: 0, nbuckets: 4, chunkSize: AU }, /^nstrips 0 must be 1\.\.16$/],
    [{ nstrips: 0, chunkSize: AU }, /^nbuckets 0 must be 1\.\.64$/],
    [{ nstrips: 17, nbuckets: 32, chunkSize: AU }, /^nstrips 17 must be 1\.\.16$/, true],
    [{ nstrips: 5, nbuckets: 4, chunkSize: AU }, /^nstrips 5 must not exceed nbuckets 4$/],
    [{ nstrips: 2, nbuckets: 16, chunkSize: AU }, /^nbuckets 16 is too many for a 8589934592-byte device: famfs requires each bucket to be at least 1 GiB$/],
    [{ nstrips: 9, chunkSize: AU }, /^nbuckets 9 is too many for a 8589934592-byte device/],
  ];
  for (const [p, message, relax] of bad) {
    for (const size of [MiB, 64 * MiB]) {
      assert.throws(() => m.allocInterleaved(size, p, { relaxBucketMinimum: relax ?? false }), { name: 'FamfsError', code: 'INVALID', message }, JSON.stringify(p));
    }
  }
  // 1 GiB buckets are enough; relaxBucketMinimum waives the minimum for small pools.
  assert.equal(m.allocInterleaved(64 * MiB, { nstrips: 8, chunkSize: AU }).kind, 'interleaved');
  assert.equal(m.allocInterleaved(64 * MiB, { nstrips: 2, nbuckets: 16, chunkSize: AU }, { relaxBucketMinimum: true }).kind, 'interleaved');
  assert.equal(m.allocInterleaved(64 * MiB, { nstrips: 16, nbuckets: 64, chunkSize: AU }, { relaxBucketMinimum: true }).kind, 'interleaved');
});

// ------------------------------------------------------------------------------------------------
// Pools

test('pool: fill to NO_SPACE, delete with reclaim safe, refill the freed space', async (t) => {
  const tp = await pool(t);
  const p = openPool(t, tp.path, { reclaim: 'safe' });
  assert.equal(p.stats().freeBytes, 27 * AU);
  const sizes = [MiB, 3 * MiB, 5 * MiB]; // 1, 2 and 3 units
  const made: FamfsNode[] = [];
  for (let i = 0; ; i++) {
    const size = sizes[i % 3]!;
    if (p.stats().largestFreeRun < size) {
      const s = p.stats();
      await assert.rejects(p.createFile(`f${i}`, size), (e: unknown) => {
        assert.ok(e instanceof FamfsError);
        assert.equal(e.code, 'NO_SPACE');
        assert.ok(e.message.includes(`${s.freeBytes} bytes free`), e.message);
        assert.ok(e.message.includes(`largest free run ${s.largestFreeRun} bytes`), e.message);
        return true;
      });
      break;
    }
    made.push(await p.createFile(`f${i}`, size));
    assertFsckClean(tp);
  }
  // 1+2+3 units per round: 27 units hold 4 rounds (24 units) + f12 (1) + f13 (2) = 27.
  assert.equal(made.length, 14);
  assert.equal(p.stats().freeBytes, 0);
  await assert.rejects(p.createFile('tiny', 1), { name: 'FamfsError', code: 'NO_SPACE', message: /0 bytes free, largest free run 0 bytes/ });
  const logUsed = p.stats().logEntriesUsed;
  assert.equal(logUsed, 14, 'refused creates append nothing');

  // Delete the 3-unit files f2, f5, f8, f11 (not adjacent to each other).
  for (const name of ['f2', 'f5', 'f8', 'f11']) {
    await p.remove(name);
    assertFsckClean(tp);
  }
  assert.equal(p.stats().freeBytes, 12 * AU);
  assert.equal(p.stats().largestFreeRun, 3 * AU);
  await assert.rejects(p.createFile('too-big', 3 * AU + 1), { code: 'NO_SPACE', message: /25165824 bytes free, largest free run 6291456 bytes/ });

  // Refill exactly: each 3-unit hole takes a 3-unit file, first fit in log order of the holes.
  const holes = ['f2', 'f5', 'f8', 'f11'].map((n) => offsetOf(made.find((m) => m.relpath === n)));
  for (let i = 0; i < 4; i++) {
    const f = await p.createFile(`r${i}`, 6 * MiB);
    assert.equal(offsetOf(f), holes[i]);
    assertFsckClean(tp);
  }
  assert.equal(p.stats().freeBytes, 0);
  await assert.rejects(p.createFile('tiny', 1), { code: 'NO_SPACE' });
  assertNoOverlap(p);
  // A fresh open agrees.
  const q = openPool(t, tp.path, { reclaim: 'safe' });
  assert.equal(q.stats().freeBytes, 0);
  assert.equal(q.stats().files, 14);
  assert.equal(q.stats().tombstones, 4);
  assertNoOverlap(q);
});

test("pool: with reclaim 'never' removed space is not reused", async (t) => {
  const tp = await pool(t);
  const p = openPool(t, tp.path, { reclaim: 'never' });
  for (let i = 0; i < 27; i++) await p.createFile(`f${i}`, AU);
  await assert.rejects(p.createFile('x', 1), { code: 'NO_SPACE' });
  await p.remove('f3');
  await p.remove('f20');
  assert.equal(p.stats().files, 25);
  assert.equal(p.stats().freeBytes, 0);
  await assert.rejects(p.createFile('x', 1), { name: 'FamfsError', code: 'NO_SPACE', message: /0 bytes free/ });
  assert.equal(p.replay.retired.length, 2);
  assertFsckClean(tp, 'never');
  const q = openPool(t, tp.path, { reclaim: 'never' });
  assert.equal(q.stats().freeBytes, 0);
});

test('pool: newly allocated extents are zero-filled, and only they', async (t) => {
  const tp = await pool(t);
  const dataLen = tp.dev.size - RESERVED;
  tp.dev.map(RESERVED, dataLen).fill(0xa5);
  const p = openPool(t, tp.path, { allocator: { relaxBucketMinimum: true, random: inOrder } });
  const f = await p.createFile('f', 3 * MiB + 17);
  const e = ext(f.fmap);
  assert.equal(e.length, 4 * MiB);
  assert.ok(tp.dev.map(e.offset, e.length).equals(Buffer.alloc(e.length)), 'the whole (rounded) extent is zero');
  const next = tp.dev.map(e.offset + e.length, AU);
  assert.ok(next.equals(Buffer.alloc(AU, 0xa5)), 'the next unit is untouched');

  const s = await p.createFile('s', 8 * MiB, { interleave: { nstrips: 2, nbuckets: 4, chunkSize: AU } });
  for (const r of fmapDeviceRanges(s.fmap)) {
    assert.ok(tp.dev.map(r.offset, r.length).equals(Buffer.alloc(r.length)), `strip at ${r.offset} is zero`);
    if (r.offset + r.length < tp.dev.size) assert.equal(tp.dev.map(r.offset + r.length, 1)[0], 0xa5);
  }
  assertFsckClean(tp);
});

test('pool: interleaved files through Pool (relaxBucketMinimum) are striped and fsck clean', async (t) => {
  const tp = await pool(t, 256 * MiB);
  const strict = openPool(t, tp.path);
  await assert.rejects(strict.createFile('nope', 16 * MiB, { interleave: { nstrips: 4, chunkSize: AU } }), {
    name: 'FamfsError',
    code: 'INVALID',
    message: /nbuckets 4 is too many .* at least 1 GiB/,
  });
  assert.equal(strict.stats().logEntriesUsed, 0);

  const p = openPool(t, tp.path, { allocator: { relaxBucketMinimum: true, random: seeded(7) } });
  const bucketBytes = Math.floor(128 / 4) * AU; // 64 MiB
  const made: FamfsNode[] = [];
  for (let i = 0; i < 6; i++) {
    const size = (5 + i * 3) * MiB;
    const f = await p.createFile(`s${i}`, size, { interleave: { nstrips: 3, nbuckets: 4, chunkSize: AU } });
    const ie = strips(f.fmap);
    const stripLen = Math.ceil(Math.ceil(size / AU) / 3) * AU;
    assert.equal(ie.strips.length, 3);
    assert.deepEqual(
      ie.strips.map((s) => s.length),
      [stripLen, stripLen, stripLen],
    );
    const buckets = ie.strips.map((s) => Math.floor(s.offset / bucketBytes));
    assert.equal(new Set(buckets).size, 3);
    for (const s of ie.strips) assert.ok(s.offset + s.length <= (Math.floor(s.offset / bucketBytes) + 1) * bucketBytes);
    made.push(f);
    assertFsckClean(tp);
  }
  // Smaller than a chunk: contiguous.
  const small = await p.createFile('small', MiB, { interleave: { nstrips: 3, nbuckets: 4, chunkSize: 4 * MiB } });
  assert.equal(small.fmap.kind, 'simple');
  assertNoOverlap(p);
  assertFsckClean(tp);

  const q = openPool(t, tp.path);
  for (const f of made) assert.deepEqual(q.lookup(f.relpath), f);
  assert.equal(q.stats().usedBytes, p.stats().usedBytes);
});

test('createFile with parents: directories and file in one session; a request that cannot fit logs nothing', async (t) => {
  const tp = await tmpPool({ size: 64 * MiB });
  t.after(() => tp.cleanup());
  const pool = Pool.open(tp.dev);
  const before = pool.stats().logEntriesUsed;
  await assert.rejects(pool.createFile('csi/big/data', 1024 * MiB, { parents: true }), (e: unknown) => e instanceof FamfsError && e.code === 'NO_SPACE');
  assert.equal(pool.stats().logEntriesUsed, before, 'nothing was logged, not even the directories');
  assert.equal(pool.lookup('csi'), undefined);
  const f = await pool.createFile('csi/v1/data', 4 * MiB, { parents: true, mode: 0o600 });
  assert.equal(f.mode, 0o600);
  assert.equal(pool.lookup('csi/v1')?.kind, 'dir');
  assert.equal(pool.stats().logEntriesUsed, before + 3, 'csi, csi/v1 and the file');
  await assert.rejects(pool.createFile('nodir/data', 2 * MiB), /parent directory "nodir"/, 'without parents a missing parent is still an error');
  assert.ok(fsck(tp.dev).ok);
});
