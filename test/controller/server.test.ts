/**
 * Server plumbing of the controller plugin: the unix socket (stale, live, not a socket, mode,
 * endpoint forms), shutdown, and clients that send unusual :authority headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { CsiTestClient } from '../helpers/csiClient.js';
import { scratchDir } from '../helpers/tmpPool.js';
import { defaultPool, startPlugin } from './harness.js';
import { startControllerPlugin } from '../../src/controller/plugin.js';
import { parseConfig } from '../../src/csi/config.js';
import { createLogger } from '../../src/csi/logger.js';

type T = { after(fn: () => unknown): void };

/** startControllerPlugin on a fresh scratch pool, for endpoints that are expected to fail. */
function startAt(t: T, dir: string, endpoint: string) {
  const config = parseConfig({ pools: [defaultPool(dir)] });
  const p = startControllerPlugin({ config, endpoint, logger: createLogger({ silent: true }) });
  t.after(async () => {
    const plugin = await p.catch(() => undefined);
    await plugin?.stop(1_000);
  });
  return p;
}

function scratch(t: T): string {
  const s = scratchDir('famfs-csi-srv-');
  t.after(s.cleanup);
  return s.dir;
}

async function probe(socket: string, channelOptions = {}): Promise<unknown> {
  const c = new CsiTestClient(socket, channelOptions);
  try {
    return await c.call('Probe', {}, { timeoutMs: 5_000 });
  } finally {
    c.close();
  }
}

test('server: a stale socket file left by a dead process is removed', async (t) => {
  const dir = scratch(t);
  const sock = join(dir, 'csi.sock');
  // A process that listens on the socket and dies without cleaning up.
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(lstatSync(sock).isSocket(), 'the stale socket is there');
  const env = await startPlugin(t, { endpoint: () => sock, prepare: () => undefined });
  assert.equal(env.socket, sock);
  assert.deepEqual(await env.client.call('Probe', {}), { ready: { value: true } });
});

test('server: a live socket (another server) makes start fail and stays usable', async (t) => {
  const dir = scratch(t);
  const sock = join(dir, 'csi.sock');
  const other = createServer((s) => {
    s.on('error', () => undefined); // the plugin's liveness probe connects and hangs up at once
    s.end('other server');
  });
  await new Promise<void>((resolve) => other.listen(sock, resolve));
  t.after(() => new Promise<void>((resolve) => other.close(() => resolve())));
  await assert.rejects(startAt(t, dir, sock), /endpoint .*csi\.sock is in use by another process/);
  assert.ok(lstatSync(sock).isSocket());
  const reply = await new Promise<string>((resolve, reject) => {
    const s = createConnection(sock);
    let data = '';
    s.on('data', (d) => (data += String(d)));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  assert.equal(reply, 'other server', 'the other server still owns its socket');
});

test('server: a regular file or a directory at the endpoint makes start fail; nothing is removed', async (t) => {
  const dir = scratch(t);
  const file = join(dir, 'csi.sock');
  writeFileSync(file, 'precious data\n');
  await assert.rejects(startAt(t, dir, file), /endpoint .*csi\.sock exists and is not a socket; refusing to remove it/);
  assert.equal(readFileSync(file, 'utf8'), 'precious data\n');
  const sub = join(dir, 'a-dir');
  mkdirSync(sub);
  writeFileSync(join(sub, 'keep'), 'x');
  await assert.rejects(startAt(t, dir, sub), /exists and is not a socket/);
  assert.ok(existsSync(join(sub, 'keep')));
});

test('server: endpoints that are not unix sockets are refused', async (t) => {
  const dir = scratch(t);
  await assert.rejects(startAt(t, dir, 'tcp://127.0.0.1:10000'), /endpoint "tcp:\/\/127\.0\.0\.1:10000" is not a unix socket/);
  await assert.rejects(startAt(t, dir, 'unix://'), /names no socket path/);
});

test('server: socket mode is 0600 by default, socketMode overrides it; stop removes the socket', async (t) => {
  const a = await startPlugin(t);
  assert.equal(statSync(a.socket).mode & 0o777, 0o600);
  assert.ok(lstatSync(a.socket).isSocket());
  await a.stop();
  assert.equal(existsSync(a.socket), false, 'stop removes the socket file');
  await a.plugin.stop(); // stopping twice is fine

  const b = await startPlugin(t, { socketMode: 0o660 });
  assert.equal(statSync(b.socket).mode & 0o777, 0o660);
});

test('server: "unix:///abs/path", "unix:/abs/path" and a plain path all work; missing directories are created', async (t) => {
  for (const form of [(p: string) => `unix://${p}`, (p: string) => `unix:${p}`, (p: string) => p]) {
    const env = await startPlugin(t, { endpoint: (dir) => form(join(dir, 'plugins', 'famfs.csi.io', 'csi.sock')) });
    assert.equal(env.socket, join(env.dir, 'plugins', 'famfs.csi.io', 'csi.sock'));
    assert.deepEqual(await probe(env.socket), { ready: { value: true } });
    assert.deepEqual(await probe(`unix://${env.socket}`), { ready: { value: true } });
    await env.stop();
  }
});

test('server: a client that sends the socket path as :authority gets answers', async (t) => {
  // Older grpc-go based sidecars and other gRPC stacks send the unix socket path as the HTTP/2
  // :authority ("/csi/csi.sock"); the plugin must still answer them.
  const env = await startPlugin(t);
  assert.deepEqual(await probe(env.socket, { 'grpc.default_authority': 'localhost' }), { ready: { value: true } });
  assert.deepEqual(await probe(env.socket, { 'grpc.default_authority': env.socket }), { ready: { value: true } });
});
