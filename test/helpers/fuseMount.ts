/**
 * Real FUSE mounts for tests: the privilege gate (fail in CI, skip elsewhere), a LIFO cleanup
 * stack that unmounts before scratch directories are removed, an in-process mount served from a
 * worker thread (so the test thread can make blocking fs calls into it), and `famfs-csi mount`
 * server processes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';

type T = { after(fn: () => unknown): void; skip(msg?: string): void; diagnostic(msg: string): void };

/** Why real FUSE mounts cannot run here, or undefined. */
export function fuseUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount(8) -o fd=N without fusermount)';
  try {
    closeSync(openSync('/dev/fuse', 'r+'));
  } catch (e) {
    return `cannot open /dev/fuse: ${(e as Error).message}`;
  }
  for (const tool of ['/bin/mount', '/bin/umount']) if (!existsSync(tool)) return `${tool} is missing`;
  return undefined;
}

/** True if the test may mount; skips it (with the reason) otherwise, but fails it in CI. */
export function privileged(t: T): boolean {
  const why = fuseUnavailable();
  if (why === undefined) return true;
  if (process.env.CI === 'true') assert.fail(`privileged FUSE test cannot run in CI: ${why}`);
  t.skip(why);
  return false;
}

/** Cleanups run last-registered-first after the test (also when it fails); every one runs. */
export function cleanupStack(t: T): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  t.after(async () => {
    let first: unknown;
    while (fns.length) {
      try {
        await fns.pop()!();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  });
  return (fn) => fns.push(fn);
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mounts at exactly `path` in /proc/self/mountinfo (fstype of each, topmost last). */
export function mountsAt(path: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash > 0 && unescapeMountinfo(f[4]!) === path) out.push(f[dash + 1]!);
  }
  return out;
}

/** Lazily unmounts everything at `path` (dead or alive). */
export function forceUnmount(path: string): void {
  for (let i = 0; i < 10 && mountsAt(path).length > 0; i++) spawnSync('/bin/umount', ['-l', path], { stdio: 'ignore' });
  assert.deepEqual(mountsAt(path), [], `${path} is unmounted`);
}

export async function waitFor<V>(what: string, fn: () => V | undefined | false, timeoutMs = 5000, stepMs = 20): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// ---- in-process mounts (a worker thread serves them) ----

type WorkerMsg = { type: 'mounted'; mountpoint: string; daxFmap: boolean } | { type: 'done'; mountpoint: string } | { type: 'error'; mountpoint: string; what: string; detail: unknown } | { type: 'failed'; error: string };

export interface WorkerMountSpec {
  mountpoint: string;
  /** Requests read concurrently (each blocks one libuv pool thread; the pool has 4). */
  readers?: number;
}

/**
 * FuseSession.mount of a FamfsFileSystem in this process, on a worker thread: one pool opened
 * read-only with a writable device (as `famfs-csi mount` does) per mount point.
 */
export class MountWorker {
  readonly errors: { mountpoint: string; what: string; detail: unknown }[] = [];
  private readonly done = new Map<string, Promise<void>>();
  private readonly doneResolvers = new Map<string, () => void>();

  private constructor(
    private readonly worker: Worker,
    readonly mountpoints: string[],
  ) {
    for (const mp of mountpoints) this.done.set(mp, new Promise<void>((r) => this.doneResolvers.set(mp, r)));
  }

  static async start(t: T, defer: (fn: () => unknown) => void, device: string, specs: WorkerMountSpec[]): Promise<MountWorker> {
    const worker = new Worker(fileURLToPath(new URL('./fuseMountWorker.js', import.meta.url)), { workerData: { device, specs } });
    const mw = new MountWorker(
      worker,
      specs.map((s) => s.mountpoint),
    );
    defer(async () => {
      for (const mp of mw.mountpoints) forceUnmount(mp);
      await worker.terminate();
    });
    const mounted = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerMsg) => {
        if (m.type === 'mounted') {
          mounted.add(m.mountpoint);
          if (mounted.size === specs.length) resolve();
        } else if (m.type === 'done') mw.doneResolvers.get(m.mountpoint)?.();
        else if (m.type === 'error') {
          mw.errors.push({ mountpoint: m.mountpoint, what: m.what, detail: m.detail });
          t.diagnostic(`server error on ${m.mountpoint}: ${m.what} ${JSON.stringify(m.detail)}`);
        } else if (m.type === 'failed') reject(new Error(`mount worker failed: ${m.error}`));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`mount worker exited (${code}) before mounting`)));
    });
    return mw;
  }

  /** Asks the worker to session.unmount(); resolves when that mount's session.done resolved. */
  async unmount(mountpoint: string, timeoutMs = 5000): Promise<void> {
    this.worker.postMessage({ type: 'unmount', mountpoint });
    const timer = sleep(timeoutMs, undefined, { ref: false }).then(() => assert.fail(`session.done of ${mountpoint} did not resolve within ${timeoutMs} ms`));
    await Promise.race([this.done.get(mountpoint)!, timer]);
  }
}

// ---- `famfs-csi mount` processes ----

export const MAIN_JS = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface LogLine {
  level?: string;
  message?: string;
  [k: string]: unknown;
}

/** One `famfs-csi mount` server process (JSON logs on stderr). */
export class MountServer {
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly proc: ChildProcess,
    readonly mountpoint: string,
  ) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve((this.exitInfo = { code, signal }))));
  }

  /** Spawns the server; with `waitMounted` (default) waits for its "mounted" log line. */
  static async start(defer: (fn: () => unknown) => void, device: string, mountpoint: string, opts: { waitMounted?: boolean; pool?: string } = {}): Promise<MountServer> {
    const proc = spawn(process.execPath, [MAIN_JS, 'mount', '--pool', opts.pool ?? 'p0', '--device', device, '--mountpoint', mountpoint, '--log-format', 'json'], {
      env: { ...process.env }, // FAMFS_SYSTEM_UUID_FILE: the test's host identity
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = new MountServer(proc, mountpoint);
    defer(async () => {
      if (s.running) {
        proc.kill('SIGKILL');
        await s.exited;
      }
    });
    if (opts.waitMounted ?? true) {
      await waitFor(`"mounted" from famfs-csi mount ${mountpoint}`, () => {
        if (s.logs().some((l) => l.message === 'mounted')) return true;
        if (!s.running) assert.fail(`famfs-csi mount exited before mounting (${JSON.stringify(s.exitInfo)}):\n${s.stderr}`);
        return false;
      }, 15_000);
    }
    return s;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  logs(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of this.stderr.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        // a partial line
      }
    }
    return out;
  }
}
