/**
 * Shared set-up for the controller conformance tests: an in-process controller plugin or a
 * `famfs-csi controller` subprocess on a real unix socket, real emulated pools on /dev/shm,
 * a real gRPC client, and read-only views of the pool file (fsck, the namespace, raw bytes).
 * Everything a helper creates is torn down by t.after, also when the test fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { scratchDir } from '../helpers/tmpPool.js';
import { CsiTestClient, grpc } from '../helpers/csiClient.js';
import type { ServiceError } from '../helpers/csiClient.js';
import { startControllerPlugin } from '../../src/controller/plugin.js';
import type { PoolSet } from '../../src/controller/pools.js';
import type { RunningPlugin } from '../../src/controller/plugin.js';
import { parseConfig } from '../../src/csi/config.js';
import type { DriverConfig } from '../../src/csi/config.js';
import { createLogger } from '../../src/csi/logger.js';
import { LOG_OFFSET, Pool, createEmulatedDevice, fmapDeviceRanges, fsck, mkfs, openDaxDevice } from '../../src/famfs/index.js';
import type { FileNode, FsckReport, Reclaim } from '../../src/famfs/index.js';
import { ACCESS_MODES as CSI_ACCESS_MODES } from '../../src/csi/types.js';

export { grpc };
export type { ServiceError };

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const LOG_LEN = 8 * MiB;
/** Data space of the default 256 MiB test pool: 256 MiB - superblock (2 MiB) - log (8 MiB). */
export const POOL_DATA = 246 * MiB;
/** Entries of an 8 MiB log: floor((8 MiB - 48) / 544). */
export const LOG_ENTRIES_8MI = 15_420;

/** Every access mode a volume can be asked for (all but UNKNOWN). */
export const ACCESS_MODES = CSI_ACCESS_MODES.filter((m) => m !== 'UNKNOWN');

/** A filesystem-mode volume capability. */
export function mountCap(mode: string | number = 'MULTI_NODE_MULTI_WRITER', fsType = ''): object {
  return { mount: { fs_type: fsType }, access_mode: { mode } };
}

export const BLOCK_CAP = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

/** A CreateVolume request: one mount capability, no capacity range unless given. */
export function createReq(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, volume_capabilities: [mountCap()], ...extra };
}

export function capacity(required: number | string, limit: number | string = 0): { capacity_range: { required_bytes: string; limit_bytes: string } } {
  return { capacity_range: { required_bytes: String(required), limit_bytes: String(limit) } };
}

/** The volume id famfs-csi must give a name: "<pool>:" + first 32 hex digits of SHA-256(name). */
export function expectedId(name: string, pool = 'p0'): string {
  return `${pool}:${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32)}`;
}

export function topology(pool: string): { segments: Record<string, string> } {
  return { segments: { [`famfs.csi.io/pool-${pool}`]: 'true' } };
}

type AfterContext = { after(fn: () => unknown): void };

/** Asserts that `p` rejects with gRPC status `code` and a message matching `message`. */
export async function expectError(p: Promise<unknown>, code: grpc.status, message: RegExp | string): Promise<ServiceError> {
  let err: ServiceError | undefined;
  let res: unknown;
  try {
    res = await p;
  } catch (e) {
    err = e as ServiceError;
  }
  assert.ok(err, `expected ${grpc.status[code]} /${String(message)}/, but the call succeeded: ${JSON.stringify(res)}`);
  assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code] ?? err.code}: ${err.details}`);
  if (typeof message === 'string') assert.ok(err.details.includes(message), `message ${JSON.stringify(err.details)} should contain ${JSON.stringify(message)}`);
  else assert.match(err.details, message);
  return err;
}

// ---- Pool files -----------------------------------------------------------------------------

/** fsck of a pool file, opened read-only (allowed while a plugin has it open). */
export function fsckPool(path: string, reclaim?: Reclaim): FsckReport {
  const dev = openDaxDevice(path, { writable: false });
  try {
    return fsck(dev, reclaim ? { reclaim } : {});
  } finally {
    dev.close();
  }
}

export function assertFsckClean(path: string, reclaim?: Reclaim): FsckReport {
  const r = fsckPool(path, reclaim);
  assert.deepEqual(r.errors, [], `fsck of ${path} found errors`);
  assert.equal(r.ok, true);
  assert.equal(r.summary?.collisions, 0, 'fsck found allocation collisions');
  return r;
}

/** Runs fn on a read-only view of the pool file. */
export function withPool<T>(path: string, fn: (pool: Pool) => T): T {
  const pool = Pool.open(path, { writable: false });
  try {
    return fn(pool);
  } finally {
    pool.close();
  }
}

export function poolStats(path: string): ReturnType<Pool['stats']> {
  return withPool(path, (p) => p.stats());
}

/** The famfs file of a volume, by the path its volume_context names. */
export function volumeFile(poolPath: string, relpath: string): FileNode {
  return withPool(poolPath, (p) => {
    const node = p.lookup(relpath);
    assert.ok(node && node.kind === 'file', `${relpath} should be a file in the pool`);
    return node;
  });
}

const ZERO = Buffer.alloc(4 * MiB);

/** Are all bytes of the file's extents zero? Returns the first non-zero device offset, or -1. */
export function firstNonZero(poolPath: string, relpath: string): number {
  const file = volumeFile(poolPath, relpath);
  const dev = openDaxDevice(poolPath, { writable: false });
  try {
    for (const r of fmapDeviceRanges(file.fmap)) {
      for (let pos = 0; pos < r.length; pos += ZERO.length) {
        const n = Math.min(ZERO.length, r.length - pos);
        const view = dev.map(r.offset + pos, n);
        if (!view.equals(ZERO.subarray(0, n))) return r.offset + pos + view.findIndex((b) => b !== 0);
      }
    }
    return -1;
  } finally {
    dev.close();
  }
}

/** Writes `byte` over [offset, offset + length) of a pool file with plain file I/O (junk a previous tenant left). */
export function fillBytes(path: string, offset: number, length: number, byte: number): void {
  const fd = openSync(path, 'r+');
  try {
    const chunk = Buffer.alloc(Math.min(length, 16 * MiB), byte);
    for (let pos = 0; pos < length; pos += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, length - pos), offset + pos);
  } finally {
    closeSync(fd);
  }
}

/** Creates and formats an emulated pool file (8 MiB log). */
export async function makePool(path: string, size: number, opts: { junkData?: boolean } = {}): Promise<void> {
  createEmulatedDevice(path, size);
  const dev = openDaxDevice(path);
  try {
    await mkfs(dev, { logLength: LOG_LEN });
  } finally {
    dev.close();
  }
  if (opts.junkData) fillBytes(path, LOG_OFFSET + LOG_LEN, size - LOG_OFFSET - LOG_LEN, 0xff);
}

/** Appends mkdir entries until only `leave` log entries are left (a nearly full log). */
export async function fillLog(path: string, leave: number): Promise<void> {
  const pool = Pool.open(path);
  try {
    let n = 0;
    while (pool.stats().logEntriesFree > leave) {
      const depth = Math.min(pool.stats().logEntriesFree - leave, 25);
      const parts = [`fill${n++}`];
      for (let k = 1; k < depth; k++) parts.push('x');
      await pool.mkdir(parts.join('/'), { parents: true });
    }
    assert.equal(pool.stats().logEntriesFree, leave);
  } finally {
    pool.close();
  }
}

// ---- In-process plugin ----------------------------------------------------------------------

export interface PluginEnv {
  dir: string;
  /** Device of the first pool. */
  poolPath: string;
  socket: string;
  config: DriverConfig;
  plugin: RunningPlugin & { pools: PoolSet };
  client: CsiTestClient;
  /** Stops the plugin (idempotent); the scratch directory stays until the test ends. */
  stop(): Promise<void>;
  /** fsck of every configured pool (that exists) is clean. */
  assertClean(): void;
}

export interface PluginOptions {
  /** Overrides for pool p0 (merged into the default 256 MiB emulated pool). */
  pool?: Record<string, unknown>;
  /** Full pool list instead (device paths relative to the scratch dir are made absolute). */
  pools?: Record<string, unknown>[];
  /** Runs before the plugin starts, e.g. to prepare the pool file. */
  prepare?(dir: string): void | Promise<void>;
  endpoint?(dir: string): string;
  socketMode?: number;
  lockTimeoutMs?: number;
  /** Wait for Probe ready (default true). */
  waitReady?: boolean;
}

export function defaultPool(dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'p0', device: join(dir, 'p0.dax'), emulated: { size: '256Mi' }, logLength: '8Mi', relaxStripeBuckets: true, ...overrides };
}

export async function startPlugin(t: AfterContext, opts: PluginOptions = {}): Promise<PluginEnv> {
  const scratch = scratchDir('famfs-csi-ctl-');
  const dir = scratch.dir;
  const running: { plugin?: RunningPlugin & { pools: PoolSet }; client?: CsiTestClient; stopped?: Promise<void> } = {};
  const stop = () =>
    (running.stopped ??= (async () => {
      running.client?.close();
      await running.plugin?.stop(2_000);
    })());
  t.after(async () => {
    try {
      await stop();
    } finally {
      scratch.cleanup();
    }
  });
  const rawPools = opts.pools
    ? opts.pools.map((p) => ({ ...p, device: String(p.device).startsWith('/') ? p.device : join(dir, String(p.device)) }))
    : [defaultPool(dir, opts.pool)];
  const config = parseConfig({ pools: rawPools });
  await opts.prepare?.(dir);
  const endpoint = opts.endpoint?.(dir) ?? join(dir, 'csi.sock');
  const plugin = await startControllerPlugin({ config, endpoint, logger: createLogger({ silent: true }), socketMode: opts.socketMode, lockTimeoutMs: opts.lockTimeoutMs });
  running.plugin = plugin;
  const client = new CsiTestClient(plugin.socketPath);
  running.client = client;
  if (opts.waitReady !== false) await waitReady(client);
  const assertClean = () => {
    for (const p of config.pools) if (existsSync(p.device)) assertFsckClean(p.device, p.reclaim);
  };
  return { dir, poolPath: config.pools[0]!.device, socket: plugin.socketPath, config, plugin, client, stop, assertClean };
}

/** Polls Probe until it reports ready. */
export async function waitReady(client: CsiTestClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await client.call<{ ready: { value: boolean } | null }>('Probe', {}, { timeoutMs: 1_000 });
      if (r.ready?.value) return;
      last = 'not ready';
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(20);
  }
  throw new Error(`plugin not ready after ${timeoutMs} ms: ${last}`);
}

// ---- famfs-csi controller subprocess --------------------------------------------------------

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A running `famfs-csi controller`; stderr is collected, the process is killed at test end. */
export class ControllerProcess {
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private listeners: (() => void)[] = [];
  client: CsiTestClient | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly socket: string,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      for (const l of this.listeners) l();
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        for (const l of this.listeners) l();
        resolve(this.exitInfo);
      }),
    );
  }

  /** Starts the controller with `args` (besides --endpoint) and waits until Probe is ready. */
  static async start(t: AfterContext, socket: string, args: string[], opts: { waitReady?: boolean } = {}): Promise<ControllerProcess> {
    const child = spawn(process.execPath, [CLI, 'controller', '--endpoint', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    const proc = new ControllerProcess(child, socket);
    t.after(async () => {
      proc.client?.close();
      if (proc.exitInfo === undefined) {
        child.kill('SIGKILL');
        await proc.exited;
      }
    });
    if (opts.waitReady !== false) {
      await proc.waitForLine((l) => l.message === 'listening', 15_000);
      proc.client = new CsiTestClient(socket);
      await waitReady(proc.client);
    }
    return proc;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** stderr lines, parsed as JSON (throws naming the line that is not JSON). */
  lines(): LogLine[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          throw new Error(`stderr line is not JSON: ${l}`);
        }
      });
  }

  private safeLines(): LogLine[] {
    try {
      return this.lines();
    } catch {
      return [];
    }
  }

  /** Resolves with the first stderr JSON line matching `pred`. */
  async waitForLine(pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    return (await this.waitForLines(pred, 1, timeoutMs))[0]!;
  }

  /** Resolves once `count` stderr JSON lines match `pred`, with those lines. */
  waitForLines(pred: (l: LogLine) => boolean, count: number, timeoutMs = 10_000): Promise<LogLine[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hits = this.safeLines().filter(pred);
        if (hits.length >= count) return finish(() => resolve(hits));
        if (this.exitInfo) return finish(() => reject(new Error(`controller exited (${JSON.stringify(this.exitInfo)}) before the expected log line; stderr:\n${this.stderr}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line after ${timeoutMs} ms; stderr:\n${this.stderr}`))), timeoutMs);
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        fn();
      };
      this.listeners.push(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}
