/**
 * Real mounts: FuseSession.mount of a FamfsFileSystem in this process (served from a worker
 * thread, so this thread can make blocking fs calls into the mount). ls, stat, reads at every
 * alignment and across 2 MiB chunk boundaries of an interleaved file against the device bytes,
 * writes through the mount, EOF, errno of every refused operation, .meta files, statfs,
 * mmap(MAP_SHARED) through one mount read back through a second, and a clean unmount.
 *
 * Needs root and /dev/fuse: skipped otherwise, failed in CI (CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statSync,
  statfsSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { LOG_OFFSET, SUPERBLOCK_SIZE } from '../../src/famfs/index.js';
import type { FileNode } from '../../src/famfs/index.js';
import { CHUNK, FILES, fixture, interestingRanges, modelFile } from '../helpers/famfsModel.js';
import type { Fixture } from '../helpers/famfsModel.js';
import { MountWorker, cleanupStack, mountsAt, privileged } from '../helpers/fuseMount.js';
import { Rng } from '../helpers/fuseMessages.js';
import { scratchDir } from '../helpers/tmpPool.js';
import { errnoOf } from '../helpers/errno.js';

type T = Parameters<typeof privileged>[0];

interface Mounted {
  fx: Fixture;
  worker: MountWorker;
  mps: string[];
}

/** A fixture pool mounted at `n` fresh mount points (one worker thread serves them all). */
async function mounted(t: T, n = 1): Promise<Mounted | undefined> {
  if (!privileged(t)) return undefined;
  const defer = cleanupStack(t); // registered first: runs before the pool's own cleanup
  const fx = await fixture(t);
  const scratch = scratchDir('famfs-csi-mnt-');
  const mps = Array.from({ length: n }, (_, i) => join(scratch.dir, `m${i}`));
  defer(() => {
    if (mps.every((mp) => mountsAt(mp).length === 0)) scratch.cleanup(); // never recurse into a live mount
  });
  for (const mp of mps) mkdirSync(mp);
  // One reader per mount when there are two: each blocks one of libuv's four pool threads.
  const worker = await MountWorker.start(
    t,
    defer,
    fx.tp.path,
    mps.map((mountpoint) => ({ mountpoint, readers: n > 1 ? 1 : 2 })),
  );
  for (const mp of mps) assert.deepEqual(mountsAt(mp), ['fuse.famfs'], `${mp} mounted as fuse.famfs`);
  return { fx, worker, mps };
}


test('mount: ls and stat show the namespace with sizes, modes and uid/gid as logged', async (t) => {
  const m = await mounted(t);
  if (!m) return;
  const [mp] = m.mps as [string];
  assert.deepEqual(readdirSync(mp).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny']);
  assert.deepEqual(readdirSync(join(mp, '.meta')).sort(), ['.log', '.superblock']);
  assert.deepEqual(readdirSync(join(mp, 'dir')), ['a']);
  const types = Object.fromEntries(readdirSync(mp, { withFileTypes: true }).map((d) => [d.name, d.isDirectory() ? 'dir' : d.isFile() ? 'file' : '?']));
  assert.deepEqual(types, { '.meta': 'dir', dir: 'dir', plain: 'file', striped: 'file', tiny: 'file' });

  const root = statSync(mp);
  assert.ok(root.isDirectory());
  assert.equal(root.mode & 0o7777, 0o755);
  const d = statSync(join(mp, 'dir'));
  assert.deepEqual({ dir: d.isDirectory(), perm: d.mode & 0o7777, uid: d.uid, gid: d.gid }, { dir: true, perm: 0o750, uid: 1000, gid: 1000 });
  const inos = new Set<number>();
  for (const [name, f] of Object.entries(FILES)) {
    const s = statSync(join(mp, name));
    assert.deepEqual({ file: s.isFile(), size: s.size, perm: s.mode & 0o7777, uid: s.uid, gid: s.gid, nlink: s.nlink }, { file: true, size: f.size, perm: f.mode, uid: f.uid, gid: f.gid, nlink: 1 }, name);
    assert.ok(!inos.has(s.ino), `${name}: distinct inode number`);
    inos.add(s.ino);
  }
  const sb = statSync(join(mp, '.meta/.superblock'));
  assert.deepEqual({ size: sb.size, perm: sb.mode & 0o7777, uid: sb.uid }, { size: SUPERBLOCK_SIZE, perm: 0o444, uid: 0 });
  assert.equal(statSync(join(mp, '.meta/.log')).size, m.fx.writer.superblock.logLen);
  assert.equal(errnoOf(() => statSync(join(mp, 'missing'))), 'ENOENT');
});

test('mount: reads at every alignment and across interleaved chunk boundaries equal the device bytes; EOF', async (t) => {
  const m = await mounted(t);
  if (!m) return;
  const [mp] = m.mps as [string];
  let reads = 0;
  for (const name of Object.keys(FILES)) {
    const model = modelFile(m.fx.tp.dev, m.fx.files[name]!);
    assert.ok(readFileSync(join(mp, name)).equals(model), `${name}: readFileSync = device bytes`);
    const fd = openSync(join(mp, name), 'r');
    try {
      for (const [off, size] of interestingRanges(model.length)) {
        const buf = Buffer.alloc(size);
        const n = readSync(fd, buf, 0, size, off);
        const want = model.subarray(Math.min(off, model.length), Math.min(off + size, model.length));
        assert.equal(n, want.length, `${name}: read @${off}+${size} length`);
        assert.ok(buf.subarray(0, n).equals(want), `${name}: read @${off}+${size} bytes`);
        reads++;
      }
      const buf = Buffer.alloc(4096);
      assert.equal(readSync(fd, buf, 0, 4096, model.length), 0, `${name}: read at EOF`);
      assert.equal(readSync(fd, buf, 0, 4096, model.length + 12345), 0, `${name}: read after EOF`);
      assert.equal(readSync(fd, buf, 0, 10, model.length - 1), 1, `${name}: read over EOF is short`);
    } finally {
      closeSync(fd);
    }
  }
  t.diagnostic(`${reads} reads compared`);
});

test('mount: writes land at the fmap addresses on the device; past EOF EFBIG; over EOF short; size unchanged', async (t) => {
  const m = await mounted(t);
  if (!m) return;
  const [mp] = m.mps as [string];
  const rng = new Rng(99);
  for (const name of ['striped', 'plain']) {
    const node: FileNode = m.fx.files[name]!;
    const fd = openSync(join(mp, name), 'r+');
    try {
      for (const [off, len] of [
        [0, 1],
        [4095, 3],
        [CHUNK - 1, 2],
        [CHUNK - 5000, 1 << 20],
        [3 * CHUNK - 1, 2 * CHUNK + 7],
        [node.size - 4097, 4097],
      ] as [number, number][]) {
        if (off + len > node.size) continue;
        const data = rng.bytes(len);
        assert.equal(writeSync(fd, data, 0, len, off), len, `${name}: write @${off}+${len}`);
        assert.ok(modelFile(m.fx.tp.dev, node).subarray(off, off + len).equals(data), `${name}: device bytes @${off}+${len}`);
        const back = Buffer.alloc(len);
        assert.equal(readSync(fd, back, 0, len, off), len);
        assert.ok(back.equals(data), `${name}: read back @${off}+${len}`);
      }
      assert.equal(errnoOf(() => writeSync(fd, Buffer.from('x'), 0, 1, node.size)), 'EFBIG', `${name}: write at EOF`);
      assert.equal(errnoOf(() => writeSync(fd, Buffer.from('x'), 0, 1, node.size + 4096)), 'EFBIG', `${name}: write after EOF`);
      const data = rng.bytes(100);
      assert.equal(writeSync(fd, data, 0, 100, node.size - 10), 10, `${name}: a write over EOF stops at EOF`);
      assert.ok(modelFile(m.fx.tp.dev, node).subarray(node.size - 10).equals(data.subarray(0, 10)));
      assert.equal(statSync(join(mp, name)).size, node.size, `${name}: size unchanged`);
    } finally {
      closeSync(fd);
    }
  }
});

test('mount: namespace and size changes fail with EPERM; open(O_TRUNC) of an existing file is allowed and changes nothing', async (t) => {
  const m = await mounted(t);
  if (!m) return;
  const [mp] = m.mps as [string];
  const p = (n: string) => join(mp, n);
  const model = modelFile(m.fx.tp.dev, m.fx.files.plain!);
  const refused: [string, () => unknown][] = [
    ['writeFileSync(new)', () => writeFileSync(p('new'), 'x')],
    ['openSync(new, wx)', () => openSync(p('new2'), 'wx')],
    ['mkdirSync', () => mkdirSync(p('newdir'))],
    ['unlinkSync', () => unlinkSync(p('plain'))],
    ['rmdirSync', () => rmdirSync(p('dir'))],
    ['renameSync', () => renameSync(p('plain'), p('moved'))],
    ['renameSync into dir', () => renameSync(p('plain'), p('dir/plain'))],
    ['linkSync', () => linkSync(p('plain'), p('hard'))],
    ['symlinkSync', () => symlinkSync('plain', p('sym'))],
    ['truncateSync(0)', () => truncateSync(p('plain'), 0)],
    ['truncateSync(+1)', () => truncateSync(p('plain'), FILES.plain.size + 1)],
    ['chmodSync', () => chmodSync(p('plain'), 0o777)],
    ['chownSync', () => chownSync(p('plain'), 5, 5)],
  ];
  const got = Object.fromEntries(refused.map(([name, fn]) => [name, errnoOf(fn)]));
  assert.deepEqual(got, Object.fromEntries(refused.map(([name]) => [name, 'EPERM'])));
  assert.equal(errnoOf(() => openSync(p('.meta/.superblock'), 'r+')), 'EACCES', '.meta files are read-only');

  // Harmless: same-size truncate, times.
  truncateSync(p('plain'), FILES.plain.size);
  utimesSync(p('plain'), new Date(), new Date());

  // O_TRUNC on an existing file (ATOMIC_O_TRUNC): allowed, the size and the bytes stay.
  const fd = openSync(p('plain'), 'w');
  closeSync(fd);
  assert.equal(statSync(p('plain')).size, FILES.plain.size, 'size unchanged after open(O_TRUNC)');
  assert.ok(readFileSync(p('plain')).equals(model), 'content unchanged after open(O_TRUNC)');
  assert.deepEqual(readdirSync(mp).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny'], 'namespace unchanged');
});

test('mount: .meta/.superblock and .meta/.log are the device bytes; statfs matches the pool', async (t) => {
  const m = await mounted(t);
  if (!m) return;
  const [mp] = m.mps as [string];
  const dev = m.fx.tp.dev;
  assert.ok(readFileSync(join(mp, '.meta/.superblock')).equals(dev.map(0, SUPERBLOCK_SIZE)), '.superblock = device [0, 2 MiB)');
  const logLen = m.fx.writer.superblock.logLen;
  assert.ok(readFileSync(join(mp, '.meta/.log')).equals(dev.map(LOG_OFFSET, logLen)), '.log = device [2 MiB, 2 MiB + log)');

  const s = statfsSync(mp);
  const st = m.fx.writer.stats();
  assert.equal(s.blocks * s.bsize, st.deviceSize, 'blocks');
  assert.equal(s.bfree * s.bsize, st.freeBytes, 'bfree');
  assert.equal(s.bavail, s.bfree, 'bavail');
  assert.equal(s.ffree, st.logEntriesFree, 'ffree');
});

const MMAP_PY = `
import mmap, os, sys
path, off, data = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
fd = os.open(path, os.O_RDWR)
size = os.fstat(fd).st_size
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
before = m[off:off + len(data)]
m[off:off + len(data)] = data
m.flush()
after = m[off:off + len(data)]
m.close()
os.close(fd)
print(before.hex())
print(after.hex())
`;

test('mount: mmap(MAP_SHARED) through one mount, msync, the bytes are on the device and read back through another mount', async (t) => {
  const m = await mounted(t, 2);
  if (!m) return;
  const [a, b] = m.mps as [string, string];
  const node = m.fx.files.striped!;
  const rng = new Rng(5);
  for (const [off, len] of [
    [2 * CHUNK - 100, 300], // across a chunk (strip) boundary
    [12345, 4096],
    [node.size - 50, 50], // the last, partial page
  ] as [number, number][]) {
    const before = modelFile(m.fx.tp.dev, node).subarray(off, off + len);
    const data = rng.bytes(len);
    const r = spawnSync('python3', ['-c', MMAP_PY, join(a, 'striped'), String(off), data.toString('hex')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `python mmap failed: ${r.stderr}`);
    const [seen, after] = r.stdout.trim().split('\n');
    assert.equal(seen, before.toString('hex'), `mmap @${off} read the device bytes`);
    assert.equal(after, data.toString('hex'), `mmap @${off} reads its write back`);
    assert.ok(modelFile(m.fx.tp.dev, node).subarray(off, off + len).equals(data), `msync @${off}: bytes on the device`);
    const fd = openSync(join(b, 'striped'), 'r');
    try {
      const buf = Buffer.alloc(len);
      assert.equal(readSync(fd, buf, 0, len, off), len);
      assert.ok(buf.equals(data), `read back @${off} through the other mount`);
    } finally {
      closeSync(fd);
    }
  }
  assert.equal(statSync(join(a, 'striped')).size, node.size, 'mmap did not change the size');
});

test('mount: session.unmount() removes the mount and session.done resolves', async (t) => {
  const m = await mounted(t, 2);
  if (!m) return;
  const [a, b] = m.mps as [string, string];
  const fd = openSync(join(a, 'plain'), 'r');
  closeSync(fd);
  await m.worker.unmount(a);
  assert.deepEqual(mountsAt(a), [], 'mount A is gone from /proc/self/mountinfo');
  assert.deepEqual(readdirSync(a), [], 'A is an empty directory again');
  assert.deepEqual(readdirSync(b).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny'], 'mount B still serves');
  await m.worker.unmount(b);
  assert.deepEqual(mountsAt(b), []);
  assert.deepEqual(m.worker.errors, [], 'the server reported no errors');
});
