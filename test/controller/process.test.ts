/**
 * The `famfs-csi controller` process: restart after SIGKILL (same answers, clean pool), clean
 * shutdown on SIGTERM and SIGINT with a call in flight, and its JSON logs (one line per RPC,
 * secrets never printed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/tmpPool.js';
import { ControllerProcess, MiB, assertFsckClean, capacity, createReq, expectError, expectedId, fillBytes, firstNonZero, grpc, makePool, mountCap } from './harness.js';
import type { LogLine } from './harness.js';
import { LOG_OFFSET } from '../../src/famfs/index.js';

type T = { after(fn: () => unknown): void; diagnostic(msg: string): void };

interface Vol {
  volume_id: string;
  capacity_bytes: string;
  volume_context: Record<string, string>;
  accessible_topology: unknown[];
}

function scratch(t: T): string {
  const s = scratchDir('famfs-csi-proc-');
  t.after(s.cleanup);
  return s.dir;
}

function poolFlag(path: string, size = '256Mi'): string[] {
  return ['--pool', `p0=${path},size=${size},logLength=8Mi`];
}

/** Sends `signal` and waits for the exit; asserts exit status 0 and that the socket is gone. */
async function stopCleanly(proc: ControllerProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  proc.client?.close();
  proc.kill(signal);
  const exit = await proc.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, `exit after ${signal}; stderr:\n${proc.stderr.slice(-2000)}`);
  assert.equal(existsSync(proc.socket), false, 'socket file removed');
}

test('controller process: SIGKILL mid-run, restart on the same pool, same answers', async (t) => {
  const dir = scratch(t);
  const pool = join(dir, 'p0.dax');
  const sock = join(dir, 'csi.sock');
  // Junk in the data region: every create zero-fills, so a burst of them takes a while.
  await makePool(pool, 512 * MiB, { junkData: true });
  const args = [...poolFlag(pool, '512Mi'), '--log-format', 'json'];
  const first = await ControllerProcess.start(t, sock, args);
  const c1 = first.client!;

  const steady: Vol[] = [];
  for (let i = 0; i < 10; i++) steady.push((await c1.call<{ volume: Vol }>('CreateVolume', createReq(`steady-${i}`, { ...capacity(4 * MiB), parameters: { mode: '0640' } }))).volume);
  const listBefore = await c1.call<{ entries: { volume: Vol }[] }>('ListVolumes', {});
  assert.equal(listBefore.entries.length, 10);

  // 60 creates and 5 deletes in flight; SIGKILL once the controller has answered a few of them.
  const burst = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
  const inflight = [
    ...burst.map((name) => c1.call('CreateVolume', createReq(name, capacity(4 * MiB)))),
    ...steady.slice(0, 5).map((v) => c1.call('DeleteVolume', { volume_id: v.volume_id })),
  ].map((p) => p.then(() => 'ok', (e: grpc.ServiceError) => grpc.status[e.code]));
  await first.waitForLines((l) => l.message === 'CreateVolume' && String(l.volume).startsWith('burst-'), 3);
  first.kill('SIGKILL');
  const exit = await first.exited;
  assert.equal(exit.signal, 'SIGKILL');
  const outcomes = await Promise.all(inflight);
  const cut = outcomes.filter((o) => o !== 'ok').length;
  t.diagnostic(`in flight at SIGKILL: ${cut} of ${outcomes.length} calls cut off`);
  assert.ok(cut > 0, 'the kill interrupted calls in flight');
  assert.ok(lstatSync(sock).isSocket(), 'a killed controller leaves its socket behind');
  assertFsckClean(pool);

  const second = await ControllerProcess.start(t, sock, args);
  const c2 = second.client!;
  // Retries of everything (as the CO would do) succeed; the volumes are the same.
  for (const v of steady.slice(5)) {
    const name = `steady-${steady.indexOf(v)}`;
    assert.deepEqual((await c2.call<{ volume: Vol }>('CreateVolume', createReq(name, { ...capacity(4 * MiB), parameters: { mode: '0640' } }))).volume, v, `${name} after restart`);
    assert.deepEqual((await c2.call<{ volume: Vol }>('ControllerGetVolume', { volume_id: v.volume_id })).volume, { ...v, content_source: null });
  }
  for (const v of steady.slice(0, 5)) assert.deepEqual(await c2.call('DeleteVolume', { volume_id: v.volume_id }), {});
  const retried = await Promise.all(burst.map((name) => c2.call<{ volume: Vol }>('CreateVolume', createReq(name, capacity(4 * MiB)))));
  retried.forEach((r, i) => assert.equal(r.volume.volume_id, expectedId(burst[i]!)));
  const list = await c2.call<{ entries: { volume: Vol }[] }>('ListVolumes', {});
  assert.deepEqual(list.entries.map((e) => e.volume.volume_id), [...steady.slice(5).map((v) => v.volume_id), ...retried.map((r) => r.volume.volume_id)].sort());
  const cap = await c2.call<{ available_capacity: string }>('GetCapacity', {});
  assert.equal(Number(cap.available_capacity), 502 * MiB - 5 * 4 * MiB - 60 * 4 * MiB);
  for (const r of retried.slice(0, 5)) assert.equal(firstNonZero(pool, r.volume.volume_context.path!), -1, 'zero-filled');
  assert.ok(!second.lines().some((l) => l.message === 'request'), 'no debug lines at the default level');
  await stopCleanly(second);
  const fsck = assertFsckClean(pool);
  assert.equal(fsck.summary?.files, 65);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`controller process: ${signal} stops cleanly after an in-flight CreateVolume completes`, async (t) => {
    const dir = scratch(t);
    const pool = join(dir, 'p0.dax');
    const sock = join(dir, 'csi.sock');
    // A 1 GiB pool whose data region holds junk, so the 400 MiB zero-fill really writes memory
    // (tens of ms: the signal arrives while it runs).
    await makePool(pool, 1024 * MiB);
    fillBytes(pool, LOG_OFFSET + 8 * MiB, 400 * MiB, 0xee);
    const args = [...poolFlag(pool, '1Gi'), '--log-format', 'json', '--log-level', 'debug'];
    const proc = await ControllerProcess.start(t, sock, args);
    const call = proc.client!.call<{ volume: Vol }>('CreateVolume', createReq('big', capacity(400 * MiB)));
    await proc.waitForLine((l) => l.message === 'request' && l.method === 'CreateVolume');
    proc.kill(signal);
    const res = await call;
    assert.equal(res.volume.capacity_bytes, String(400 * MiB));
    const exit = await proc.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status after ${signal}; stderr:\n${proc.stderr.slice(-2000)}`);
    assert.equal(existsSync(sock), false, 'socket file removed');
    const lines = proc.lines();
    const stopping = lines.findIndex((l) => l.message === 'stopping' && l.signal === signal);
    const done = lines.findIndex((l) => l.message === 'CreateVolume' && l.outcome === 'OK');
    assert.ok(stopping >= 0, `a "stopping" line names ${signal}`);
    assert.ok(done >= 0, 'the CreateVolume completed');
    t.diagnostic(`CreateVolume took ${String(lines[done]!.duration_ms)} ms`);
    assert.ok(stopping < done, `the signal arrived while CreateVolume was in flight (stopping at line ${stopping}, CreateVolume done at line ${done})`);

    const again = await ControllerProcess.start(t, sock, args);
    const got = await again.client!.call<{ volume: Vol }>('ControllerGetVolume', { volume_id: res.volume.volume_id });
    assert.deepEqual(got.volume, { ...res.volume, content_source: null });
    assert.equal(firstNonZero(pool, res.volume.volume_context.path!), -1, 'the volume is zero-filled');
    await stopCleanly(again, signal);
    assertFsckClean(pool);
  });
}

test('controller process: a second signal while stopping exits at once (status 1); the pool stays consistent', async (t) => {
  const dir = scratch(t);
  const pool = join(dir, 'p0.dax');
  const sock = join(dir, 'csi.sock');
  await makePool(pool, 1024 * MiB);
  fillBytes(pool, LOG_OFFSET + 8 * MiB, 900 * MiB, 0xee);
  const proc = await ControllerProcess.start(t, sock, [...poolFlag(pool, '1Gi'), '--log-format', 'json', '--log-level', 'debug']);
  const call = proc.client!.call('CreateVolume', createReq('huge', capacity(900 * MiB))).then(() => 'ok', (e: grpc.ServiceError) => grpc.status[e.code]);
  await proc.waitForLine((l) => l.message === 'request' && l.method === 'CreateVolume');
  proc.kill('SIGTERM');
  await proc.waitForLine((l) => l.message === 'stopping');
  proc.kill('SIGINT');
  const exit = await proc.exited;
  const outcome = await call;
  t.diagnostic(`in-flight CreateVolume: ${outcome}`);
  if (outcome !== 'ok') {
    assert.deepEqual(exit, { code: 1, signal: null }, `stderr:\n${proc.stderr.slice(-2000)}`);
    assert.ok(proc.lines().some((l) => l.message === 'second signal while stopping; exiting now'));
  }
  assertFsckClean(pool);
  // Whatever was cut off, a restart serves the pool and the retry succeeds.
  const again = await ControllerProcess.start(t, sock, [...poolFlag(pool, '1Gi'), '--log-format', 'json']);
  const v = await again.client!.call<{ volume: Vol }>('CreateVolume', createReq('huge', capacity(900 * MiB)));
  assert.equal(v.volume.capacity_bytes, String(900 * MiB));
  await stopCleanly(again);
  assertFsckClean(pool);
});

test('controller process: JSON logs, one line per RPC with method, outcome and duration; secrets never printed', async (t) => {
  const dir = scratch(t);
  const pool = join(dir, 'p0.dax');
  const sock = join(dir, 'csi.sock');
  const proc = await ControllerProcess.start(t, sock, [...poolFlag(pool), '--log-format', 'json', '--log-level', 'debug']);
  const c = proc.client!;
  const secrets = { password: 'hunter2', 'csi.storage.k8s.io/token': 'hunter2-token' };
  const v = (await c.call<{ volume: Vol }>('CreateVolume', createReq('logged', { ...capacity(2 * MiB), secrets }))).volume;
  await expectError(c.call('CreateVolume', createReq('logged-bad', { capacity_range: { required_bytes: '-1' }, secrets })), grpc.status.INVALID_ARGUMENT, /must not be negative/);
  await c.call('ValidateVolumeCapabilities', { volume_id: v.volume_id, volume_capabilities: [mountCap()], secrets });
  await c.call('ListVolumes', {});
  await c.call('GetCapacity', {});
  await c.call('GetPluginInfo', {});
  await c.call('DeleteVolume', { volume_id: v.volume_id, secrets });
  await expectError(c.call('ControllerPublishVolume', { volume_id: v.volume_id, node_id: 'n', secrets }), grpc.status.UNIMPLEMENTED, /not implement/);
  await stopCleanly(proc);

  assert.ok(!proc.stderr.includes('hunter2'), 'no secret value in the logs');
  const lines = proc.lines(); // throws if any stderr line is not JSON
  assert.ok(lines.length > 0);
  for (const l of lines) {
    assert.equal(typeof l.level, 'string');
    assert.equal(typeof l.message, 'string');
    assert.equal(typeof l.timestamp, 'string');
  }
  const rpcLines = lines.filter((l) => 'outcome' in l);
  const count = (m: string) => rpcLines.filter((l) => l.method === m).length;
  assert.equal(count('CreateVolume'), 2);
  assert.equal(count('ValidateVolumeCapabilities'), 1);
  assert.equal(count('ListVolumes'), 1);
  assert.equal(count('GetCapacity'), 1);
  assert.equal(count('GetPluginInfo'), 1);
  assert.equal(count('DeleteVolume'), 1);
  assert.ok(count('Probe') >= 1);
  for (const l of rpcLines) {
    assert.equal(l.message, l.method);
    assert.equal(typeof l.outcome, 'string');
    assert.equal(typeof l.duration_ms, 'number');
    assert.ok((l.duration_ms as number) >= 0);
  }
  const created = rpcLines.find((l: LogLine) => l.method === 'CreateVolume' && l.outcome === 'OK')!;
  assert.equal(created.volume, 'logged');
  assert.equal(created.level, 'info');
  const failed = rpcLines.find((l) => l.method === 'CreateVolume' && l.outcome === 'INVALID_ARGUMENT')!;
  assert.equal(failed.level, 'warn');
  assert.match(String(failed.error), /must not be negative/);
  const deleted = rpcLines.find((l) => l.method === 'DeleteVolume')!;
  assert.deepEqual([deleted.outcome, deleted.volume], ['OK', v.volume_id]);
  // Debug request lines show which secrets were passed, not their values.
  const req = lines.find((l) => l.message === 'request' && l.method === 'CreateVolume') as LogLine & { request: { secrets: Record<string, string> } };
  assert.deepEqual(req.request.secrets, { password: '<redacted>', 'csi.storage.k8s.io/token': '<redacted>' });
  assertFsckClean(pool);
});
