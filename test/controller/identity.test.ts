/**
 * Identity service of the controller plugin, and Probe readiness while a pool cannot be opened.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiB, POOL_DATA, capacity, createReq, expectError, fillBytes, grpc, makePool, startPlugin } from './harness.js';
import { scratchDir } from '../helpers/tmpPool.js';
import { Writable } from 'node:stream';
import winston from 'winston';
import { PoolSet } from '../../src/controller/pools.js';
import { Pool, createEmulatedDevice } from '../../src/famfs/index.js';
import { parseConfig } from '../../src/csi/config.js';
import { createLogger } from '../../src/csi/logger.js';

const PACKAGE = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('Identity: GetPluginInfo, GetPluginCapabilities, Probe', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const info = await c.call<{ name: string; vendor_version: string; manifest: Record<string, string> }>('GetPluginInfo', {});
  assert.equal(info.name, 'famfs.csi.io');
  assert.equal(info.vendor_version, PACKAGE.version);
  assert.match(info.vendor_version, /^\d+\.\d+\.\d+/);
  const caps = await c.call<{ capabilities: { service?: { type: string } }[] }>('GetPluginCapabilities', {});
  assert.deepEqual(caps.capabilities.map((x) => x.service?.type).sort(), ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
  assert.deepEqual(await c.call('Probe', {}), { ready: { value: true } });
});

test('Probe: not ready while a pool cannot be opened, ready once it can (plugin)', async (t) => {
  const env = await startPlugin(t, { pools: [{ name: 'p0', device: 'missing.dax', logLength: '8Mi' }], waitReady: false });
  const c = env.client;
  const device = join(env.dir, 'missing.dax');
  assert.deepEqual(await c.call('Probe', {}), { ready: { value: false } });
  assert.equal((await c.call<{ name: string }>('GetPluginInfo', {})).name, 'famfs.csi.io', 'Identity answers while not ready');
  await expectError(c.call('CreateVolume', createReq('early', capacity(2 * MiB))), grpc.status.UNAVAILABLE, new RegExp(`pool p0 is not open yet: cannot open dax device ${device}`));
  assert.equal((await c.call<{ available_capacity: string }>('GetCapacity', {})).available_capacity, '0');
  assert.deepEqual((await c.call<{ entries: unknown[] }>('ListVolumes', {})).entries, []);
  assert.match(env.plugin.pools.problem('p0') ?? '', /no such file or directory/);

  await makePool(device, 256 * MiB);
  // The plugin's PoolSet retries every 10 s; kick it instead of waiting.
  await env.plugin.pools.start(20);
  assert.deepEqual(await c.call('Probe', {}), { ready: { value: true } });
  const v = await c.call<{ volume: { capacity_bytes: string } }>('CreateVolume', createReq('late', capacity(2 * MiB)));
  assert.equal(v.volume.capacity_bytes, String(2 * MiB));
  assert.equal(Number((await c.call<{ available_capacity: string }>('GetCapacity', {})).available_capacity), POOL_DATA - 2 * MiB);
  env.assertClean();
});

test('PoolSet: retries a pool that cannot be opened until it can', async (t) => {
  const s = scratchDir('famfs-csi-poolset-');
  const device = join(s.dir, 'later.dax');
  const config = parseConfig({ pools: [{ name: 'p0', device, logLength: '8Mi' }] });
  const pools = new PoolSet(config.pools, createLogger({ silent: true }));
  t.after(() => {
    pools.close();
    s.cleanup();
  });
  await pools.start(20);
  assert.equal(pools.ready, false);
  assert.equal(pools.get('p0'), undefined);
  assert.match(pools.problem('p0') ?? '', /cannot open dax device .*later\.dax/);
  await sleep(60); // a few failed retries
  assert.equal(pools.ready, false);

  await makePool(device, 64 * MiB);
  await until('the pool to open', () => pools.ready);
  assert.ok(pools.get('p0'));
  assert.equal(pools.problem('p0'), undefined);
  assert.deepEqual(pools.all().map((p) => p.config.name), ['p0']);
});

test('PoolSet: a device that holds something else than famfs is not formatted over', async (t) => {
  const s = scratchDir('famfs-csi-poolset-');
  const device = join(s.dir, 'foreign.dax');
  // An emulated pool with format ifMissing, whose superblock area holds a foreign (corrupt) superblock.
  await makePool(device, 64 * MiB);
  fillBytes(device, 8, 64, 0x5a);
  const before = readFileSync(device).subarray(0, 4096);
  const config = parseConfig({ pools: [{ name: 'p0', device, emulated: { size: '64Mi' }, logLength: '8Mi' }] });
  const pools = new PoolSet(config.pools, createLogger({ silent: true }));
  t.after(() => {
    pools.close();
    s.cleanup();
  });
  await pools.start(1_000);
  assert.equal(pools.ready, false);
  assert.match(pools.problem('p0') ?? '', /not formatting over it/);
  assert.deepEqual(readFileSync(device).subarray(0, 4096), before, 'the device is untouched');
});

/** A logger that keeps every message (JSON objects) in `records`. */
function recordingLogger(): { logger: winston.Logger; records: { message: string; [k: string]: unknown }[] } {
  const records: { message: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line) as { message: string });
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, records };
}

test('PoolSet: retries never overlap, so a pool is formatted and opened once', async (t) => {
  const s = scratchDir('famfs-csi-poolset-');
  const device = join(s.dir, 'slow.dax');
  // Formatting a 256 MiB log yields to the event loop between slices: with a short retry interval
  // the next retry comes while the first open is still formatting.
  const config = parseConfig({ pools: [{ name: 'p0', device, logLength: '256Mi', format: 'ifMissing' }] });
  const { logger, records } = recordingLogger();
  const pools = new PoolSet(config.pools, logger);
  t.after(() => {
    pools.close();
    s.cleanup();
  });
  await pools.start(1);
  assert.equal(pools.ready, false);
  createEmulatedDevice(device, 512 * MiB); // appears unformatted
  await until('the pool to open', () => pools.ready);
  await sleep(100); // let any overlapping attempt finish
  const opened = records.filter((r) => r.message === 'pool open').length;
  const formatted = records.filter((r) => r.message === 'formatting pool').length;
  const onDisk = (() => {
    const p = Pool.open(device, { writable: false });
    try {
      return p.superblock.uuid;
    } finally {
      p.close();
    }
  })();
  assert.equal(pools.get('p0')!.superblock.uuid, onDisk, 'the open pool is the one on the device');
  assert.deepEqual({ formatted, opened }, { formatted: 1, opened: 1 }, 'one mkfs and one open of the device');
});
