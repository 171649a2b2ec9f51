import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, FM_ALL_HOSTS_RW, LOG_OFFSET, logCapacity } from './constants.js';
import { FamfsError } from './errors.js';
import { openDaxDevice } from './dax/device.js';
import type { DaxDevice } from './dax/device.js';
import { flushCache, invalidateCache } from './dax/native.js';
import { SUPERBLOCK_STRUCT_SIZE, checkSuperblock, setSystemUuid } from './superblock.js';
import type { Superblock } from './superblock.js';
import { logHeaderProblem } from './logHeader.js';
import { FamfsLog } from './log.js';
import { Replayer } from './replay.js';
import type { Reclaim } from './replay.js';
import type { AllocatorOptions, InterleaveParams } from './allocator.js';
import type { DirNode, FamfsNode, FileNode, Namespace } from './namespace.js';
import { relpathProblem, splitParent } from './paths.js';
import { fmapDeviceRanges } from './fmap.js';
import type { Fmap } from './fmap.js';
import { zeroRanges } from './zeroFill.js';
import type { Progress } from './zeroFill.js';
import { readOrCreateSystemUuid } from './systemUuid.js';

export interface PoolOptions {
  /** Open for appending (default true). Read-only pools never take the writer lock. */
  writable?: boolean;
  /** Default: 'safe' for emulated devices, 'never' for real devdax (see README). */
  reclaim?: Reclaim;
  /** This host's identity; default /opt/famfs/system_uuid (created if missing) when writable. */
  systemUuid?: string;
  /** Become the pool's master if the superblock names another host. */
  takeOver?: boolean;
  allocator?: AllocatorOptions;
  /** How long a writer waits for another process's lock on the device (default 30 s). */
  lockTimeoutMs?: number;
  /** Progress of the initial replay: entries done of total (big logs take a while). */
  replayProgress?: (done: number, total: number) => void;
}

export interface Ownership {
  uid?: number;
  gid?: number;
  mode?: number;
}

export interface CreateFileOptions extends Ownership {
  /** Create missing parent directories (mode 0755, root-owned) in the same writer session. */
  parents?: boolean;
  /** Striped allocation; contiguous when absent. */
  interleave?: InterleaveParams;
  progress?: Progress;
}

export interface PoolStats {
  device: string;
  kind: DaxDevice['kind'];
  version: number;
  omf: string;
  uuid: string;
  master: string;
  isMaster: boolean;
  reclaim: Reclaim;
  deviceSize: number;
  dataSize: number;
  usedBytes: number;
  freeBytes: number;
  largestFreeRun: number;
  files: number;
  directories: number;
  tombstones: number;
  logEntriesUsed: number;
  logEntriesFree: number;
  logEntriesTotal: number;
  problems: number;
}

/** A famfs pool: its device, superblock and log, replayed into a namespace and a space map. */
export class Pool {
  readonly superblock: Superblock;
  readonly log: FamfsLog;
  readonly reclaim: Reclaim;
  private replayer: Replayer;
  private readonly sbView: Buffer;
  private readonly hostUuid: string | undefined;
  private mutex: Promise<void> = Promise.resolve();

  private constructor(
    readonly device: DaxDevice,
    private readonly opts: PoolOptions,
  ) {
    this.sbView = device.map(0, SUPERBLOCK_STRUCT_SIZE);
    invalidateCache(this.sbView);
    const verdict = checkSuperblock(this.sbView);
    if (!verdict.ok) {
      const code = verdict.kind === 'no-superblock' ? 'NO_SUPERBLOCK' : verdict.kind === 'bad-version' ? 'BAD_VERSION' : 'CORRUPT';
      throw new FamfsError(code, `${device.path}: ${verdict.reason}`);
    }
    this.superblock = verdict.superblock;
    const sb = this.superblock;
    if (LOG_OFFSET + sb.logLen > device.size) throw new FamfsError('CORRUPT', `${device.path}: the ${sb.logLen}-byte log does not fit the ${device.size}-byte device`);
    const region = device.map(LOG_OFFSET, sb.logLen);
    const headerProblem = logHeaderProblem(region, sb.logLen);
    if (headerProblem) throw new FamfsError('CORRUPT', `${device.path}: ${headerProblem}`);
    this.log = new FamfsLog(region, logCapacity(sb.logLen) - 1);
    this.reclaim = opts.reclaim ?? (device.kind === 'emulated' ? 'safe' : 'never');
    this.hostUuid = opts.systemUuid?.toLowerCase() ?? (device.writable && opts.writable !== false ? readOrCreateSystemUuid() : undefined);
    this.replayer = this.newReplayer();
    this.refresh(opts.replayProgress);
  }

  /** Opens the pool on `device` (a path: devdax or emulated file, or an open device). */
  static open(device: string | DaxDevice, opts: PoolOptions = {}): Pool {
    const dev = typeof device === 'string' ? openDaxDevice(device, { writable: opts.writable ?? true }) : device;
    try {
      return new Pool(dev, opts);
    } catch (e) {
      if (typeof device === 'string') dev.close();
      throw e;
    }
  }

  private newReplayer(): Replayer {
    const sb = this.superblock;
    return new Replayer({
      version: sb.version,
      allocUnit: sb.allocUnit,
      deviceSize: Math.min(sb.deviceSize, this.device.size),
      reservedBytes: LOG_OFFSET + sb.logLen,
      reclaim: this.reclaim,
    });
  }

  get namespace(): Namespace {
    return this.replayer.namespace;
  }

  get replay(): Replayer {
    return this.replayer;
  }

  /** Applies entries other writers appended since the last look; true if anything changed. */
  refresh(progress?: (done: number, total: number) => void): boolean {
    const header = this.log.header();
    if (header.nextIndex < this.replayer.applied) this.replayer = this.newReplayer(); // the log was re-made
    const from = this.replayer.applied;
    if (header.nextIndex === from) return false;
    this.log.readyEntries(from, header.nextIndex);
    this.replayer.apply(this.log.region, header.nextIndex, progress);
    return true;
  }

  lookup(relpath: string): FamfsNode | undefined {
    return this.namespace.lookup(relpath);
  }

  isMaster(): boolean {
    return this.hostUuid !== undefined && this.hostUuid === this.currentMaster();
  }

  private currentMaster(): string {
    invalidateCache(this.sbView);
    const verdict = checkSuperblock(this.sbView);
    return verdict.superblock.systemUuid;
  }

  stats(): PoolStats {
    const sb = this.superblock;
    const r = this.replayer;
    const used = this.log.header().nextIndex;
    return {
      device: this.device.path,
      kind: this.device.kind,
      version: sb.version,
      omf: `${sb.omfMajor}.${sb.omfMinor}`,
      uuid: sb.uuid,
      master: this.currentMaster(),
      isMaster: this.isMaster(),
      reclaim: this.reclaim,
      deviceSize: sb.deviceSize,
      dataSize: r.space.unitCount * sb.allocUnit - LOG_OFFSET - sb.logLen,
      usedBytes: r.space.usedBytes - LOG_OFFSET - sb.logLen,
      freeBytes: r.space.freeBytes,
      largestFreeRun: r.space.largestFreeRun(),
      files: r.namespace.fileCount,
      directories: r.namespace.dirCount,
      tombstones: r.tombstones.length,
      logEntriesUsed: used,
      logEntriesFree: this.log.entriesLeft(used),
      logEntriesTotal: this.log.lastIndex + 1,
      problems: r.problems.length,
    };
  }

  /**
   * Runs `fn` as the pool's single writer: serialized within the process, flock(LOCK_EX) on the
   * device across processes of this host, caught up with the log, and on the master host only.
   */
  private async asWriter<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.mutex;
    let release!: () => void;
    this.mutex = new Promise<void>((r) => (release = r));
    await previous;
    try {
      if (!this.device.writable || this.opts.writable === false) throw new FamfsError('READ_ONLY', `pool on ${this.device.path} is open read-only`);
      await this.lockDevice();
      try {
        this.ensureMaster();
        this.refresh();
        if (this.replayer.stopped) {
          throw new FamfsError('CORRUPT', `${this.device.path}: log entry ${this.replayer.stopped.index} is corrupt (${this.replayer.stopped.reason}); refusing to append until fsck passes`);
        }
        return await fn();
      } finally {
        this.device.unlock();
      }
    } finally {
      release();
    }
  }

  private async lockDevice(): Promise<void> {
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 30_000);
    while (!this.device.tryLock()) {
      if (Date.now() > deadline) throw new FamfsError('DEVICE', `timed out waiting for another process's writer lock on ${this.device.path}`);
      await sleep(5);
    }
  }

  private ensureMaster(): void {
    const master = this.currentMaster();
    if (master === this.hostUuid) return;
    if (!this.opts.takeOver) {
      throw new FamfsError('NOT_MASTER', `this host (system uuid ${this.hostUuid}) is not the master of the pool on ${this.device.path} (master ${master}); only the master appends to the log. Take over to make this host the master`, {
        master,
        host: this.hostUuid,
      });
    }
    setSystemUuid(this.sbView, this.hostUuid!);
    flushCache(this.sbView);
    (this.superblock as { systemUuid: string }).systemUuid = this.hostUuid!;
  }

  private checkNewPath(relpath: string): DirNode {
    const problem = relpathProblem(relpath);
    if (problem) throw new FamfsError('INVALID', problem);
    const { parent } = splitParent(relpath);
    const dir = this.namespace.lookup(parent);
    if (!dir) throw new FamfsError('NOT_FOUND', `parent directory "${parent}" of "${relpath}" does not exist`);
    if (dir.kind !== 'dir') throw new FamfsError('INVALID', `parent "${parent}" of "${relpath}" is a file`);
    return dir;
  }

  private ownership(o: Ownership, defaultMode: number): { uid: number; gid: number; mode: number } {
    const mode = o.mode ?? defaultMode;
    const uid = o.uid ?? 0;
    const gid = o.gid ?? 0;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new FamfsError('INVALID', `mode ${mode} must be permission bits (0..07777)`);
    for (const [name, v] of [['uid', uid], ['gid', gid]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw new FamfsError('INVALID', `${name} ${v} must be an integer 0..4294967294`);
    }
    return { uid, gid, mode };
  }

  private requireLogRoom(entries: number): void {
    const left = this.log.entriesLeft(this.replayer.applied);
    if (left < entries) throw new FamfsError('LOG_FULL', `log full: ${left} of ${this.log.lastIndex + 1} entries left, ${entries} needed`, { left });
  }

  /** The directories of `relpath` (itself included) that do not exist yet, outermost first. */
  private missingDirs(relpath: string): string[] {
    const parts = relpath.split('/');
    const missing: string[] = [];
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const node = this.namespace.lookup(p);
      if (node?.kind === 'file') throw new FamfsError('EXISTS', `"${p}" exists and is a file`);
      if (!node) missing.push(p);
    }
    return missing;
  }

  /** famfs mkdir (with parents: mkdir -p, one entry per missing level). Existing directories are fine. */
  async mkdir(relpath: string, o: Ownership & { parents?: boolean } = {}): Promise<DirNode> {
    return this.asWriter(async () => {
      const own = this.ownership(o, DEFAULT_DIR_MODE);
      const problem = relpathProblem(relpath);
      if (problem) throw new FamfsError('INVALID', problem);
      const missing = this.missingDirs(relpath);
      if (missing.length > 1 && !o.parents) this.checkNewPath(relpath);
      this.requireLogRoom(missing.length);
      for (const p of missing) this.log.append({ type: 'mkdir', relpath: p, ...own });
      this.refresh();
      return this.namespace.lookup(relpath) as DirNode;
    });
  }

  /**
   * famfs creat: allocates `size` bytes (rounded up to 2 MiB), zero-fills them, then logs the file.
   * Allocation is committed by the append; a crash before it leaks nothing.
   */
  async createFile(relpath: string, size: number, o: CreateFileOptions = {}): Promise<FileNode> {
    return this.asWriter(async () => {
      const own = this.ownership(o, DEFAULT_FILE_MODE);
      if (!Number.isSafeInteger(size) || size <= 0) throw new FamfsError('INVALID', `size ${size} must be a positive integer (famfs files are pre-allocated and never empty)`);
      const problem = relpathProblem(relpath);
      if (problem) throw new FamfsError('INVALID', problem);
      const parent = splitParent(relpath).parent;
      const parents = o.parents && parent ? this.missingDirs(parent) : [];
      if (!o.parents) this.checkNewPath(relpath);
      if (this.namespace.lookup(relpath)) throw new FamfsError('EXISTS', `"${relpath}" already exists`);
      this.requireLogRoom(parents.length + 1);
      // Allocate before anything is logged: a request that cannot fit leaves no entry behind.
      const space = this.replayer.space;
      const fmap: Fmap = o.interleave ? space.allocInterleaved(size, o.interleave, this.opts.allocator) : space.allocContiguous(size);
      await zeroRanges(this.device, fmapDeviceRanges(fmap), o.progress);
      for (const dir of parents) this.log.append({ type: 'mkdir', relpath: dir, uid: 0, gid: 0, mode: DEFAULT_DIR_MODE });
      this.log.append({ type: 'file', relpath, size, flags: FM_ALL_HOSTS_RW, ...own, fmap });
      this.refresh();
      return this.namespace.lookup(relpath) as FileNode;
    });
  }

  /** Appends a delete tombstone for `relpath` (a file, or a directory with everything under it). */
  async remove(relpath: string): Promise<void> {
    await this.asWriter(async () => {
      const problem = relpathProblem(relpath);
      if (problem) throw new FamfsError('INVALID', problem);
      const node = this.namespace.lookup(relpath);
      if (!node) throw new FamfsError('NOT_FOUND', `"${relpath}" does not exist`);
      this.requireLogRoom(1);
      this.log.append({ type: 'delete', relpath, uid: node.uid, gid: node.gid, mode: node.mode });
      this.refresh();
    });
  }

  close(): void {
    this.device.close();
  }
}
