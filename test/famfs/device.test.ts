/**
 * The dax device layer (src/famfs/dax) and the famfs_dax native addon, on real files in /dev/shm
 * and, where the machine has them, real /dev/dax devices.
 */
import { scratchDir } from '../helpers/tmpPool.js';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FamfsError,
  GiB,
  MiB,
  createEmulatedDevice,
  devdaxGeometry,
  flushCache,
  invalidateCache,
  isFamfsError,
  openDaxDevice,
  zeroMemory,
} from '../../src/famfs/index.js';
import type { DaxDevice, FamfsErrorCode } from '../../src/famfs/index.js';

/** A scratch directory removed when the test ends. */
function scratch(t: TestContext): string {
  const s = scratchDir();
  t.after(s.cleanup);
  return s.dir;
}

/** A new emulated device file of `size` bytes (sparse), removed with the scratch directory. */
function deviceFile(t: TestContext, size: number, name = 'pool.dax'): string {
  const path = join(scratch(t), name);
  createEmulatedDevice(path, size);
  return path;
}

/** Opens a device that is closed when the test ends (before the scratch directory goes). */
function open(t: TestContext, path: string, writable = true): DaxDevice {
  const dev = openDaxDevice(path, { writable });
  t.after(() => dev.close());
  return dev;
}

function throwsFamfs(fn: () => unknown, code: FamfsErrorCode, what?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FamfsError, `${what ?? ''}: expected a FamfsError, got ${String(e)}`);
    assert.equal(e.code, code, `${what ?? ''}: ${e.message}`);
    return true;
  });
}

function readAt(path: string, position: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    assert.equal(readSync(fd, b, 0, length, position), length);
    return b;
  } finally {
    closeSync(fd);
  }
}

function writeAt(path: string, position: number, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    assert.equal(writeSync(fd, data, 0, data.length, position), data.length);
  } finally {
    closeSync(fd);
  }
}

function pattern(length: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff));
}

function addonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'build', 'Release', 'famfs_dax.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('famfs_dax.node not found above the test directory');
}

/** Tries flock(LOCK_EX | LOCK_NB) on `path` from another process; returns what it got. */
function childTryLock(path: string): boolean {
  const script = `
    const addon = require(process.argv[1]);
    const fd = require('node:fs').openSync(process.argv[2], 'r+');
    process.stdout.write(String(addon.flock(fd, true, false)));
  `;
  const r = spawnSync(process.execPath, ['-e', script, addonPath(), path], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  assert.ok(r.stdout === 'true' || r.stdout === 'false', `child printed ${JSON.stringify(r.stdout)}`);
  return r.stdout === 'true';
}

describe('createEmulatedDevice', () => {
  test('creates a sparse regular file of exactly the size', (t) => {
    const path = join(scratch(t), 'a.dax');
    createEmulatedDevice(path, 64 * MiB);
    const st = statSync(path);
    assert.ok(st.isFile());
    assert.equal(st.size, 64 * MiB);
    assert.ok(st.blocks * 512 < MiB, `expected a sparse file, ${st.blocks} blocks allocated`);
  });

  test('size must be a positive multiple of 2 MiB', (t) => {
    const dir = scratch(t);
    for (const size of [0, -2 * MiB, MiB, 2 * MiB + 4096, 3 * MiB, 2.5 * 2 * MiB, Number.NaN, Number.POSITIVE_INFINITY]) {
      const path = join(dir, `bad-${size}.dax`);
      throwsFamfs(() => createEmulatedDevice(path, size), 'INVALID', `size ${size}`);
      assert.equal(existsSync(path), false, `size ${size}: no file left behind`);
    }
  });

  test('grows an existing file keeping its contents; the same size is a no-op', (t) => {
    const path = join(scratch(t), 'g.dax');
    createEmulatedDevice(path, 2 * MiB);
    writeAt(path, 100, Buffer.from('keep me'));
    createEmulatedDevice(path, 2 * MiB);
    assert.equal(statSync(path).size, 2 * MiB);
    createEmulatedDevice(path, 8 * MiB);
    assert.equal(statSync(path).size, 8 * MiB);
    assert.equal(readAt(path, 100, 7).toString(), 'keep me');
  });

  test('refuses to shrink', (t) => {
    const path = join(scratch(t), 's.dax');
    createEmulatedDevice(path, 6 * MiB);
    throwsFamfs(() => createEmulatedDevice(path, 4 * MiB), 'INVALID');
    assert.equal(statSync(path).size, 6 * MiB);
  });

  test('refuses a path that is not a regular file', (t) => {
    const dir = join(scratch(t), 'a-directory');
    mkdirSync(dir);
    throwsFamfs(() => createEmulatedDevice(dir, 2 * MiB), 'INVALID', 'directory');
    throwsFamfs(() => createEmulatedDevice('/dev/null', 2 * MiB), 'INVALID', 'character device');
  });
});

describe('openDaxDevice on an emulated device', () => {
  test('kind, size, path, writable', (t) => {
    const path = deviceFile(t, 32 * MiB);
    const dev = open(t, path);
    assert.equal(dev.kind, 'emulated');
    assert.equal(dev.size, 32 * MiB);
    assert.equal(dev.path, path);
    assert.equal(dev.writable, true);
    const ro = open(t, path, false);
    assert.equal(ro.writable, false);
    assert.equal(ro.size, 32 * MiB);
  });

  test('refuses a missing path, an empty file, a directory and a non-dax character device', (t) => {
    const dir = scratch(t);
    throwsFamfs(() => openDaxDevice(join(dir, 'missing.dax')), 'DEVICE', 'missing');
    writeFileSync(join(dir, 'empty.dax'), '');
    throwsFamfs(() => openDaxDevice(join(dir, 'empty.dax')), 'DEVICE', 'empty');
    throwsFamfs(() => openDaxDevice(dir), 'DEVICE', 'directory');
    throwsFamfs(() => openDaxDevice('/dev/null', { writable: false }), 'DEVICE', '/dev/null has no dax sysfs entry');
  });

  test('map() aliases the file: writes through the map are in the file, and file writes show in the map', (t) => {
    const path = deviceFile(t, 4 * MiB);
    const dev = open(t, path);
    const view = dev.map(MiB + 3, 1000);
    assert.equal(view.length, 1000);
    const p = pattern(1000, 7);
    p.copy(view);
    assert.deepEqual(readAt(path, MiB + 3, 1000), p);
    assert.deepEqual(readFileSync(path).subarray(MiB + 3, MiB + 1003), p);

    const q = pattern(500, 99);
    writeAt(path, MiB + 200, q);
    assert.deepEqual(view.subarray(197, 697), q);
    assert.deepEqual(dev.map(MiB + 200, 500), q, 'a second map of the same range sees it too');
  });

  test('a read-only device maps the same bytes', (t) => {
    const path = deviceFile(t, 2 * MiB);
    writeAt(path, 4096, Buffer.from('read me'));
    const ro = open(t, path, false);
    assert.equal(ro.map(4096, 7).toString(), 'read me');
  });

  test('two devices opened on the same file share memory', (t) => {
    const path = deviceFile(t, 8 * MiB);
    const a = open(t, path);
    const b = open(t, path);
    const va = a.map(6 * MiB, 4096);
    const vb = b.map(6 * MiB, 4096);
    va.write('from a', 10);
    assert.equal(vb.toString('utf8', 10, 16), 'from a');
    vb.write('from b', 2000);
    assert.equal(va.toString('utf8', 2000, 2006), 'from b');
  });

  test('ranges crossing the 1 GiB window boundaries map correctly (sparse 2 GiB + 4 MiB file)', (t) => {
    const size = 2 * GiB + 4 * MiB;
    const path = deviceFile(t, size);
    const dev = open(t, path);
    assert.equal(dev.size, size);

    // Across the first boundary: write through a crossing map, read back via fs and via the windows.
    const cross = dev.map(GiB - 8, 16);
    assert.equal(cross.length, 16);
    const p = pattern(16, 1);
    p.copy(cross);
    assert.deepEqual(readAt(path, GiB - 8, 16), p);
    assert.deepEqual(dev.map(GiB - 8, 8), p.subarray(0, 8), 'window 0 sees the crossing write');
    assert.deepEqual(dev.map(GiB, 8), p.subarray(8), 'window 1 sees the crossing write');

    // Across the second boundary, written via fs and read through the map.
    const q = pattern(6, 200);
    writeAt(path, 2 * GiB - 3, q);
    assert.deepEqual(dev.map(2 * GiB - 3, 6), q);

    // A large crossing range, writes through a window view show in the crossing view.
    const big = dev.map(GiB - 2 * MiB, 4 * MiB);
    assert.equal(big.length, 4 * MiB);
    dev.map(GiB + MiB, 4).write('abcd');
    assert.equal(big.toString('utf8', 3 * MiB, 3 * MiB + 4), 'abcd');

    // The last, partial window.
    const tail = dev.map(size - 16, 16);
    tail.fill(0x5a);
    assert.deepEqual(readAt(path, size - 16, 16), Buffer.alloc(16, 0x5a));
    assert.equal(dev.map(0, size).length, size, 'a whole-device map of more than 2 GiB');
    assert.ok(statSync(path).blocks * 512 < 64 * MiB, 'only a few pages were touched');
  });

  test('out-of-range maps throw FamfsError INVALID', (t) => {
    const path = deviceFile(t, 4 * MiB);
    const dev = open(t, path);
    const size = 4 * MiB;
    for (const [off, len] of [
      [-1, 1],
      [0, size + 1],
      [size, 1],
      [size - 1, 2],
      [0, -1],
      [1.5, 1],
      [0, 0.5],
      [Number.NaN, 1],
      [0, Number.POSITIVE_INFINITY],
    ]) {
      throwsFamfs(() => dev.map(off!, len!), 'INVALID', `map(${off}, ${len})`);
    }
    assert.equal(dev.map(size - 1, 1).length, 1);
    assert.equal(dev.map(0, 0).length, 0);
    assert.equal(dev.map(size, 0).length, 0);
  });

  test('an empty range at the very end of a device whose size is a multiple of 1 GiB is an empty Buffer', (t) => {
    const path = deviceFile(t, GiB);
    const dev = open(t, path);
    assert.equal(dev.map(GiB - 1, 1).length, 1);
    assert.equal(dev.map(GiB, 0).length, 0);
  });

  test('close(): map throws afterwards, earlier views are detached (length 0), close is idempotent', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const dev = openDaxDevice(path);
    const view = dev.map(0, 4096);
    const crossing = dev.map(4096, 8192);
    view[0] = 1;
    dev.close();
    assert.throws(() => dev.map(0, 4096), (e: unknown) => isFamfsError(e));
    assert.equal(view.length, 0, 'a view of an unmapped window must not reach the memory any more');
    assert.equal(crossing.length, 0);
    dev.close();
    assert.equal(readAt(path, 0, 1)[0], 1, 'writes made before close are in the file');
  });
});

describe('cache maintenance and zero-fill on mapped memory', () => {
  test('zeroMemory zeroes exactly the range, for unaligned starts and ends', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const dev = open(t, path);
    const base = 8192 + 3; // an unaligned view start, so the view's byteOffset is odd too
    const view = dev.map(base, 8192);
    const cases: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 1],
      [3, 13],
      [15, 17],
      [16, 16],
      [5, 64],
      [7, 200],
      [13, 77],
      [63, 130],
      [61, 3],
      [100, 4000],
      [4093, 6],
      [1, 8190],
      [0, 8192],
    ];
    for (const [off, len] of cases) {
      view.fill(0xa5);
      zeroMemory(view, off, len);
      const file = readAt(path, base, 8192);
      for (let i = 0; i < 8192; i++) {
        const want = i >= off && i < off + len ? 0 : 0xa5;
        if (file[i] !== want) assert.fail(`zeroMemory(view, ${off}, ${len}): byte ${i} is 0x${file[i]!.toString(16)}, expected 0x${want.toString(16)}`);
      }
    }
    // Defaults: the whole view, and from an offset to the end.
    view.fill(0xa5);
    zeroMemory(view.subarray(10, 20));
    assert.deepEqual([...view.subarray(8, 22)], [0xa5, 0xa5, ...Array(10).fill(0), 0xa5, 0xa5]);
    view.fill(0xa5);
    zeroMemory(view, 8000);
    assert.ok(view.subarray(8000).every((b) => b === 0));
    assert.equal(view[7999], 0xa5);
  });

  test('zeroMemory also works on an ordinary heap Buffer', () => {
    const b = Buffer.alloc(300, 0xff);
    zeroMemory(b, 1, 298);
    assert.equal(b[0], 0xff);
    assert.equal(b[299], 0xff);
    assert.ok(b.subarray(1, 299).every((x) => x === 0));
  });

  test('flushCache and invalidateCache leave the data intact (aligned and unaligned ranges)', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const dev = open(t, path);
    const view = dev.map(4096 + 5, 10000);
    const p = pattern(10000, 42);
    p.copy(view);
    for (const [off, len] of [
      [0, 0],
      [0, 10000],
      [1, 1],
      [63, 2],
      [100, 5000],
      [9999, 1],
    ] as const) {
      flushCache(view, off, len);
      invalidateCache(view, off, len);
    }
    flushCache(view);
    invalidateCache(view);
    assert.deepEqual(view, p);
    assert.deepEqual(readAt(path, 4096 + 5, 10000), p);
  });

  test('the native helpers check their arguments', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const dev = open(t, path);
    const view = dev.map(0, 4096);
    for (const fn of [zeroMemory, flushCache, invalidateCache]) {
      assert.throws(() => fn(view, 10, 4096), RangeError, `${fn.name}: past the end`);
      assert.throws(() => fn(view, -1, 2), RangeError, `${fn.name}: negative offset`);
      assert.throws(() => fn(view, 0, -1), RangeError, `${fn.name}: negative length`);
      assert.throws(() => fn(new Uint16Array(8) as unknown as Uint8Array, 0, 2), TypeError, `${fn.name}: not a Uint8Array`);
    }
  });
});

describe('writer lock (flock)', () => {
  test('a second device on the same file, and another process, cannot lock while the first holds it', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const a = open(t, path);
    const b = open(t, path);
    assert.equal(a.tryLock(), true);
    assert.equal(a.tryLock(), true, 'relocking through the same open file succeeds');
    assert.equal(b.tryLock(), false, 'flock is per open file description');
    assert.equal(childTryLock(path), false, 'another process cannot take it');
    a.unlock();
    assert.equal(b.tryLock(), true, 'free after unlock');
    assert.equal(a.tryLock(), false);
    assert.equal(childTryLock(path), false);
    b.unlock();
    assert.equal(childTryLock(path), true, 'free for another process once unlocked');
    assert.equal(a.tryLock(), true, 'the child exited, releasing its lock');
    a.unlock();
  });

  test('closing a device releases its lock', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const a = openDaxDevice(path);
    const b = open(t, path);
    try {
      assert.equal(a.tryLock(), true);
      assert.equal(b.tryLock(), false);
    } finally {
      a.close();
    }
    assert.equal(b.tryLock(), true);
    b.unlock();
  });

  test('a read-only device can take the lock too', (t) => {
    const path = deviceFile(t, 2 * MiB);
    const ro = open(t, path, false);
    assert.equal(ro.tryLock(), true);
    assert.equal(childTryLock(path), false);
    ro.unlock();
  });
});

describe('devdaxGeometry (fake sysfs root)', () => {
  /** glibc makedev(). */
  function makedev(major: number, minor: number): number {
    const M = BigInt(major);
    const m = BigInt(minor);
    return Number(((M & 0xfffn) << 8n) | ((M & ~0xfffn) << 32n) | (m & 0xffn) | ((m & ~0xffn) << 12n));
  }
  function fakeSysfs(t: TestContext, major: number, minor: number, files: Record<string, string>): string {
    const root = scratch(t);
    const dir = join(root, 'dev', 'char', `${major}:${minor}`);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return root;
  }

  test('reads size and align of the device named by rdev', (t) => {
    const root = fakeSysfs(t, 252, 3, { size: '17179869184\n', align: '2097152\n' });
    assert.deepEqual(devdaxGeometry(makedev(252, 3), root), { size: 16 * GiB, align: 2 * MiB });
  });

  test('a 1 GiB align is kept; a missing or smaller align becomes 2 MiB', (t) => {
    const r1 = fakeSysfs(t, 252, 0, { size: '4294967296\n', align: '1073741824\n' });
    assert.deepEqual(devdaxGeometry(makedev(252, 0), r1), { size: 4 * GiB, align: GiB });
    const r2 = fakeSysfs(t, 252, 1, { size: '4294967296\n' });
    assert.deepEqual(devdaxGeometry(makedev(252, 1), r2), { size: 4 * GiB, align: 2 * MiB });
    const r3 = fakeSysfs(t, 252, 2, { size: '4294967296\n', align: '4096\n' });
    assert.equal(devdaxGeometry(makedev(252, 2), r3).align, 2 * MiB);
  });

  test('minors above 255 and majors above 255 use the glibc dev_t encoding (kernel range: 12-bit major, 20-bit minor)', (t) => {
    const root = fakeSysfs(t, 511, 70000, { size: '8589934592\n', align: '2097152\n' });
    assert.deepEqual(devdaxGeometry(makedev(511, 70000), root), { size: 8 * GiB, align: 2 * MiB });
    const root2 = fakeSysfs(t, 4095, 0xfffff, { size: '2097152\n' });
    assert.deepEqual(devdaxGeometry(makedev(4095, 0xfffff), root2), { size: 2 * MiB, align: 2 * MiB });
  });

  test("agrees with the kernel's rdev for a real character device (/dev/null is 1:3)", (t) => {
    const root = fakeSysfs(t, 1, 3, { size: '2097152\n' });
    assert.deepEqual(devdaxGeometry(statSync('/dev/null').rdev, root), { size: 2 * MiB, align: 2 * MiB });
  });

  test('a missing size file is a DEVICE error', (t) => {
    const root = fakeSysfs(t, 252, 9, { align: '2097152\n' });
    throwsFamfs(() => devdaxGeometry(makedev(252, 9), root), 'DEVICE');
    throwsFamfs(() => devdaxGeometry(makedev(252, 10), root), 'DEVICE', 'no sysfs directory');
  });
});

describe('real /dev/dax devices', () => {
  test('every /dev/dax* present opens read-only with a size and maps its first page', (t) => {
    let names: string[] = [];
    try {
      names = readdirSync('/dev').filter((n) => n.startsWith('dax') && statSync(join('/dev', n)).isCharacterDevice());
    } catch {
      names = [];
    }
    if (names.length === 0) {
      t.skip('no /dev/dax device on this machine');
      return;
    }
    for (const name of names) {
      const dev = openDaxDevice(join('/dev', name), { writable: false });
      try {
        assert.equal(dev.kind, 'devdax', name);
        assert.ok(dev.size > 0, `${name}: size ${dev.size}`);
        const page = dev.map(0, 4096);
        assert.equal(page.length, 4096);
        assert.equal(typeof page[0], 'number');
        assert.equal(typeof page[4095], 'number');
      } finally {
        dev.close();
      }
    }
  });
});

test('views() cuts a range at the 1 GiB mapping windows and never makes a mapping of its own', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  const path = join(s.dir, 'big.dax');
  createEmulatedDevice(path, 2 * 1024 * MiB + 4 * MiB);
  const dev = openDaxDevice(path);
  t.after(() => dev.close());
  const before = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(path)).length;
  for (let i = 0; i < 200; i++) {
    const parts = dev.views(1024 * MiB - 4096, 8192);
    assert.deepEqual(parts.map((b) => b.length), [4096, 4096]);
  }
  const after = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes(path)).length;
  assert.ok(after - before <= 2, `views() added ${after - before} mappings (at most the two windows)`);
  const [a, b] = dev.views(1024 * MiB - 2, 4);
  a!.write('ab', 0);
  b!.write('cd', 0);
  assert.equal(dev.map(1024 * MiB - 2, 4).toString(), 'abcd', 'the pieces alias the device in order');
});
