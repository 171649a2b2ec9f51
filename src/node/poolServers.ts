import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PoolConfig } from '../csi/config.js';
import { failedPrecondition, unavailable } from '../csi/errors.js';
import type { Logger } from '../csi/logger.js';
import type { Mounter } from './mounter.js';
import { findMount, readMountinfo } from '../fuse/mountTable.js';
import type { MountInfo } from '../fuse/mountTable.js';
import { isDeadMountCode, probePath, sleep } from './probe.js';

/**
 * One famfs FUSE server per pool per node (DESIGN decision 6), mounted at
 * `<stateDir>/pools/<pool>`. The server is its own long-lived process (`famfs-csi mount`),
 * started detached in its own session with its output appended to `<stateDir>/pools/<pool>.log`,
 * so it outlives the node plugin: restarting or upgrading the plugin never breaks a pod's mount.
 *
 * Nothing about the servers is kept in memory that the mount table can tell: a restarted plugin
 * finds a live `fuse.famfs` mount at the pool's mount point and adopts it. A mount whose server
 * died (stat answers ENOTCONN, ECONNABORTED or EIO) is detached with `umount -l` and a new
 * server started, on the next ensureMounted() (i.e. the next NodeStage of that pool).
 *
 * The contract of `famfs-csi mount --pool NAME --device DEV --mountpoint DIR [--reclaim R]`:
 * mounts a FUSE file system of type fuse.famfs at DIR serving the pool's namespace (volume
 * directories csi/<id>/ with a file data, plus .meta/.superblock and .meta/.log), catches up with
 * the pool's log on every lookup/open, stays in the foreground until SIGTERM/SIGINT (then
 * unmounts and exits 0) or until the mount is unmounted externally (then exits 0), and exits
 * non-zero with a message on stderr if it cannot mount.
 */
export const FUSE_FSTYPE = 'fuse.famfs';
/** The file whose stat tells that a pool mount answers. */
export const SUPERBLOCK_FILE = '.meta/.superblock';
/** A server log larger than this is rotated to <pool>.log.1 when a new server starts. */
const LOG_ROTATE_BYTES = 16 * 1024 * 1024;
const LOG_TAIL_BYTES = 4096;

export type PoolMountState =
  | { state: 'absent' }
  | { state: 'healthy'; mount: MountInfo }
  | { state: 'dead'; mount: MountInfo; error: string }
  | { state: 'unresponsive'; mount: MountInfo; error: string }
  | { state: 'foreign'; mount: MountInfo };

export interface PoolServersOptions {
  /** Canonical state directory (symlinks resolved). */
  stateDir: string;
  pools: PoolConfig[];
  logger: Logger;
  mounter: Mounter;
  /** argv that runs the famfs-csi CLI (default: this Node binary and dist/src/cli/main.js). */
  cliCommand?: string[];
  /** How long a new server may take until its mount answers (default 10 s). */
  startTimeoutMs?: number;
  /** stat timeout when probing a mount (default 5 s). */
  probeTimeoutMs?: number;
  /**
   * spawn (default): start `famfs-csi mount` servers as needed. external: never start one; wait
   * for a separate long-lived `famfs-csi pool-servers` process to serve the pool (in a cluster, its
   * own DaemonSet, so upgrading the node plugin never takes a pool mount down).
   */
  mode?: 'spawn' | 'external';
}

/** The `famfs-csi mount` arguments that serve `pool` at `mountpoint`. */
export function mountArgs(pool: PoolConfig, mountpoint: string): string[] {
  return ['mount', '--pool', pool.name, '--device', pool.device, '--mountpoint', mountpoint, '--reclaim', pool.reclaim];
}

export function defaultCliCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

export class PoolServers {
  readonly poolsDir: string;
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly lastHealth = new Map<string, string>();
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly cliCommand: string[];
  private readonly startTimeoutMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly opts: PoolServersOptions) {
    this.poolsDir = join(opts.stateDir, 'pools');
    this.cliCommand = opts.cliCommand ?? defaultCliCommand();
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 5_000;
  }

  mountpoint(pool: string): string {
    return join(this.poolsDir, pool);
  }

  logFile(pool: string): string {
    return join(this.poolsDir, `${pool}.log`);
  }

  /** The pool's mount as the mount table and a stat of its superblock file show it. */
  async state(pool: string, mounts: MountInfo[] = readMountinfo()): Promise<PoolMountState> {
    const mount = findMount(this.mountpoint(pool), mounts);
    if (!mount) return { state: 'absent' };
    if (mount.fsType !== FUSE_FSTYPE) return { state: 'foreign', mount };
    const probe = await probePath(join(this.mountpoint(pool), SUPERBLOCK_FILE), this.probeTimeoutMs);
    if (probe.ok) return { state: 'healthy', mount };
    if (isDeadMountCode(probe.code)) return { state: 'dead', mount, error: `${probe.code}: ${probe.message}` };
    return { state: 'unresponsive', mount, error: `${probe.code}: ${probe.message}` };
  }

  /** Runs `fn` after every earlier call for the same pool (one server start at a time per pool). */
  private serialized<T>(pool: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(pool) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(pool, tail);
    void tail.then(() => {
      if (this.chains.get(pool) === tail) this.chains.delete(pool);
    });
    return next;
  }

  /**
   * Makes sure the pool's FUSE server runs and its mount answers; returns the mount point.
   * Adopts a live mount, replaces a dead one, starts a server when there is none.
   */
  ensureMounted(pool: PoolConfig): Promise<string> {
    return this.serialized(pool.name, () => this.ensureMountedNow(pool));
  }

  private async ensureMountedNow(pool: PoolConfig): Promise<string> {
    if (this.opts.mode === 'external') return this.awaitExternal(pool);
    const mp = this.mountpoint(pool.name);
    const log = this.opts.logger;
    for (let attempt = 0; attempt < 8; attempt++) {
      const st = await this.state(pool.name);
      switch (st.state) {
        case 'healthy':
          return mp;
        case 'foreign':
          throw failedPrecondition(`pool ${pool.name}: ${mp} holds a ${st.mount.fsType} mount of ${st.mount.source}, not a famfs FUSE mount; unmount it`);
        case 'unresponsive':
          throw unavailable(`pool ${pool.name}: the FUSE server at ${mp} does not answer (${st.error}); retry later`);
        case 'dead':
          log.error('pool FUSE server is dead; detaching its mount and starting a new server', { pool: pool.name, mountpoint: mp, error: st.error, serverLog: this.logFile(pool.name) });
          await this.opts.mounter.unmount(mp, { lazy: true });
          continue; // there may be more stacked below
        case 'absent':
          await this.start(pool);
          return mp;
      }
    }
    throw unavailable(`pool ${pool.name}: could not clear the dead mounts stacked at ${mp}`);
  }

  /** External servers: wait (up to the start timeout) until the pool's mount answers. */
  private async awaitExternal(pool: PoolConfig): Promise<string> {
    const mp = this.mountpoint(pool.name);
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const st = await this.state(pool.name);
      if (st.state === 'healthy') return mp;
      if (st.state === 'foreign') throw failedPrecondition(`pool ${pool.name}: ${mp} holds a ${st.mount.fsType} mount of ${st.mount.source}, not a famfs FUSE mount; unmount it`);
      if (Date.now() > deadline) {
        const what = st.state === 'absent' ? 'is not mounted' : `is ${st.state} (${st.error})`;
        throw unavailable(`pool ${pool.name}: ${mp} ${what}; with --pool-servers external the famfs-csi pool-servers process on this node serves it (is its pod running? see its log)`);
      }
      await sleep(100);
    }
  }

  private async start(pool: PoolConfig): Promise<void> {
    const mp = this.mountpoint(pool.name);
    const log = this.opts.logger;
    if (!existsSync(pool.device)) throw unavailable(`pool ${pool.name}: device ${pool.device} does not exist on this node`);
    mkdirSync(mp, { recursive: true, mode: 0o755 });
    const logPath = this.logFile(pool.name);
    rotate(logPath);
    const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
    const fd = openSync(logPath, 'a', 0o640);
    const [file, ...prefix] = this.cliCommand;
    const args = [...prefix, ...mountArgs(pool, mp)];
    let exited: string | undefined;
    let child;
    try {
      child = spawn(file!, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
    } finally {
      closeSync(fd);
    }
    child.on('error', (e) => (exited = `could not start: ${e.message}`));
    child.on('exit', (code, signal) => (exited = signal ? `killed by ${signal}` : `exited with status ${code}`));
    child.unref();
    log.info('started pool FUSE server', { pool: pool.name, pid: child.pid, mountpoint: mp, serverLog: logPath });
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const st = await this.state(pool.name);
      if (st.state === 'healthy') {
        log.info('pool mounted', { pool: pool.name, pid: child.pid, mountpoint: mp, device: `${st.mount.major}:${st.mount.minor}` });
        return;
      }
      if (exited !== undefined) {
        throw unavailable(`pool ${pool.name}: the FUSE server ${exited} before its mount at ${mp} answered; server log ${logPath}: ${tail(logPath, logStart)}`);
      }
      if (Date.now() > deadline) {
        // Do not leave a half-started server behind that might mount later.
        if (child.pid !== undefined) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        const late = findMount(mp);
        if (late?.fsType === FUSE_FSTYPE) await this.opts.mounter.unmount(mp, { lazy: true }).catch(() => undefined);
        throw unavailable(`pool ${pool.name}: the FUSE server's mount at ${mp} did not answer within ${this.startTimeoutMs} ms (last state: ${st.state}); server log ${logPath}: ${tail(logPath, logStart)}`);
      }
      await sleep(50);
    }
  }

  /**
   * Periodic health check: logs an error when a pool's FUSE mount died or stopped answering, and
   * when it recovers. Only pools that are mounted (or were) are looked at; the timer is unref'd.
   */
  startHealthChecks(intervalMs = 10_000): void {
    if (this.healthTimer) return;
    let running = false;
    this.healthTimer = setInterval(() => {
      if (running) return;
      running = true;
      void this.checkHealth().finally(() => (running = false));
    }, intervalMs);
    this.healthTimer.unref();
  }

  stopHealthChecks(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
  }

  /** One round of the health check; returns each pool's state. */
  async checkHealth(): Promise<Record<string, PoolMountState['state']>> {
    const out: Record<string, PoolMountState['state']> = {};
    let mounts: MountInfo[];
    try {
      mounts = readMountinfo();
    } catch (e) {
      this.opts.logger.error('cannot read the mount table', { error: (e as Error).message });
      return out;
    }
    for (const pool of this.opts.pools) {
      const st = await this.state(pool.name, mounts);
      out[pool.name] = st.state;
      const before = this.lastHealth.get(pool.name);
      this.lastHealth.set(pool.name, st.state);
      if (before === st.state) continue;
      const where = { pool: pool.name, mountpoint: this.mountpoint(pool.name), serverLog: this.logFile(pool.name) };
      if (st.state === 'dead' || st.state === 'unresponsive') {
        this.opts.logger.error(`pool FUSE mount is ${st.state}: volumes of this pool on this node fail until the next NodeStage of the pool replaces the server (pods must be restarted to get a working mount)`, { ...where, error: st.error });
      } else if (st.state === 'foreign') {
        this.opts.logger.error('pool mount point holds a mount that is not famfs', { ...where, fsType: st.mount.fsType });
      } else if (st.state === 'healthy') {
        this.opts.logger.info(before === undefined ? 'pool FUSE mount found and adopted' : 'pool FUSE mount is healthy', { ...where, device: `${st.mount.major}:${st.mount.minor}` });
      } else if (st.state === 'absent' && before !== undefined) {
        this.opts.logger.warn('pool FUSE mount is gone', where);
      }
    }
    return out;
  }
}

function rotate(logPath: string): void {
  try {
    if (statSync(logPath).size > LOG_ROTATE_BYTES) renameSync(logPath, `${logPath}.1`);
  } catch {
    /* no log yet */
  }
}

/** The last bytes a server wrote to its log since `from`, on one line. */
function tail(logPath: string, from: number): string {
  try {
    const size = statSync(logPath).size;
    const start = Math.max(from, size - LOG_TAIL_BYTES);
    const buf = Buffer.alloc(Math.max(0, size - start));
    const fd = openSync(logPath, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    const text = buf.toString('utf8').trim().replace(/\s*\n\s*/g, ' | ');
    return text.length > 0 ? text : '(empty)';
  } catch (e) {
    return `(cannot read: ${(e as Error).message})`;
  }
}
