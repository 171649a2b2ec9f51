/**
 * The device probe error source (src/famfs/health/deviceProbe.ts) and the SIGBUS-guarded
 * probeRead of the famfs_dax addon, on real files in /dev/shm: a device file deleted, resized, or
 * truncated under a live mapping (which raises a real SIGBUS on the next access).
 */
import { scratchDir } from '../helpers/tmpPool.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as tick } from 'node:timers/promises';
import { MiB, createEmulatedDevice, openDaxDevice } from '../../src/famfs/index.js';
import type { DaxDevice } from '../../src/famfs/index.js';
import { addon, probeRead } from '../../src/famfs/dax/native.js';
import { DEFAULT_PROBE_BYTES, DeviceProbeSource, errnoOf } from '../../src/famfs/health/deviceProbe.js';
import type { DeviceProbeOptions } from '../../src/famfs/health/deviceProbe.js';
import type { MemoryError } from '../../src/famfs/health/memoryError.js';

let dir = '';
let cleanup = (): void => {};
let counter = 0;
const opened: DaxDevice[] = [];

before(() => {
  ({ dir, cleanup } = scratchDir('famfs-csi-probe-'));
});

after(() => {
  for (const d of opened) d.close();
  cleanup();
});

/** A fresh path in the scratch directory. */
function fresh(name = 'pool'): string {
  return join(dir, `${name}-${++counter}.dax`);
}

/** A new (sparse) emulated device file of `size` bytes. */
function deviceFile(size: number, name?: string): string {
  const path = fresh(name);
  createEmulatedDevice(path, size);
  return path;
}

/** Maps the whole emulated file writable and fills it with a pattern so every page is resident. */
function mapFilled(path: string): Buffer {
  const dev = openDaxDevice(path);
  opened.push(dev);
  const view = dev.map(0, dev.size);
  for (let i = 0; i < view.length; i += 4096) view[i] = (i / 4096) & 0xff;
  return view;
}

/** A clock the test moves by hand. */
function clock(start = '2026-11-26T10:00:00.000Z'): { now: () => Date; advance: (ms?: number) => void; iso: () => string } {
  let t = Date.parse(start);
  return { now: () => new Date(t), advance: (ms = 2000) => void (t += ms), iso: () => new Date(t).toISOString() };
}

function source(opts: Partial<DeviceProbeOptions> & { device: string }): { src: DeviceProbeSource; problems: string[] } {
  const problems: string[] = [];
  const src = new DeviceProbeSource({ onProblem: (m) => problems.push(m), node: 'test-node', ...opts });
  return { src, problems };
}

function only(errors: MemoryError[]): MemoryError {
  assert.equal(errors.length, 1, `expected one error, got ${JSON.stringify(errors)}`);
  return errors[0]!;
}

function addonPath(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(d, 'build', 'Release', 'famfs_dax.node');
    if (existsSync(candidate)) return candidate;
    d = dirname(d);
  }
  throw new Error('famfs_dax.node not found above the test directory');
}

/** Runs a CommonJS script in a child node (no core dump) with the addon and a device file path as arguments. */
function child(script: string, path: string): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -c 0; exec "$0" -e "$1" "$2" "$3"', process.execPath, script, addonPath(), path], {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: dir,
  });
  return r as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
}

describe('probeRead (native, SIGBUS-guarded)', () => {
  test('a healthy mapping reads fine: -1', () => {
    const view = mapFilled(deviceFile(8 * MiB));
    assert.equal(probeRead(view), -1);
    assert.equal(probeRead(view, 0, view.length, 4096), -1);
    assert.equal(probeRead(view, 12345, 1000, 1), -1);
    assert.equal(probeRead(view, 0, 0, 4096), -1, 'an empty range reads nothing');
    assert.equal(addon.probeRead(view, 0, view.length, view.length), -1);
  });

  test('rejects bad arguments', () => {
    const view = mapFilled(deviceFile(2 * MiB));
    assert.throws(() => probeRead(view, 0, 10, 0), RangeError);
    assert.throws(() => probeRead(view, 0, 10, -4096), RangeError);
    assert.throws(() => probeRead(view, 2 * MiB - 10, 11, 1), RangeError);
    assert.throws(() => probeRead(view, -1, 10, 1), RangeError);
    assert.throws(() => addon.probeRead(new Uint16Array(8) as unknown as Uint8Array, 0, 1, 1), TypeError);
  });

  test('a file truncated under its mapping: the faulting offset instead of a crash, and the process carries on', async () => {
    const path = deviceFile(8 * MiB);
    const view = mapFilled(path);
    assert.equal(probeRead(view), -1);

    truncateSync(path, 4 * MiB);
    assert.equal(probeRead(view), 4 * MiB, 'first page past the new end of file');
    assert.equal(probeRead(view, 0, 4 * MiB), -1, 'the part still backed by the file reads fine');
    assert.equal(probeRead(view, 1000, view.length - 1000, 4096), 1000 + 1024 * 4096, 'offset is relative to the view, at the exact byte read');
    assert.equal(probeRead(view.subarray(MiB), 0, 7 * MiB), 3 * MiB, 'relative to the view it was given');
    assert.equal(view[4 * MiB - 4096], ((4 * MiB - 4096) / 4096) & 0xff, 'bytes before the cut keep their contents');

    truncateSync(path, 8 * MiB - 4096);
    assert.equal(probeRead(view, 0, view.length, view.length), view.length - 1, 'the last byte is always read');
    assert.equal(probeRead(view, 0, view.length, 4096), 8 * MiB - 4096);

    truncateSync(path, 0);
    assert.equal(probeRead(view), 0, 'truncated to 0: the very first byte faults');
    for (let i = 0; i < 200; i++) assert.equal(probeRead(view, i * 4096, 4096, 512), i * 4096);

    // The process is fine: JS, the event loop, fs, the addon and other mappings all still work.
    await tick();
    const other = mapFilled(deviceFile(2 * MiB));
    other.write('still alive', 100);
    assert.equal(other.toString('utf8', 100, 111), 'still alive');
    assert.equal(probeRead(other), -1);
    assert.equal(addon.crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
    const note = join(dir, 'note.txt');
    writeFileSync(note, JSON.stringify({ ok: true }));
    assert.deepEqual(JSON.parse(readFileSync(note, 'utf8')), { ok: true });

    // The file grows back: the old mapping reads again (zeros, the contents were truncated away).
    truncateSync(path, 8 * MiB);
    assert.equal(probeRead(view), -1);
    assert.equal(view[5 * MiB], 0);
    view[5 * MiB] = 7;
    assert.equal(view[5 * MiB], 7);
  });

  test('a SIGBUS outside a probe still kills the process (the guard chains to the default action)', () => {
    const path = deviceFile(2 * MiB);
    const script = `
      const addon = require(process.argv[1]);
      const fs = require('node:fs');
      const fd = fs.openSync(process.argv[2], 'r+');
      const view = new Uint8Array(addon.mmap(fd, 0, 2 * 1024 * 1024, true));
      view[0] = 1;
      if (addon.probeRead(view, 0, view.length, 4096) !== -1) process.exit(3);
      fs.ftruncateSync(fd, 0);
      process.stdout.write('caught ' + addon.probeRead(view, 0, view.length, 4096) + '\\n');
      process.stdout.write('touching\\n');
      const b = view[4096];
      process.stdout.write('survived ' + b + '\\n');
      process.exit(0);
    `;
    const r = child(script, path);
    assert.equal(r.stdout, 'caught 0\ntouching\n', `child stderr: ${r.stderr}`);
    assert.equal(r.signal, 'SIGBUS', `child exited with status ${r.status}, signal ${r.signal}`);
  });

  test('a SIGBUS sent to the process (not a fault) also keeps its default action', () => {
    const path = deviceFile(2 * MiB);
    const script = `
      const addon = require(process.argv[1]);
      const fd = require('node:fs').openSync(process.argv[2], 'r');
      const view = new Uint8Array(addon.mmap(fd, 0, 4096, false));
      process.stdout.write('probe ' + addon.probeRead(view, 0, view.length, 4096) + '\\n');
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => { process.stdout.write('survived\\n'); process.exit(0); }, 2000);
    `;
    const r = child(script, path);
    assert.equal(r.stdout, 'probe -1\n', `child stderr: ${r.stderr}`);
    assert.equal(r.signal, 'SIGBUS', `child exited with status ${r.status}, signal ${r.signal}`);
  });
});

describe('DeviceProbeSource', () => {
  test('a healthy emulated device: no errors, poll after poll', () => {
    const path = deviceFile(8 * MiB);
    const { src, problems } = source({ device: path });
    assert.equal(src.name, 'probe');
    for (let i = 0; i < 5; i++) assert.deepEqual(src.poll(), []);
    assert.deepEqual(problems, []);
    const withSize = source({ device: path, expectedSize: 8 * MiB });
    assert.deepEqual(withSize.src.poll(), []);
  });

  test('deleted → offline (disappeared); recreated with another size → offline (reconfigured); back → healthy', () => {
    const path = deviceFile(8 * MiB);
    const c = clock();
    const { src, problems } = source({ device: path, now: c.now });
    assert.deepEqual(src.poll(), []);

    unlinkSync(path);
    c.advance();
    const gone = only(src.poll());
    const goneAt = c.iso();
    assert.deepEqual(
      { ...gone, detail: undefined },
      { device: path, range: null, kind: 'offline', firstSeen: goneAt, source: 'probe', detail: undefined, node: 'test-node' },
    );
    assert.match(gone.detail!, /device disappeared/);
    assert.ok(gone.detail!.includes('ENOENT') && gone.detail!.includes(path), gone.detail);
    c.advance();
    assert.equal(only(src.poll()).firstSeen, goneAt, 'firstSeen stays while the device stays gone');

    createEmulatedDevice(path, 4 * MiB);
    c.advance();
    const resized = only(src.poll());
    assert.equal(resized.kind, 'offline');
    assert.equal(resized.range, null);
    assert.equal(resized.detail, `device reconfigured: size ${8 * MiB} → ${4 * MiB}`);
    assert.equal(resized.firstSeen, c.iso(), 'a new condition, a new firstSeen');
    const resizedAt = c.iso();
    c.advance();
    assert.equal(only(src.poll()).firstSeen, resizedAt);

    unlinkSync(path);
    createEmulatedDevice(path, 8 * MiB);
    c.advance();
    assert.deepEqual(src.poll(), [], 'the original size again: healthy');

    unlinkSync(path);
    c.advance();
    assert.equal(only(src.poll()).firstSeen, c.iso(), 'firstSeen reset once the condition had cleared');
    assert.deepEqual(problems, []);
  });

  test('a device this host never had is no error (reported once as a problem) until it appears; with expectedSize a missing device is offline; a size other than expectedSize is reconfigured', () => {
    const absent = fresh('absent');
    const n = source({ device: absent });
    assert.deepEqual(n.src.poll(), []);
    assert.deepEqual(n.src.poll(), []);
    assert.equal(n.problems.length, 1);
    assert.match(n.problems[0]!, /is not present on this host/);
    writeFileSync(absent, Buffer.alloc(4 * MiB));
    assert.deepEqual(n.src.poll(), []);
    unlinkSync(absent);
    assert.equal(only(n.src.poll()).kind, 'offline', 'once seen, a missing device is offline');

    const missing = fresh('missing');
    const a = source({ device: missing, expectedSize: 8 * MiB });
    const e = only(a.src.poll());
    assert.equal(e.kind, 'offline');
    assert.match(e.detail!, /^device disappeared: .*ENOENT/);

    const path = deviceFile(8 * MiB);
    const b = source({ device: path, expectedSize: 16 * MiB });
    const r = only(b.src.poll());
    assert.equal(r.kind, 'offline');
    assert.equal(r.detail, `device reconfigured: size ${16 * MiB} → ${8 * MiB}`);

    const emptied = deviceFile(2 * MiB);
    const c = source({ device: emptied });
    assert.deepEqual(c.src.poll(), []);
    truncateSync(emptied, 0);
    const z = only(c.src.poll());
    assert.equal(z.kind, 'offline');
    assert.match(z.detail!, new RegExp(`^device reconfigured: size ${2 * MiB} → 0`));
    assert.deepEqual([a.problems, b.problems, c.problems], [[], [], []]);
  });

  test('a SIGBUS while probing → unreadable naming the byte (a real fault: the file is cut mid-poll)', () => {
    const path = deviceFile(8 * MiB);
    const c = clock();
    let cutTo: number | undefined;
    const { src, problems } = source({
      device: path,
      now: c.now,
      probe: (view) => {
        if (cutTo === undefined) return probeRead(view, 0, view.length, 4096);
        truncateSync(path, cutTo);
        try {
          return probeRead(view, 0, view.length, 4096);
        } finally {
          truncateSync(path, 8 * MiB); // back to its size, so only the probe saw the damage
        }
      },
    });
    assert.deepEqual(src.poll(), []);

    cutTo = MiB;
    c.advance();
    const e = only(src.poll());
    assert.deepEqual(e, { device: path, range: null, kind: 'unreadable', firstSeen: c.iso(), source: 'probe', detail: `SIGBUS reading byte ${MiB}`, node: 'test-node' });
    const firstAt = c.iso();

    cutTo = 64 * 1024;
    c.advance();
    const again = only(src.poll());
    assert.equal(again.detail, `SIGBUS reading byte ${64 * 1024}`, 'the detail follows the fault');
    assert.equal(again.firstSeen, firstAt, 'firstSeen stays while the device stays unreadable');

    cutTo = undefined;
    c.advance();
    assert.deepEqual(src.poll(), [], 'readable again: cleared');
    assert.deepEqual(problems, []);
  });

  test('probes min(probeBytes, size) bytes at the start of the device', () => {
    const seen: number[] = [];
    const probe = (view: Uint8Array): number => {
      seen.push(view.length);
      return probeRead(view, 0, view.length, 4096);
    };
    const big = deviceFile(8 * MiB);
    source({ device: big, probe }).src.poll();
    source({ device: big, probe, probeBytes: 64 * 1024 }).src.poll();
    source({ device: deviceFile(2 * MiB), probe, probeBytes: 4 * MiB }).src.poll();
    assert.deepEqual(seen, [DEFAULT_PROBE_BYTES, 64 * 1024, 2 * MiB]);
    assert.equal(DEFAULT_PROBE_BYTES, 2 * MiB);
  });

  test('never throws: odd paths and failing probes are reported, not thrown', () => {
    const notDevice = join(dir, `a-directory-${++counter}`);
    mkdirSync(notDevice);
    const d = source({ device: notDevice });
    const e = only(d.src.poll());
    assert.equal(e.kind, 'offline');
    assert.match(e.detail!, /no longer a dax device/);

    // /dev/null is a character device without dax sysfs geometry: a problem, not a verdict.
    const n = source({ device: '/dev/null' });
    assert.deepEqual(n.src.poll(), []);
    assert.equal(n.problems.length, 1);
    assert.match(n.problems[0]!, /\/dev\/null/);

    // A probe that blows up keeps the last answer.
    const path = deviceFile(2 * MiB);
    let fail = false;
    const f = source({
      device: path,
      probe: (view) => {
        if (fail) throw new Error('probe exploded');
        return probeRead(view, 0, view.length, 4096);
      },
    });
    assert.deepEqual(f.src.poll(), []);
    fail = true;
    assert.deepEqual(f.src.poll(), []);
    assert.equal(f.problems.length, 1);
    assert.match(f.problems[0]!, /probe exploded/);

    const throwing = new DeviceProbeSource({ device: '/dev/null', onProblem: () => { throw new Error('callback'); } });
    assert.deepEqual(throwing.poll(), []);
  });

  test('errnoOf reads the errno of fs errors and of wrapped device errors', () => {
    assert.equal(errnoOf(Object.assign(new Error('x'), { code: 'ENXIO' })), 'ENXIO');
    assert.equal(errnoOf(new Error("cannot open dax device /dev/dax0.0: ENODEV: no such device, open '/dev/dax0.0'")), 'ENODEV');
    assert.equal(errnoOf(new Error('cannot map 2097152 bytes at offset 0 of /dev/dax0.0: mmap: No such device or address')), 'ENXIO');
    assert.equal(errnoOf(new Error('cannot map 4096 bytes at offset 0 of /x: mmap: Input/output error')), 'EIO');
    assert.equal(errnoOf(new Error('something else')), undefined);
  });
});
