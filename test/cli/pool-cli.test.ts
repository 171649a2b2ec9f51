import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scratchDir } from '../helpers/tmpPool.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Unmounts (lazily) everything under `dir`, deepest first, before the directory is removed. */
function unmountUnder(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined && mp.startsWith(dir + '/'));
  for (const mp of points.reverse()) spawnSync('umount', ['-l', mp]);
}

function json<T>(args: string[]): T {
  const r = run([...args, '--json']);
  assert.equal(r.code, 0, `famfs-csi ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('pool CLI: mkfs, mkdir, creat, ls, rm, fsck on an emulated device', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  const dev = join(s.dir, 'pool.dax');

  const made = json<{ version: number; logLength: number; deviceSize: number; kind: string }>(['pool', 'mkfs', dev, '--size', '512M', '--log-length', '8M']);
  assert.deepEqual([made.version, made.logLength, made.deviceSize, made.kind], [48, 8 * 2 ** 20, 512 * 2 ** 20, 'emulated']);

  const again = run(['pool', 'mkfs', dev]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already has a famfs superblock/);

  json(['pool', 'mkdir', dev, 'a/b', '-p', '--mode', '0750']);
  const file = json<{ path: string; size: number; mode: string; uid: number; fmap: { kind: string } }>(['pool', 'creat', dev, 'a/b/data', '--size', '5M', '--mode', '0600', '--uid', '1000', '--gid', '1000']);
  assert.deepEqual([file.path, file.size, file.mode, file.uid, file.fmap.kind], ['a/b/data', 5 * 2 ** 20, '0600', 1000, 'simple']);
  const striped = json<{ fmap: { kind: string; extents: { strips: unknown[] }[] } }>(['pool', 'creat', dev, 'a/striped', '--size', '32M', '--nstrips', '4', '--nbuckets', '8', '--relax-buckets']);
  assert.equal(striped.fmap.kind, 'interleaved');
  assert.equal(striped.fmap.extents[0]!.strips.length, 4);

  const ls = json<{ pool: { files: number; directories: number; logEntriesUsed: number }; entries: { path: string }[] }>(['pool', 'ls', dev]);
  assert.deepEqual([ls.pool.files, ls.pool.directories, ls.pool.logEntriesUsed], [2, 2, 4]);
  assert.deepEqual(ls.entries.map((e) => e.path).sort(), ['a', 'a/b', 'a/b/data', 'a/striped']);

  const human = run(['pool', 'ls', dev, 'a/b']);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /PATH\s+SIZE\s+MODE\s+OWNER\s+EXTENTS/);
  assert.match(human.stdout, /a\/b\/data\s+5 MiB\s+0600\s+1000:1000/);
  assert.doesNotMatch(human.stdout, /a\/striped/);

  json(['pool', 'rm', dev, 'a/striped']);
  const after = json<{ pool: { files: number; tombstones: number } }>(['pool', 'ls', dev]);
  assert.deepEqual([after.pool.files, after.pool.tombstones], [1, 1]);

  const check = json<{ ok: boolean; summary: { files: number; collisions: number } }>(['pool', 'fsck', dev]);
  assert.equal(check.ok, true);
  assert.deepEqual([check.summary.files, check.summary.collisions], [1, 0]);
  const humanFsck = run(['pool', 'fsck', dev]);
  assert.equal(humanFsck.code, 0);
  assert.match(humanFsck.stdout, /fsck: clean/);
});

test('pool CLI: errors name the option or path and set the exit status', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  const dev = join(s.dir, 'pool.dax');
  assert.equal(run(['pool', 'mkfs', dev, '--size', '256M', '--log-length', '8M']).code, 0);

  const cases: [string[], number, RegExp][] = [
    [['pool', 'creat', dev, '../escape', '--size', '1M'], 1, /"\.\."/],
    [['pool', 'creat', dev, 'x', '--size', 'lots'], 2, /--size: "lots" is not a size/],
    [['pool', 'creat', dev, 'x'], 2, /--size is required/],
    [['pool', 'creat', dev, 'nodir/x', '--size', '1M'], 1, /parent directory "nodir"/],
    [['pool', 'creat', dev, 'big', '--size', '1G'], 1, /out of space: 1073741824 bytes requested/],
    [['pool', 'mkdir', dev, 'x', '--mode', '999'], 2, /--mode: "999" is not an octal mode/],
    [['pool', 'mkfs', dev, '--force', '--log-length', '12M'], 1, /power of two/],
    [['pool', 'mkfs', join(s.dir, 'missing.dax')], 2, /give --size/],
    [['pool', 'rm', dev, 'nothing'], 1, /"nothing" does not exist/],
    [['pool', 'frobnicate'], 2, /unknown pool command "frobnicate"/],
    [['pool', 'ls', dev, '--bogus'], 2, /bogus/],
  ];
  for (const [args, code, message] of cases) {
    const r = run(args);
    assert.equal(r.code, code, `${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('pool CLI: fsck exits non-zero on a corrupt pool', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  const dev = join(s.dir, 'pool.dax');
  assert.equal(run(['pool', 'mkfs', dev, '--size', '64M', '--log-length', '8M']).code, 0);
  // Flip a byte of the superblock's CRC-covered area.
  const r0 = spawnSync('dd', [`of=${dev}`, 'bs=1', 'seek=20', 'count=1', 'conv=notrunc'], { input: Buffer.from([0x5a]) });
  assert.equal(r0.status, 0);
  const r = run(['pool', 'fsck', dev]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /error: superblock: superblock CRC mismatch/);
});

test('local: formats an emulated pool under the state directory, serves the controller, lists the pool', (t) => {
  const s = scratchDir();
  t.after(() => {
    unmountUnder(s.dir);
    s.cleanup();
  });
  const env = { FAMFS_SYSTEM_UUID_FILE: '' };
  const r = run(['local', '--state-dir', s.dir, '--pool-size', '128M', '--log-length', '8M', '--exit'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /emulated pool:\s+.*pool0\.dax/);
  assert.match(r.stdout, /controller socket:\s+.*controller\.sock/);
  assert.match(r.stdout, /node socket:\s+.*node\.sock/);
  assert.match(r.stdout, /demo volume:\s+pool0:[0-9a-f]{32}, published at .*kubelet\/pods\/demo\/volumes\/demo/);
  assert.match(r.stdout, /\(this host\)/);
  assert.match(r.stdout, /log entries:\s+3 used, 15417 free of 15420/);
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(s.dir), false, '--exit leaves no mount behind');
  // A second start reuses the formatted pool.
  const again = run(['local', '--state-dir', s.dir, '--exit'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /formatting pool/);
});

test('local: keeps serving until SIGTERM; the demo volume takes echo hello; the csi client creates a volume', async (t) => {
  const s = scratchDir();
  const child = spawn(process.execPath, [CLI, 'local', '--state-dir', s.dir, '--pool-size', '128M', '--log-length', '8M'], {
    env: { ...process.env, FAMFS_SYSTEM_UUID_FILE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    child.kill('SIGKILL');
    unmountUnder(s.dir);
    s.cleanup();
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // Drain the log too: a full pipe would block the child.
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!out.includes('famfs-csi is running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /famfs-csi is running/, err);
  const target = join(s.dir, 'kubelet', 'pods', 'demo', 'volumes', 'demo', 'data');
  writeFileSync(target, 'hello\n');
  assert.equal(readFileSync(target).subarray(0, 6).toString(), 'hello\n');
  const sock = join(s.dir, 'controller.sock');
  const created = run(['csi', '--endpoint', sock, 'CreateVolume', JSON.stringify({ name: 'second', capacity_range: { required_bytes: '8388608' }, volume_capabilities: [{ mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } }] })]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).volume.capacity_bytes, '8388608');
  const bad = run(['csi', '--endpoint', sock, 'DeleteVolume', '{}']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^INVALID_ARGUMENT: volume_id: missing/);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.equal(existsSync(sock), false, 'the socket is removed on shutdown');
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(s.dir), false, 'Ctrl-C leaves no mount behind');
  const ls = json<{ pool: { files: number } }>(['pool', 'ls', join(s.dir, 'pool0.dax')]);
  assert.equal(ls.pool.files, 2, 'the demo volume and the one created through the client');
});
