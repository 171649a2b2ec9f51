/**
 * Log replay: large logs, tombstones and reclaim, mkdir ordering, every rejection path, and
 * incremental replay (Replayer.apply in steps, Pool.refresh across instances).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scratchDir, testPool, rawLog, logHeaderOf } from '../helpers/tmpPool.js';
import type { TmpPool } from '../helpers/tmpPool.js';
import {
  ENTRY_CRC_OFFSET,
  FM_ALL_HOSTS_RW,
  LOG_ENTRY_SIZE,
  LOG_HEADER_SIZE,
  LOG_OFFSET,
  MiB,
  Pool,
  Replayer,
  createEmulatedDevice,
  encodeEntry,
  entryCrc,
  fsck,
  mkfs,
  openDaxDevice,
} from '../../src/famfs/index.js';
import type { DaxDevice, FamfsNode, NewLogEntry, Reclaim, ReplayProblem, SimpleExtent } from '../../src/famfs/index.js';
import { join } from 'node:path';

const AU = 2 * MiB;
const LOG_LEN = 8 * MiB;
/** First allocatable byte of an 8 MiB-log pool: superblock (2 MiB) + log. */
const DATA0 = LOG_OFFSET + LOG_LEN;
const SMALL = 64 * MiB;

/** Writes 544 raw bytes into slot next_index and commits it (next_seqnum and next_index + 1). */
function appendRaw(dev: DaxDevice, bytes: Buffer): number {
  const region = dev.map(LOG_OFFSET, LOG_LEN);
  const index = Number(region.readBigUInt64LE(40));
  bytes.copy(region, LOG_HEADER_SIZE + LOG_ENTRY_SIZE * index);
  region.writeBigUInt64LE(BigInt(index + 1), 32);
  region.writeBigUInt64LE(BigInt(index + 1), 40);
  return index;
}

/** Encodes `entry` for the next slot, lets `patch` change raw bytes, re-CRCs, and commits it. */
function appendPatched(dev: DaxDevice, entry: NewLogEntry, patch: (b: Buffer) => void, recrc = true): number {
  const index = logHeaderOf(dev).nextIndex;
  const bytes = encodeEntry(entry, index);
  patch(bytes);
  if (recrc) bytes.writeBigUInt64LE(BigInt(entryCrc(bytes)), ENTRY_CRC_OFFSET);
  return appendRaw(dev, bytes);
}

function file(relpath: string, extents: SimpleExtent[] | number, size?: number): NewLogEntry {
  const ext = typeof extents === 'number' ? [{ devIndex: 0, offset: extents, length: AU }] : extents;
  const cap = ext.reduce((n, e) => n + e.length, 0);
  return { type: 'file', relpath, size: size ?? cap, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: { kind: 'simple', extents: ext } };
}

function striped(relpath: string, chunkSize: number, offsets: number[], stripLen: number, size?: number): NewLogEntry {
  return {
    type: 'file',
    relpath,
    size: size ?? stripLen * offsets.length,
    flags: FM_ALL_HOSTS_RW,
    uid: 0,
    gid: 0,
    mode: 0o644,
    fmap: { kind: 'interleaved', extents: [{ chunkSize, strips: offsets.map((offset) => ({ devIndex: 0, offset, length: stripLen })) }] },
  };
}

function dir(relpath: string): NewLogEntry {
  return { type: 'mkdir', relpath, uid: 0, gid: 0, mode: 0o755 };
}

function del(relpath: string): NewLogEntry {
  return { type: 'delete', relpath, uid: 0, gid: 0, mode: 0 };
}

function describeNode(n: FamfsNode) {
  return n.kind === 'file'
    ? { kind: n.kind, relpath: n.relpath, index: n.index, size: n.size, mode: n.mode, uid: n.uid, gid: n.gid, fmap: n.fmap }
    : { kind: n.kind, relpath: n.relpath, index: n.index, mode: n.mode, uid: n.uid, gid: n.gid };
}

/** The device offset of a simple-fmap file's first extent. */
function offsetOf(n: FamfsNode | undefined): number {
  assert.ok(n && n.kind === 'file' && n.fmap.kind === 'simple', 'a file with a simple fmap');
  return n.fmap.extents[0]!.offset;
}

function replayState(r: Replayer) {
  return {
    applied: r.applied,
    nodes: [...r.namespace.walk()].map(describeNode).sort((a, b) => a.relpath.localeCompare(b.relpath)),
    files: r.namespace.fileCount,
    dirs: r.namespace.dirCount,
    owners: Array.from(r.space.owners),
    freeBytes: r.space.freeBytes,
    problems: r.problems.map((p) => ({ ...p })),
    tombstones: r.tombstones.map((t) => ({ ...t })),
    retired: r.retired.map((f) => f.relpath),
    collisions: r.collisions,
    stopped: r.stopped,
  };
}

/** A fresh pool plus cleanup registered on the test. */
function pool(t: { after(fn: () => void): void }, size = SMALL, version?: 47 | 48): Promise<TmpPool> {
  return testPool(t, size, version ? { version } : {});
}

function openPool(t: { after(fn: () => void): void }, path: string, reclaim?: Reclaim): Pool {
  const p = Pool.open(path, reclaim ? { reclaim } : {});
  t.after(() => p.close());
  return p;
}

test('replays 5,000 files in 50 directories with correct counts and fmaps', async (t) => {
  const nfiles = 5000;
  const ndirs = 50;
  const tp = await pool(t, DATA0 + nfiles * AU);
  const log = rawLog(tp.dev);
  for (let d = 0; d < ndirs; d++) log.append(dir(`dir${d}`));
  const sizes: number[] = [];
  for (let i = 0; i < nfiles; i++) {
    const size = 1 + ((i * 7919) % AU);
    sizes.push(size);
    log.append(file(`dir${i % ndirs}/file${i}`, DATA0 + i * AU, size));
  }
  assert.equal(logHeaderOf(tp.dev).nextIndex, ndirs + nfiles);

  const p = openPool(t, tp.path);
  assert.deepEqual(p.replay.problems, []);
  const s = p.stats();
  assert.equal(s.files, nfiles);
  assert.equal(s.directories, ndirs);
  assert.equal(s.tombstones, 0);
  assert.equal(s.logEntriesUsed, ndirs + nfiles);
  assert.equal(s.usedBytes, nfiles * AU);
  assert.equal(s.freeBytes, 0);
  assert.equal(s.largestFreeRun, 0);
  for (const i of [0, 1, 49, 50, 2500, 4999]) {
    const n = p.lookup(`dir${i % ndirs}/file${i}`);
    assert.ok(n && n.kind === 'file', `file${i}`);
    assert.equal(n.index, ndirs + i);
    assert.equal(n.size, sizes[i]);
    assert.deepEqual(n.fmap, { kind: 'simple', extents: [{ devIndex: 0, offset: DATA0 + i * AU, length: AU }] });
    assert.equal(p.replay.space.ownerAt(DATA0 + i * AU), ndirs + i);
  }
  const d7 = p.lookup('dir7');
  assert.ok(d7 && d7.kind === 'dir');
  assert.equal(d7.children.size, nfiles / ndirs);

  const report = fsck(tp.dev);
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.deepEqual(report.warnings, []);
  assert.equal(report.summary?.files, nfiles);
  assert.equal(report.summary?.directories, ndirs);
  assert.equal(report.summary?.collisions, 0);

  // The pool is exactly full.
  await assert.rejects(p.createFile('one-more', 1), { name: 'FamfsError', code: 'NO_SPACE' });
});

test('replays thousands of nested mkdir entries', async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  let n = 0;
  for (let a = 0; a < 40; a++) {
    log.append(dir(`a${a}`));
    n++;
    for (let b = 0; b < 50; b++) {
      log.append(dir(`a${a}/b${b}`));
      n++;
    }
  }
  const p = openPool(t, tp.path);
  assert.deepEqual(p.replay.problems, []);
  assert.equal(n, 2040);
  assert.equal(p.stats().directories, n);
  assert.equal(p.stats().files, 0);
  assert.equal(p.lookup('a39/b49')?.kind, 'dir');
  assert.equal(p.lookup('a39/b49')?.index, n - 1);
});

test('tombstones: a file, then a directory with its subtree (reclaim safe frees space)', async (t) => {
  const tp = await pool(t);
  const p = openPool(t, tp.path, 'safe');
  const free0 = p.stats().freeBytes;
  await p.mkdir('d/e', { parents: true });
  const f1 = await p.createFile('d/f1', 3 * MiB);
  const f2 = await p.createFile('d/e/f2', 1 * MiB);
  const g = await p.createFile('g', 2 * MiB);
  assert.equal(p.stats().freeBytes, free0 - 4 * AU);

  await p.remove('g');
  assert.equal(p.lookup('g'), undefined);
  assert.equal(p.stats().files, 2);
  assert.equal(p.stats().tombstones, 1);
  assert.equal(p.stats().freeBytes, free0 - 3 * AU);
  assert.equal(p.replay.space.ownerAt(offsetOf(g)), -1);

  await p.remove('d');
  assert.equal(p.lookup('d'), undefined);
  assert.equal(p.lookup('d/e/f2'), undefined);
  const s = p.stats();
  assert.deepEqual([s.files, s.directories, s.tombstones, s.freeBytes], [0, 0, 2, free0]);
  assert.deepEqual(p.replay.tombstones, [
    { index: 5, relpath: 'g' },
    { index: 6, relpath: 'd' },
  ]);
  assert.deepEqual(p.replay.retired, []);

  // Re-create after delete: same paths, first fit reuses the freed space.
  await p.mkdir('d');
  const f1b = await p.createFile('d/f1', 3 * MiB);
  const gb = await p.createFile('g', 2 * MiB);
  assert.deepEqual(f1b.fmap, f1.fmap);
  assert.equal(f1b.index, 8);
  assert.equal(offsetOf(gb), offsetOf(f2));

  // A fresh replay gives the same state, and fsck agrees.
  const q = openPool(t, tp.path, 'safe');
  assert.deepEqual(replayState(q.replay), replayState(p.replay));
  const report = fsck(tp.dev, { reclaim: 'safe' });
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.deepEqual(report.warnings, []);
  assert.equal(report.summary?.tombstones, 2);
  assert.equal(report.summary?.files, 2);
  assert.equal(report.summary?.directories, 1);
});

test("tombstones with reclaim 'never' keep the space used; re-create allocates new space", async (t) => {
  const tp = await pool(t);
  const p = openPool(t, tp.path, 'never');
  assert.equal(p.reclaim, 'never');
  await p.mkdir('d');
  const a = await p.createFile('d/a', 2 * MiB);
  const b = await p.createFile('d/b', 4 * MiB);
  const used = p.stats().usedBytes;
  assert.equal(used, 3 * AU);

  await p.remove('d');
  assert.equal(p.stats().files, 0);
  assert.equal(p.stats().directories, 0);
  assert.equal(p.stats().usedBytes, used);
  assert.deepEqual(p.replay.retired.map((f) => f.relpath).sort(), ['d/a', 'd/b']);
  assert.equal(p.replay.space.ownerAt(offsetOf(a)), a.index);

  await p.mkdir('d');
  const a2 = await p.createFile('d/a', 2 * MiB);
  assert.equal(offsetOf(a2), offsetOf(b) + 2 * AU);
  assert.equal(p.stats().usedBytes, used + AU);

  const q = openPool(t, tp.path, 'never');
  assert.deepEqual(replayState(q.replay), replayState(p.replay));
  const report = fsck(tp.dev, { reclaim: 'never' });
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.equal(report.summary?.usedBytes, used + AU);
});

test('a tombstone for a missing path is a warning', async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  log.append(dir('d'));
  log.append(del('nope'));
  log.append(dir('e'));
  const p = openPool(t, tp.path);
  assert.equal(p.replay.problems.length, 1);
  assert.equal(p.replay.problems[0]!.severity, 'warning');
  assert.equal(p.replay.problems[0]!.index, 1);
  assert.match(p.replay.problems[0]!.reason, /delete "nope": no such path/);
  assert.equal(p.stats().directories, 2);
  const report = fsck(tp.dev);
  assert.equal(report.ok, true);
  assert.equal(report.warnings.length, 1);
});

test('mkdir must precede files: a file whose parent was never logged is an error, later mkdir does not fix it', async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  log.append(dir('ok'));
  log.append(file('ok/f', DATA0));
  const orphan = log.append(file('late/f', DATA0 + AU));
  log.append(dir('late'));
  log.append(file('late/g', DATA0 + 2 * AU));

  const p = openPool(t, tp.path);
  assert.equal(p.replay.problems.length, 1);
  const problem = p.replay.problems[0]!;
  assert.equal(problem.index, orphan);
  assert.equal(problem.severity, 'error');
  assert.match(problem.reason, /file "late\/f": parent directory "late" of "late\/f" was not created by an earlier entry/);
  assert.equal(p.lookup('late')?.kind, 'dir');
  assert.equal(p.lookup('late/f'), undefined, 'the later mkdir does not retroactively apply the file');
  assert.equal(p.lookup('late/g')?.kind, 'file');
  assert.equal(p.replay.space.ownerAt(DATA0 + AU), -1, 'the rejected file claims no space');

  const report = fsck(tp.dev);
  assert.equal(report.ok, false);
  assert.equal(report.errors.length, 1);
  assert.match(report.errors[0]!, new RegExp(`^log entry ${orphan}: file "late/f": parent directory "late"`));
});

interface RejectCase {
  name: string;
  /** Appends the bad entry (after a 'd' directory and file 'd/f' at DATA0 exist); returns its index. */
  write(dev: DaxDevice): number;
  severity: ReplayProblem['severity'];
  reason: RegExp;
  /** Extra entries the case needs to name (e.g. the entry it collides with). */
  extra?: (p: Pool, index: number) => void;
}

const FREE_SLOT = DATA0 + 4 * AU;

const rejectCases: RejectCase[] = [
  {
    name: 'absolute relpath',
    write: (dev) => rawLog(dev).append(file('/abs', FREE_SLOT)),
    severity: 'error',
    reason: /^file "\/abs": path "\/abs" is absolute; famfs paths are relative to the pool root$/,
  },
  {
    name: 'absolute relpath (mkdir)',
    write: (dev) => rawLog(dev).append(dir('/abs')),
    severity: 'error',
    reason: /^mkdir: path "\/abs" is absolute/,
  },
  {
    name: 'empty relpath',
    write: (dev) => rawLog(dev).append(file('', FREE_SLOT)),
    severity: 'error',
    reason: /^file "": path is empty$/,
  },
  {
    name: "'..' component",
    write: (dev) => rawLog(dev).append(file('d/../x', FREE_SLOT)),
    severity: 'error',
    reason: /^file "d\/\.\.\/x": path "d\/\.\.\/x" has an empty, "\." or "\.\." component$/,
  },
  {
    name: "'..' component (mkdir)",
    write: (dev) => rawLog(dev).append(dir('..')),
    severity: 'error',
    reason: /^mkdir: path "\.\." has an empty, "\." or "\.\." component$/,
  },
  {
    name: 'extent at offset 0',
    write: (dev) => rawLog(dev).append(file('x', 0)),
    severity: 'error',
    reason: /^file "x": extent at device offset 0 \(the superblock\)$/,
  },
  {
    name: 'extent offset not 2 MiB aligned',
    write: (dev) => rawLog(dev).append(file('x', FREE_SLOT + 4096)),
    severity: 'error',
    reason: /^file "x": extent \[\d+, \+2097152\) is not aligned to the 2097152-byte alloc unit$/,
  },
  {
    name: 'extent length not 2 MiB aligned',
    write: (dev) => rawLog(dev).append(file('x', [{ devIndex: 0, offset: FREE_SLOT, length: MiB }])),
    severity: 'error',
    reason: /^file "x": extent \[\d+, \+1048576\) is not aligned to the 2097152-byte alloc unit$/,
  },
  {
    name: 'extent beyond the device',
    write: (dev) => rawLog(dev).append(file('x', [{ devIndex: 0, offset: SMALL - AU, length: 2 * AU }])),
    severity: 'error',
    reason: new RegExp(`^file "x": extent \\[${SMALL - AU}, ${SMALL + AU}\\) is beyond the device \\(${SMALL} bytes\\)$`),
  },
  {
    name: 'devindex != 0',
    write: (dev) => rawLog(dev).append(file('x', [{ devIndex: 1, offset: FREE_SLOT, length: AU }])),
    severity: 'error',
    reason: /^file "x": extent on daxdev index 1 \(only index 0 is supported\)$/,
  },
  {
    name: '0 simple extents',
    write: (dev) => appendPatched(dev, file('x', FREE_SLOT), (b) => b.writeUInt32LE(0, 128)),
    severity: 'error',
    reason: /^file "x": 0 simple extents \(famfs allows 1\.\.16\)$/,
  },
  {
    name: '17 simple extents',
    write: (dev) =>
      appendPatched(
        dev,
        file(
          'x',
          Array.from({ length: 16 }, (_, k) => ({ devIndex: 0, offset: FREE_SLOT + k * AU, length: AU })),
        ),
        (b) => b.writeUInt32LE(17, 128),
      ),
    severity: 'error',
    reason: /^file "x": 17 simple extents \(famfs allows 1\.\.16\)$/,
  },
  {
    name: 'interleaved with 0 strips',
    write: (dev) => appendPatched(dev, striped('x', AU, [FREE_SLOT], AU), (b) => b.writeBigUInt64LE(0n, 136)),
    severity: 'error',
    reason: /^file "x": 0 strips \(famfs allows 1\.\.16\)$/,
  },
  {
    name: 'interleaved with 17 strips',
    write: (dev) =>
      appendPatched(
        dev,
        striped(
          'x',
          AU,
          Array.from({ length: 16 }, (_, k) => FREE_SLOT + k * AU),
          AU,
        ),
        (b) => b.writeBigUInt64LE(17n, 136),
      ),
    severity: 'error',
    reason: /^file "x": 17 strips \(famfs allows 1\.\.16\)$/,
  },
  {
    name: 'interleaved with 2 extents',
    write: (dev) => appendPatched(dev, striped('x', AU, [FREE_SLOT], AU), (b) => b.writeUInt32LE(2, 128)),
    severity: 'error',
    reason: /^file "x": 2 interleaved extents \(famfs allows exactly 1\)$/,
  },
  {
    name: 'chunk size not a power of two',
    write: (dev) => rawLog(dev).append(striped('x', 3 * MiB, [FREE_SLOT, FREE_SLOT + 3 * AU], 3 * AU)),
    severity: 'error',
    reason: /^file "x": chunk size 3145728 is not a power of two multiple of the alloc unit$/,
  },
  {
    name: 'chunk size smaller than the alloc unit',
    write: (dev) => rawLog(dev).append(striped('x', MiB, [FREE_SLOT, FREE_SLOT + AU], AU)),
    severity: 'error',
    reason: /^file "x": chunk size 1048576 is not a power of two multiple of the alloc unit$/,
  },
  {
    // The chunk math (§1.13) cannot address such a file past the first strip's end (mapFileRange
    // throws), although the strips' total length covers the size.
    name: 'interleaved strips not a multiple of the chunk size',
    write: (dev) => rawLog(dev).append(striped('x', 2 * AU, [FREE_SLOT, FREE_SLOT + AU], AU)),
    severity: 'error',
    reason: /^file "x": .*(chunk|strip)/,
  },
  {
    name: 'unknown fmap extent type',
    write: (dev) => appendPatched(dev, file('x', FREE_SLOT), (b) => b.writeUInt32LE(2, 120)),
    severity: 'error',
    reason: /^file "x": unknown fmap extent type 2$/,
  },
  {
    name: 'file size larger than its extents',
    write: (dev) => rawLog(dev).append(file('x', FREE_SLOT, AU + 1)),
    severity: 'error',
    reason: /^file "x": file size 2097153 exceeds the 2097152 bytes its extents address$/,
  },
  {
    name: 'interleaved file size larger than its strips',
    write: (dev) => rawLog(dev).append(striped('x', AU, [FREE_SLOT, FREE_SLOT + AU], AU, 2 * AU + 1)),
    severity: 'error',
    reason: /^file "x": file size 4194305 exceeds the 4194304 bytes its extents address$/,
  },
  {
    name: 'unknown entry type (warning)',
    write: (dev) => appendPatched(dev, dir('x'), (b) => b.writeUInt32LE(9, 8)),
    severity: 'warning',
    reason: /^unknown entry type 9 \(famfs version 48\); ignored as famfs does$/,
  },
  {
    name: 'mkdir over an existing file',
    write: (dev) => rawLog(dev).append(dir('d/f')),
    severity: 'error',
    reason: /^mkdir "d\/f": a file of that name exists \(entry 1\)$/,
  },
  {
    name: 'file under a file',
    write: (dev) => rawLog(dev).append(file('d/f/x', FREE_SLOT)),
    severity: 'error',
    reason: /^file "d\/f\/x": parent "d\/f" of "d\/f\/x" is a file$/,
  },
  {
    name: 'duplicate file path',
    write: (dev) => rawLog(dev).append(file('d/f', FREE_SLOT)),
    severity: 'error',
    reason: /^file "d\/f": path already exists \(entry 1\); entry ignored$/,
  },
  {
    name: 'file over an existing directory',
    write: (dev) => rawLog(dev).append(file('d', FREE_SLOT)),
    severity: 'error',
    reason: /^file "d": path already exists \(entry 0\); entry ignored$/,
  },
];

for (const c of rejectCases) {
  test(`replay rejects: ${c.name}`, async (t) => {
    const tp = await pool(t);
    const log = rawLog(tp.dev);
    log.append(dir('d'));
    log.append(file('d/f', DATA0));
    const bad = c.write(tp.dev);
    assert.equal(bad, 2);
    const after = log.append(dir('later'));

    const p = openPool(t, tp.path);
    assert.deepEqual(
      p.replay.problems.map((x) => ({ index: x.index, severity: x.severity })),
      [{ index: bad, severity: c.severity }],
    );
    assert.match(p.replay.problems[0]!.reason, c.reason);
    assert.equal(p.replay.stopped, null);
    assert.equal(p.replay.applied, after + 1);
    // The bad entry changed nothing: the earlier file is intact, no space was claimed, replay went on.
    assert.equal(p.lookup('x'), undefined);
    assert.equal(p.lookup('d')?.kind, 'dir');
    assert.equal(p.lookup('d/f')?.kind, 'file');
    assert.equal(p.lookup('d/f')?.index, 1);
    assert.equal(p.lookup('later')?.kind, 'dir');
    assert.equal(p.stats().files, 1);
    assert.equal(p.stats().directories, 2);
    assert.equal(p.stats().usedBytes, AU);
    assert.equal(p.replay.collisions, 0);

    const report = fsck(tp.dev);
    assert.equal(report.ok, c.severity === 'warning');
    const list = c.severity === 'warning' ? report.warnings : report.errors;
    assert.equal(list.length, 1, JSON.stringify(report));
    assert.ok(list[0]!.startsWith(`log entry ${bad}: `), list[0]);
  });
}

test('replay: type 3 is ADD_DAXDEV in version 48 (recorded, no problem) and unknown in version 47', async (t) => {
  for (const version of [48, 47] as const) {
    const tp = await pool(t, SMALL, version);
    const log = rawLog(tp.dev);
    log.append(dir('d'));
    log.append({ type: 'addDaxdev', deviceSize: 4 * 1024 * MiB, deviceUuid: '01234567-89ab-cdef-0123-456789abcdef', deviceIndex: 1 });
    log.append(dir('e'));
    const p = Pool.open(tp.path);
    try {
      assert.equal(p.stats().directories, 2);
      if (version === 48) {
        assert.deepEqual(p.replay.problems, []);
        assert.deepEqual(p.replay.daxdevs, [{ index: 1, uuid: '01234567-89ab-cdef-0123-456789abcdef', size: 4 * 1024 * MiB }]);
      } else {
        assert.equal(p.replay.problems.length, 1);
        assert.equal(p.replay.problems[0]!.severity, 'warning');
        assert.match(p.replay.problems[0]!.reason, /^unknown entry type 3 \(famfs version 47\)/);
        assert.deepEqual(p.replay.daxdevs, []);
      }
    } finally {
      p.close();
    }
  }
});

test('allocation collision: two overlapping files name both entries', async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  log.append(dir('d'));
  const first = log.append(file('d/a', [{ devIndex: 0, offset: DATA0, length: 2 * AU }]));
  const second = log.append(file('d/b', [{ devIndex: 0, offset: DATA0 + AU, length: 2 * AU }]));
  const p = openPool(t, tp.path);
  assert.equal(p.replay.problems.length, 1);
  const problem = p.replay.problems[0]!;
  assert.equal(problem.index, second);
  assert.equal(problem.severity, 'error');
  assert.equal(problem.reason, `allocation collision: file "d/b" extent [${DATA0 + AU}, ${DATA0 + 3 * AU}) overlaps entry ${first}`);
  assert.equal(p.replay.collisions, 1);

  const report = fsck(tp.dev);
  assert.equal(report.ok, false);
  assert.equal(report.summary?.collisions, 1);
  assert.equal(report.errors.length, 1);
  assert.match(report.errors[0]!, new RegExp(`^log entry ${second}: allocation collision: file "d/b" .* overlaps entry ${first}$`));
});

test('allocation collision with the superblock/log region', async (t) => {
  const tp = await pool(t);
  rawLog(tp.dev).append(file('inlog', LOG_OFFSET));
  const p = openPool(t, tp.path);
  assert.equal(p.replay.problems.length, 1);
  assert.match(p.replay.problems[0]!.reason, /^allocation collision: file "inlog" extent \[2097152, 4194304\) overlaps the superblock\/log region$/);
  assert.equal(fsck(tp.dev).summary?.collisions, 1);
});

for (const kind of ['seqnum', 'crc'] as const) {
  test(`a fatal ${kind === 'seqnum' ? 'seqnum != index' : 'CRC mismatch'} stops replay; later entries are not applied`, async (t) => {
    const tp = await pool(t);
    const log = rawLog(tp.dev);
    log.append(dir('before'));
    log.append(file('before/f', DATA0));
    let bad: number;
    if (kind === 'seqnum') {
      bad = appendRaw(tp.dev, encodeEntry(dir('torn'), 7));
    } else {
      // A valid entry with one byte changed after its CRC was computed.
      bad = appendPatched(tp.dev, dir('torn'), (b) => (b[30] ^= 0x01), false);
    }
    log.append(dir('after'));
    log.append(file('after/f', DATA0 + AU));
    assert.equal(logHeaderOf(tp.dev).nextIndex, 5);

    const p = openPool(t, tp.path);
    const stopped = p.replay.stopped;
    assert.ok(stopped);
    assert.equal(stopped.index, bad);
    assert.equal(stopped.severity, 'fatal');
    if (kind === 'seqnum') assert.equal(stopped.reason, `entry ${bad}: seqnum 7 does not match its index (torn or overwritten entry)`);
    else assert.match(stopped.reason, new RegExp(`^entry ${bad}: CRC mismatch \\(stored 0x[0-9a-f]+, computed 0x[0-9a-f]+\\); the entry is torn or corrupt$`));
    assert.deepEqual(p.replay.problems, [stopped]);
    assert.equal(p.replay.applied, bad);
    assert.equal(p.lookup('before/f')?.kind, 'file');
    assert.equal(p.lookup('after'), undefined);
    assert.equal(p.lookup('after/f'), undefined);
    assert.equal(p.replay.space.ownerAt(DATA0 + AU), -1);

    // Appending on top of a corrupt log is refused.
    await assert.rejects(p.mkdir('x'), { name: 'FamfsError', code: 'CORRUPT', message: /refusing to append until fsck passes/ });
    assert.equal(logHeaderOf(tp.dev).nextIndex, 5);

    const report = fsck(tp.dev);
    assert.equal(report.ok, false);
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0]!, new RegExp(`^log entry ${bad} \\(replay stops here\\): ${kind === 'seqnum' ? 'seqnum 7' : 'CRC mismatch'}`));
    assert.equal(report.summary?.directories, 1);
    assert.equal(report.summary?.files, 1);
  });
}

test('incremental replay: Replayer.apply in steps equals one full replay', async (t) => {
  const tp = await pool(t);
  const p = openPool(t, tp.path);
  await p.mkdir('a/b/c', { parents: true });
  for (let i = 0; i < 8; i++) await p.createFile(`a/f${i}`, (i + 1) * MiB);
  await p.remove('a/f3');
  await p.remove('a/b');
  await p.createFile('a/b', MiB);
  await p.mkdir('z');
  await p.createFile('z/big', 9 * MiB);
  const log = rawLog(tp.dev);
  log.append(del('missing')); // a warning
  log.append(file('z/big', DATA0)); // an error (duplicate)
  log.append(file('z/overlap', offsetOf(p.lookup('z/big')))); // a collision
  log.append(dir('tail'));
  const total = logHeaderOf(tp.dev).nextIndex;

  const geometry = { version: p.superblock.version, allocUnit: p.superblock.allocUnit, deviceSize: tp.dev.size, reservedBytes: LOG_OFFSET + LOG_LEN, reclaim: 'safe' as const };
  const region = tp.dev.map(LOG_OFFSET, LOG_LEN);
  const full = new Replayer(geometry);
  full.apply(region, total);
  assert.equal(full.applied, total);
  assert.equal(full.problems.length, 3);

  for (const cuts of [[1, total], [3, 3, 9, 10, total], Array.from({ length: total }, (_, i) => i + 1)]) {
    const inc = new Replayer(geometry);
    for (const n of cuts) inc.apply(region, n);
    assert.deepEqual(replayState(inc), replayState(full), `cuts ${cuts.join(',')}`);
  }
  // The Pool's own (incrementally refreshed) replay agrees as well, once it has caught up.
  p.refresh();
  assert.deepEqual(replayState(p.replay), replayState(full));
});

test('Pool.refresh() on a second instance sees entries appended by the first', async (t) => {
  const tp = await pool(t);
  const p1 = openPool(t, tp.path);
  const p2 = openPool(t, tp.path);
  assert.equal(p2.refresh(), false);

  await p1.mkdir('d');
  const f = await p1.createFile('d/f', 5 * MiB);
  assert.equal(p2.lookup('d'), undefined, 'no automatic catch-up');
  assert.equal(p2.refresh(), true);
  assert.equal(p2.refresh(), false);
  const seen = p2.lookup('d/f');
  assert.ok(seen && seen.kind === 'file');
  assert.deepEqual(seen.fmap, f.fmap);
  assert.equal(p2.stats().usedBytes, p1.stats().usedBytes);

  // p2 appends in turn (it catches up under the lock first), p1 refreshes and sees it.
  await p1.remove('d/f');
  const g = await p2.createFile('g', MiB);
  assert.equal(offsetOf(g), offsetOf(f), 'p2 saw the delete before allocating');
  assert.equal(p1.refresh(), true);
  assert.deepEqual(replayState(p1.replay), replayState(p2.replay));
  assert.equal(fsck(tp.dev).ok, true);
});

test('a log re-made underneath a Pool is replayed from scratch on refresh', async (t) => {
  const { dir: scratch, cleanup } = scratchDir();
  t.after(cleanup);
  const path = join(scratch, 'pool.dax');
  createEmulatedDevice(path, SMALL);
  const dev = openDaxDevice(path);
  t.after(() => dev.close());
  await mkfs(dev, { logLength: LOG_LEN });
  const p = openPool(t, path);
  await p.mkdir('a');
  await p.mkdir('b');
  await mkfs(dev, { logLength: LOG_LEN, force: true });
  rawLog(dev).append(dir('c'));
  assert.equal(p.refresh(), true);
  assert.equal(p.lookup('a'), undefined);
  assert.equal(p.lookup('c')?.kind, 'dir');
  assert.equal(p.stats().directories, 1);
});

test("deleting a file that collided with the superblock/log region never frees the log's space (reclaim safe)", async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  const bad = log.append(file('inlog', LOG_OFFSET)); // overlaps log unit 1: a collision error
  assert.equal(bad, 0);
  const p = openPool(t, tp.path, 'safe');
  assert.equal(p.replay.collisions, 1);
  await p.remove('inlog');
  const f = await p.createFile('new', MiB);
  assert.ok(offsetOf(f) >= DATA0, `allocated at ${offsetOf(f)}, inside the superblock/log region`);
  // The log survived the zero-fill of the new file.
  const h = logHeaderOf(tp.dev);
  assert.equal(h.magic, 0xbadcafef00d);
  assert.equal(h.nextIndex, 3);
  const q = openPool(t, tp.path, 'safe');
  assert.equal(q.lookup('new')?.kind, 'file');
});

test('deleting the second of two colliding files does not free the first one\'s space (reclaim safe)', async (t) => {
  const tp = await pool(t);
  const log = rawLog(tp.dev);
  const a = log.append(file('a', [{ devIndex: 0, offset: DATA0, length: 2 * AU }]));
  log.append(file('b', [{ devIndex: 0, offset: DATA0 + AU, length: 2 * AU }])); // collides with a
  const p = openPool(t, tp.path, 'safe');
  assert.equal(p.replay.collisions, 1);
  await p.remove('b');
  assert.equal(p.lookup('a')?.kind, 'file');
  // New files must not be placed over a's live data (and zero-fill it).
  const n1 = await p.createFile('n1', MiB);
  const n2 = await p.createFile('n2', MiB);
  for (const n of [n1, n2]) assert.ok(offsetOf(n) >= DATA0 + 2 * AU || offsetOf(n) + AU <= DATA0, `new file at ${offsetOf(n)} overlaps entry ${a}`);
});
