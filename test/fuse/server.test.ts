/**
 * The `famfs-csi mount` server process. Two servers on one pool file at two mount points stand
 * for two nodes sharing the memory: files the pool's writer creates and deletes after both are
 * up, bytes written through one mount read through the other, SIGTERM (unmount, exit 0),
 * SIGKILL (a dead mount that the next server cleans up), and a second server refused on a mount
 * point that is already served.
 *
 * Needs root and /dev/fuse: skipped otherwise, failed in CI (CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MiB } from '../../src/famfs/index.js';
import { isDeadMount } from '../../src/fuse/session.js';
import { CHUNK, FILES, fixture, modelFile } from '../helpers/famfsModel.js';
import type { Fixture } from '../helpers/famfsModel.js';
import { MountServer, cleanupStack, forceUnmount, mountsAt, privileged, waitFor } from '../helpers/fuseMount.js';
import { Rng } from '../helpers/fuseMessages.js';
import { scratchDir } from '../helpers/tmpPool.js';
import { errnoOf } from '../helpers/errno.js';

type T = Parameters<typeof privileged>[0];

interface Setup {
  fx: Fixture;
  defer: (fn: () => unknown) => void;
  mp: (name: string) => string;
}

async function setup(t: T): Promise<Setup | undefined> {
  if (!privileged(t)) return undefined;
  const defer = cleanupStack(t); // registered before the pool's cleanup, so it runs first
  const fx = await fixture(t);
  const scratch = scratchDir('famfs-csi-srv-');
  const made: string[] = [];
  defer(() => {
    if (made.every((p) => mountsAt(p).length === 0)) scratch.cleanup(); // never recurse into a live mount
  });
  // Whatever happens (a killed server, a failed assertion), no mount of ours survives the test.
  defer(() => made.forEach(forceUnmount));
  const mp = (name: string) => {
    const p = join(scratch.dir, name);
    mkdirSync(p, { recursive: true });
    made.push(p);
    return p;
  };
  return { fx, defer, mp };
}


async function stop(s: MountServer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  s.proc.kill(signal);
  const exit = await s.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, `exit after ${signal}; output:\n${s.stderr.slice(-3000)}`);
  assert.deepEqual(mountsAt(s.mountpoint), [], `${s.mountpoint} unmounted after ${signal}`);
  assert.ok(
    s.logs().some((l) => l.message === 'unmounted'),
    'logged "unmounted"',
  );
}

function readAt(path: string, off: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, off);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

test('two servers on one pool: new files appear on both, writes through A read exactly through B, deletes disappear from both', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { fx, defer } = s;
  const [a, b] = await Promise.all([MountServer.start(defer, fx.tp.path, s.mp('a')), MountServer.start(defer, fx.tp.path, s.mp('b'))]);
  const A = (n: string) => join(a.mountpoint, n);
  const B = (n: string) => join(b.mountpoint, n);
  const base = ['.meta', 'dir', 'plain', 'striped', 'tiny'];
  assert.deepEqual(readdirSync(a.mountpoint).sort(), base);
  assert.deepEqual(readdirSync(b.mountpoint).sort(), base);

  // Created by the pool's writer after both servers are up.
  const late = await fx.writer.createFile('late', 5 * MiB + 3, { uid: 7, gid: 8, mode: 0o660 });
  await fx.writer.mkdir('newdir');
  for (const mp of [a.mountpoint, b.mountpoint]) {
    assert.deepEqual(readdirSync(mp).sort(), [...base, 'late', 'newdir'].sort(), `ls ${mp}`);
    const st = statSync(join(mp, 'late'));
    assert.deepEqual({ size: st.size, uid: st.uid, gid: st.gid, perm: st.mode & 0o7777 }, { size: 5 * MiB + 3, uid: 7, gid: 8, perm: 0o660 }, `stat ${mp}/late`);
    assert.ok(readAt(join(mp, 'late'), 0, 5 * MiB + 3).equals(Buffer.alloc(5 * MiB + 3)), `${mp}/late reads zeros`);
  }

  // Bytes written through A are read through B at once, and are where the fmap says on the device.
  const rng = new Rng(11);
  for (const [name, off, len] of [
    ['striped', 0, 1],
    ['striped', CHUNK - 3, 7],
    ['striped', 5 * CHUNK - 4096, 3 * CHUNK],
    ['striped', FILES.striped.size - 1, 1],
    ['late', 4095, 4097],
    ['late', 5 * MiB - 10, 13],
  ] as [string, number, number][]) {
    const data = rng.bytes(len);
    const fd = openSync(A(name), 'r+');
    try {
      assert.equal(writeSync(fd, data, 0, len, off), len, `write A/${name} @${off}+${len}`);
    } finally {
      closeSync(fd);
    }
    assert.ok(readAt(B(name), off, len).equals(data), `B/${name} @${off}+${len} reads what A wrote`);
    const node = name === 'late' ? late : fx.files[name]!;
    assert.ok(modelFile(fx.tp.dev, node).subarray(off, off + len).equals(data), `device bytes of ${name} @${off}+${len}`);
  }

  // A delete: gone from both listings at once, ENOENT for stat within the kernel's entry TTL,
  // and a descriptor opened before the tombstone fails its next read.
  const fdB = openSync(B('late'), 'r');
  try {
    assert.equal(readSync(fdB, Buffer.alloc(16), 0, 16, 0), 16);
    await fx.writer.remove('late');
    for (const mp of [a.mountpoint, b.mountpoint]) assert.ok(!readdirSync(mp).includes('late'), `ls ${mp} no longer shows late`);
    for (const path of [A('late'), B('late')]) await waitFor(`stat ${path} → ENOENT`, () => errnoOf(() => statSync(path)) === 'ENOENT', 3000);
    const readErr = await waitFor('a read on the open descriptor fails', () => errnoOf(() => readSync(fdB, Buffer.alloc(16), 0, 16, 0)), 3000);
    t.diagnostic(`read on a descriptor of a deleted file: ${readErr}`);
    assert.equal(readErr, 'ENOENT');
  } finally {
    closeSync(fdB);
  }
  assert.equal(errnoOf(() => openSync(A('late'), 'r')), 'ENOENT');

  await Promise.all([stop(a), stop(b)]);
});

test('SIGKILL leaves a dead mount (ENOTCONN); the next famfs-csi mount cleans it up and serves again', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const mp = s.mp('k');
  const first = await MountServer.start(s.defer, s.fx.tp.path, mp);
  assert.deepEqual(readdirSync(mp).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny']);
  first.proc.kill('SIGKILL');
  assert.deepEqual(await first.exited, { code: null, signal: 'SIGKILL' });
  assert.deepEqual(mountsAt(mp), ['fuse.famfs'], 'the mount outlives its server');
  assert.equal(isDeadMount(mp), true, 'isDeadMount');
  assert.equal(errnoOf(() => statSync(mp)), 'ENOTCONN');

  const second = await MountServer.start(s.defer, s.fx.tp.path, mp);
  assert.ok(
    second.logs().some((l) => l.level === 'warn' && /stale/.test(String(l.message))),
    'the new server says it cleaned a stale mount',
  );
  assert.deepEqual(mountsAt(mp), ['fuse.famfs'], 'exactly one mount: the dead one is gone');
  assert.equal(isDeadMount(mp), false);
  assert.deepEqual(readdirSync(mp).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny']);
  assert.ok(readAt(join(mp, 'striped'), CHUNK - 10, 20).equals(modelFile(s.fx.tp.dev, s.fx.files.striped!).subarray(CHUNK - 10, CHUNK + 10)));
  await stop(second);
});

test('a second famfs-csi mount on a served mount point fails with a message and does not disturb the first; SIGTERM while busy', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const mp = s.mp('d');
  const first = await MountServer.start(s.defer, s.fx.tp.path, mp);
  const fd = openSync(join(mp, 'plain'), 'r'); // a user of the first mount, open throughout
  try {
    const second = await MountServer.start(s.defer, s.fx.tp.path, mp, { waitMounted: false });
    const exit = await second.exited;
    assert.notEqual(exit.code, 0, `the second server must fail; output:\n${second.stderr}`);
    assert.match(second.stderr, /already served/, 'says why');
    assert.ok(second.stderr.includes(mp), 'names the mount point');
    assert.ok(first.running, 'the first server still runs');
    assert.deepEqual(mountsAt(mp), ['fuse.famfs'], 'still exactly one mount');
    assert.deepEqual(readdirSync(mp).sort(), ['.meta', 'dir', 'plain', 'striped', 'tiny']);
    const b = Buffer.alloc(100);
    assert.equal(readSync(fd, b, 0, 100, 1000), 100);
    assert.ok(b.equals(modelFile(s.fx.tp.dev, s.fx.files.plain!).subarray(1000, 1100)), 'the open descriptor still reads');

    // SIGTERM while a descriptor is open: the busy mount is detached lazily, the open file keeps
    // being served, and the server exits (0) once the last user closes it.
    first.proc.kill('SIGTERM');
    await waitFor('the busy mount detached', () => mountsAt(mp).length === 0, 5000);
    assert.equal(readSync(fd, b, 0, 100, 1000), 100, 'the open descriptor is still served after the lazy unmount');
    assert.ok(first.running, 'the server waits for its last user');
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(await first.exited, { code: 0, signal: null }, `exit after the last close; output:\n${first.stderr.slice(-3000)}`);
  assert.deepEqual(mountsAt(mp), []);
});
