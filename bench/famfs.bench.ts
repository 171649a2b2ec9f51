/**
 * famfs-csi core benchmark (npm run bench). Everything runs on emulated pools: sparse files in a
 * scratch directory under /dev/shm, removed at the end (also on error or Ctrl-C).
 *
 *   1. Pool.open replaying a full 8 MiB log (15,420 entries)            target <= 20 ms
 *   2. Pool.open replaying a full 256 MiB log (493,447 entries)         target <= 1 s
 *   3. Pool.createFile (allocate 2 MiB + zero-fill + append) with 10,000 files in the pool
 *                                                                       target <= 1 ms
 *   4. zeroRange of 1 GiB vs single-thread memset (Buffer.fill)         target >= 50 %
 *   5. speed-up of (3) over famfs's CLI creat (~100 ms)
 *
 * It is a measurement, not a test: it exits 0 when a target is missed and prints MISS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  ALLOC_UNIT,
  FM_ALL_HOSTS_RW,
  FamfsLog,
  GiB,
  LOG_OFFSET,
  MiB,
  Pool,
  Replayer,
  createEmulatedDevice,
  logCapacity,
  mkfs,
  openDaxDevice,
  zeroRange,
} from '../src/famfs/index.js';
import type { DaxDevice } from '../src/famfs/index.js';

// ---------------------------------------------------------------------------------------------
// Scratch space and cleanup. The host identity file lives in the scratch directory, so nothing
// under /opt/famfs is read or written.

const scratch = mkdtempSync('/dev/shm/famfs-csi-bench-');
process.env.FAMFS_SYSTEM_UUID_FILE = join(scratch, 'system_uuid');

const openDevices = new Set<DaxDevice>();
let cleanedUp = false;

function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const dev of openDevices) {
    try {
      dev.close();
    } catch {
      // already closed
    }
  }
  openDevices.clear();
  rmSync(scratch, { recursive: true, force: true });
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A real gc() when V8 allows exposing it at run time, so one run's garbage does not bill the next. */
const gc: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
})();

const now = (): number => performance.now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function fmtMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

const fmtInt = (n: number): string => n.toLocaleString('en-US');
const gbps = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e9;

interface Row {
  benchmark: string;
  result: string;
  target: string;
  verdict: string;
}
const rows: Row[] = [];
const notes: string[] = [];

function row(benchmark: string, result: string, target = '', ok?: boolean): void {
  rows.push({ benchmark, result, target: target || '—', verdict: ok === undefined ? 'info' : ok ? 'ok' : 'MISS' });
}

function printTable(): void {
  const cols: (keyof Row)[] = ['benchmark', 'result', 'target', 'verdict'];
  const width = (c: keyof Row) => Math.max(c.length, ...rows.map((r) => [...r[c]].length));
  const w = Object.fromEntries(cols.map((c) => [c, width(c)])) as Record<keyof Row, number>;
  const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - [...s].length));
  const line = (r: Row) => cols.map((c) => pad(r[c], w[c])).join('  ').trimEnd();
  console.log(line({ benchmark: 'benchmark', result: 'result', target: 'target', verdict: 'verdict' }));
  console.log(cols.map((c) => '-'.repeat(w[c])).join('  '));
  for (const r of rows) console.log(line(r));
  if (notes.length) {
    console.log('\nnotes:');
    for (const n of notes) console.log(`  - ${n}`);
  }
}

function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Creates, opens and formats an emulated pool file of `size` bytes with a `logLength` log. */
async function newPool(name: string, size: number, logLength: number): Promise<{ path: string; dev: DaxDevice }> {
  const path = join(scratch, name);
  createEmulatedDevice(path, size);
  const dev = openDaxDevice(path);
  openDevices.add(dev);
  await mkfs(dev, { logLength });
  return { path, dev };
}

function closeDevice(dev: DaxDevice): void {
  dev.close();
  openDevices.delete(dev);
}

function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/** First allocation unit after the superblock and a `logLength` log. */
const firstDataUnit = (logLength: number): number => Math.ceil((LOG_OFFSET + logLength) / ALLOC_UNIT);

/** Entries that are files when a log of `entries` holds one mkdir per `filesPerDir` files. */
const fileEntries = (entries: number, filesPerDir: number): number => entries - Math.ceil(entries / (filesPerDir + 1));

/**
 * Appends `entries` log entries straight through FamfsLog.append: a mkdir, then `filesPerDir`
 * 2 MiB files in it (one contiguous extent each, in consecutive alloc units from `firstUnit`,
 * so no two overlap), then the next directory. Paths: d<k>/f<j>, prefixed with `prefix`.
 */
function fillLog(log: FamfsLog, entries: number, firstUnit: number, filesPerDir: number, prefix = ''): { files: number; dirs: number } {
  let dirs = 0;
  let files = 0;
  let inDir = filesPerDir;
  for (let i = 0; i < entries; i++) {
    if (inDir === filesPerDir) {
      log.append({ type: 'mkdir', relpath: `${prefix}d${dirs}`, uid: 0, gid: 0, mode: 0o755 });
      dirs++;
      inDir = 0;
      continue;
    }
    log.append({
      type: 'file',
      relpath: `${prefix}d${dirs - 1}/f${inDir}`,
      size: ALLOC_UNIT - (files % 4096),
      flags: FM_ALL_HOSTS_RW,
      uid: 1000,
      gid: 1000,
      mode: 0o644,
      fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: (firstUnit + files) * ALLOC_UNIT, length: ALLOC_UNIT }] },
    });
    files++;
    inDir++;
  }
  return { files, dirs };
}

// ---------------------------------------------------------------------------------------------
// 1 + 2: replay of a full log

interface ReplayResult {
  entries: number;
  open: number[];
  apply: number[];
  invalidate: number[];
}

async function benchReplay(label: string, logLength: number, filesPerDir: number, runs: number): Promise<ReplayResult> {
  const entries = logCapacity(logLength);
  const files = fileEntries(entries, filesPerDir);
  const first = firstDataUnit(logLength);
  const size = (first + files + 1) * ALLOC_UNIT;
  progress(`${label}: formatting a ${(size / GiB).toFixed(0)} GiB sparse pool, ${logLength / MiB} MiB log, appending ${fmtInt(entries)} entries`);
  const { path, dev } = await newPool(`replay-${logLength / MiB}m.dax`, size, logLength);
  const t0 = now();
  const writer = new FamfsLog(dev.map(LOG_OFFSET, logLength), entries - 1);
  const filled = fillLog(writer, entries, first, filesPerDir);
  progress(`${label}: appended in ${fmtMs(now() - t0)} (${fmtInt(filled.files)} files, ${fmtInt(filled.dirs)} dirs)`);
  closeDevice(dev);

  // Pool.open from the path each time: open + mmap + page-table faults + superblock/log header
  // checks + host identity + full replay (including the cache invalidation of the log).
  const open: number[] = [];
  let replayed = 0;
  for (let i = 0; i <= runs; i++) {
    gc();
    const t = now();
    const pool = Pool.open(path);
    const dt = now() - t;
    const s = pool.stats();
    replayed = pool.replay.applied;
    if (s.problems !== 0 || s.files !== filled.files || s.directories !== filled.dirs || replayed !== entries) {
      throw new Error(`${label}: replay is wrong: ${s.problems} problems, ${s.files}/${filled.files} files, ${s.directories}/${filled.dirs} dirs, ${replayed}/${entries} entries`);
    }
    pool.close();
    if (i > 0) open.push(dt); // run 0 is the warm-up
  }

  // Breakdown on a device that stays mapped (no mmap / fault cost): the cache invalidation
  // Pool.refresh does over the log, and Replayer.apply alone.
  const pool = Pool.open(path);
  openDevices.add(pool.device);
  const invalidate: number[] = [];
  const apply: number[] = [];
  for (let i = 0; i <= runs; i++) {
    gc();
    let t = now();
    const h = pool.log.header();
    pool.log.invalidateEntries(0, h.nextIndex);
    const inv = now() - t;
    const r = new Replayer(pool.replay.geometry);
    t = now();
    r.apply(pool.log.region, h.nextIndex);
    const ap = now() - t;
    if (r.applied !== entries || r.problems.length) throw new Error(`${label}: Replayer.apply replayed ${r.applied} entries with ${r.problems.length} problems`);
    if (i > 0) {
      invalidate.push(inv);
      apply.push(ap);
    }
  }
  closeDevice(pool.device);
  removeFile(path);
  gc();
  return { entries: replayed, open, apply, invalidate };
}

// ---------------------------------------------------------------------------------------------
// 3: createFile in a pool of 10,000 files

interface CreateResult {
  perCall: number[];
  zeroFresh: number[];
}

async function benchCreate(existingFiles: number, calls: number, warmup: number): Promise<CreateResult> {
  const logLength = 64 * MiB; // famfs-csi's default log
  const filesPerDir = 100;
  const entries = existingFiles + Math.ceil(existingFiles / filesPerDir);
  const first = firstDataUnit(logLength);
  // Room for the existing files, the new ones, and a separate untouched area at the top of the
  // device to time zeroRange on fresh pages alone.
  const newUnits = warmup + calls;
  const size = (first + existingFiles + newUnits + 8 + calls) * ALLOC_UNIT;
  progress(`create: pool with ${fmtInt(existingFiles)} files, then ${warmup} + ${calls} createFile calls`);
  const { path, dev } = await newPool('create.dax', size, logLength);
  const writer = new FamfsLog(dev.map(LOG_OFFSET, logLength), logCapacity(logLength) - 1);
  const filled = fillLog(writer, entries, first, filesPerDir);
  if (filled.files !== existingFiles) throw new Error(`create: filled ${filled.files} files, wanted ${existingFiles}`);
  closeDevice(dev);

  const pool = Pool.open(path);
  openDevices.add(pool.device);
  await pool.mkdir('new');
  const perCall: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const t = now();
    await pool.createFile(`new/f${i}`, 2 * MiB);
    const dt = now() - t;
    if (i >= warmup) perCall.push(dt);
  }
  const s = pool.stats();
  if (s.files !== existingFiles + warmup + calls || s.problems !== 0) throw new Error(`create: pool has ${s.files} files and ${s.problems} problems`);

  // zeroRange of 2 MiB on never-touched pages, the part of createFile done by the native addon.
  const zeroFresh: number[] = [];
  const top = size - calls * ALLOC_UNIT;
  for (let i = 0; i < calls; i++) {
    const t = now();
    await zeroRange(pool.device, top + i * ALLOC_UNIT, ALLOC_UNIT);
    zeroFresh.push(now() - t);
  }
  closeDevice(pool.device);
  removeFile(path);
  return { perCall, zeroFresh };
}

// ---------------------------------------------------------------------------------------------
// 4: zero-fill bandwidth

interface ZeroResult {
  memset: number;
  memsetFirstTouch: number;
  touched: number;
  fresh: number[];
}

async function benchZero(runs: number): Promise<ZeroResult> {
  const len = GiB;
  const freshRegions = 3;
  progress(`zero: memset baseline and zeroRange of 1 GiB (touched x${runs}, fresh x${freshRegions})`);

  // Single-thread memset-class bandwidth: Buffer.fill(0) on a 1 GiB buffer after a warm-up fill.
  let firstTouch: number;
  const fills: number[] = [];
  {
    let buf: Buffer | null = Buffer.alloc(len);
    let t = now();
    buf.fill(0); // first touch: page faults of anonymous memory
    firstTouch = now() - t;
    for (let i = 0; i < runs; i++) {
      t = now();
      buf.fill(0);
      fills.push(now() - t);
    }
    buf = null;
    gc();
  }

  // Regions aligned to the device's 1 GiB mapping windows: [1, 2) GiB is re-zeroed (touched),
  // [1..1+freshRegions) GiB are each zeroed once on never-touched sparse pages.
  const size = (1 + freshRegions) * GiB;
  const { path, dev } = await newPool('zero.dax', size, 8 * MiB);
  const fresh: number[] = [];
  for (let k = 0; k < freshRegions; k++) {
    const t = now();
    await zeroRange(dev, (1 + k) * GiB, len);
    fresh.push(now() - t);
  }
  const touched: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = now();
    await zeroRange(dev, GiB, len);
    touched.push(now() - t);
  }
  closeDevice(dev);
  removeFile(path);
  return { memset: median(fills), memsetFirstTouch: firstTouch, touched: median(touched), fresh };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();

  const small = await benchReplay('replay 8 MiB', 8 * MiB, 100, 15);
  const smallOpen = median(small.open);
  row(`1. Pool.open, full 8 MiB log (${fmtInt(small.entries)} entries), median of ${small.open.length}`, fmtMs(smallOpen), '≤ 20 ms', smallOpen <= 20);
  row('   of which Replayer.apply alone (mapped, median)', fmtMs(median(small.apply)), '');
  row('   of which cache invalidate of the log (median)', fmtMs(median(small.invalidate)), '');

  const large = await benchReplay('replay 256 MiB', 256 * MiB, 500, 5);
  const largeOpen = median(large.open);
  row(`2. Pool.open, full 256 MiB log (${fmtInt(large.entries)} entries), median of ${large.open.length}`, fmtMs(largeOpen), '≤ 1 s', largeOpen <= 1000);
  row('   of which Replayer.apply alone (mapped, median)', fmtMs(median(large.apply)), '');
  row('   of which cache invalidate of the log (median)', fmtMs(median(large.invalidate)), '');
  row('   replay rate (Pool.open)', `${fmtInt(Math.round(large.entries / (largeOpen / 1000)))} entries/s`, '');
  notes.push(
    `replay logs are full: one mkdir per 100 (8 MiB) / 500 (256 MiB) files, every file a distinct 2 MiB extent; ` +
      `the 256 MiB pool is a ${((fileEntries(large.entries, 500) * ALLOC_UNIT) / 2 ** 40).toFixed(2)} TiB sparse file on tmpfs (only the log pages are touched).`,
  );
  notes.push('Pool.open is timed from the path: open + mmap + page-table faults on the log + superblock/header checks + full replay; one warm-up run first.');

  const existing = 10_000;
  const create = await benchCreate(existing, 200, 20);
  const createMean = mean(create.perCall);
  const createP99 = percentile(create.perCall, 99);
  row(`3. Pool.createFile 2 MiB, ${fmtInt(existing)} files in pool (mean of ${create.perCall.length})`, fmtMs(createMean), '≤ 1 ms', createMean <= 1);
  row('   p99 per call', fmtMs(createP99), '≤ 1 ms', createP99 <= 1);
  row('   of which zeroRange 2 MiB on fresh tmpfs pages (mean)', fmtMs(mean(create.zeroFresh)), '');
  row('   allocation + log append + replay of it (mean, difference)', fmtMs(Math.max(0, createMean - mean(create.zeroFresh))), '');

  const zero = await benchZero(5);
  const memsetBw = gbps(GiB, zero.memset);
  const touchedBw = gbps(GiB, zero.touched);
  const freshBw = gbps(GiB, median(zero.fresh));
  const ratio = touchedBw / memsetBw;
  row('4. memset baseline: Buffer.fill(0) 1 GiB, warm (median of 5)', `${memsetBw.toFixed(2)} GB/s`, '');
  row('   zeroRange 1 GiB, already-touched mapped region (median of 5)', `${touchedBw.toFixed(2)} GB/s`, '');
  row('   zeroRange / memset', `${(ratio * 100).toFixed(0)} %`, '≥ 50 %', ratio >= 0.5);
  row(`   zeroRange 1 GiB, fresh sparse region (median of ${zero.fresh.length})`, `${freshBw.toFixed(2)} GB/s`, '');
  row('   fresh zeroRange / warm memset', `${((freshBw / memsetBw) * 100).toFixed(0)} %`, '');
  row('   memset first touch of a fresh 1 GiB Buffer (for comparison)', `${gbps(GiB, zero.memsetFirstTouch).toFixed(2)} GB/s`, '');
  notes.push('GB/s = 10^9 bytes/s; all single-threaded. "fresh" regions are never-touched pages of a sparse tmpfs file, so each 4 KiB page is allocated and cleared by the kernel on first touch.');

  row('5. speed-up of 3. over famfs CLI creat (100 ms)', `${(100 / createMean).toFixed(0)}× (mean), ${(100 / createP99).toFixed(0)}× (p99)`, '');
  notes.push('famfs CLI `creat` takes 90–120 ms per file; 100 ms is the reference.');

  notes.push(`node ${process.version}, ${process.arch}; total bench time ${((now() - started) / 1000).toFixed(1)} s.`);
  printTable();
}

try {
  await main();
} catch (e) {
  console.error('benchmark failed:', e);
  process.exitCode = 1;
} finally {
  cleanup();
}
