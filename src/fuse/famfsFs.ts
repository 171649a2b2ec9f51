import { constants } from 'node:os';
import { FOPEN_DIRECT_IO, ROOT_ID, InitFlag, direntSize, writeDirent } from './abi.js';
import type { Attr, Entry, StatFs } from './abi.js';
import { FuseErrno } from './ops.js';
import type { FuseOps, Negotiated } from './ops.js';
import { FuseFamfsFileType, LOG_OFFSET, SUPERBLOCK_SIZE, encodeGetFmapReply, mapFileRange } from '../famfs/index.js';
import type { FamfsNode, Fmap, Pool } from '../famfs/index.js';
import { damageUnder } from '../famfs/health/damage.js';
import { describeError } from '../famfs/health/memoryError.js';
import type { MemoryError } from '../famfs/health/memoryError.js';

const E = constants.errno;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const DT_DIR = 4;
const DT_REG = 8;
const O_ACCMODE = 3;
const O_RDONLY = 0;

/** Node ids: the root is 1, the .meta files are fixed, log entry i is i + FIRST_ENTRY_ID. */
const META_DIR_ID = 2;
const SUPERBLOCK_ID = 3;
const LOG_ID = 4;
const FIRST_ENTRY_ID = 16;
/**
 * Names are never cached by the kernel (every path walk asks LOOKUP, which catches up with the
 * log), so a deleted and re-created volume is seen at once; attributes of a node (size, mode,
 * owner) never change and may be cached for a second.
 */
const ENTRY_TTL_MS = 0;
const ATTR_TTL_MS = 1000;
/** READ/WRITE on an open file re-check the log at most this often (a tombstone ends access). */
const DATA_RECHECK_MS = 200;

type Served =
  | { kind: 'root' }
  | { kind: 'metaDir' }
  | { kind: 'meta'; id: typeof SUPERBLOCK_ID | typeof LOG_ID; name: string; offset: number; size: number }
  | { kind: 'node'; node: FamfsNode };

/**
 * The famfs namespace of a pool as a FUSE file system: one directory tree replayed from the log,
 * plus .meta/.superblock and .meta/.log as famfs exposes them. Every LOOKUP, OPEN and GETATTR
 * first catches up with the log (next_index), so a node never serves a file that was deleted or
 * misses one that was created. File data is served from the device by the fmap address math
 * (direct I/O: every read and write goes to the memory), unless the kernel maps it itself
 * (FUSE_DAX_FMAP, famfs-enabled kernels), in which case GET_FMAP / GET_DAXDEV are answered.
 */
export class FamfsFileSystem implements FuseOps {
  private byId = new Map<number, FamfsNode>();
  private daxFmap = false;
  private readonly started = Math.floor(Date.now() / 1000);
  private lastCheck = 0;

  constructor(
    private readonly pool: Pool,
    private readonly opts: {
      daxdevPath?: string;
      onChange?(): void;
      /** Memory errors on the pool's device now: I/O touching them fails with EIO. */
      memoryErrors?(): readonly MemoryError[];
    } = {},
  ) {
    this.reindex();
  }

  get usesDaxFmap(): boolean {
    return this.daxFmap;
  }

  wantsDaxFmap(): boolean {
    return this.pool.device.kind === 'devdax';
  }

  init(_kernel: unknown, negotiated: Negotiated): void {
    this.daxFmap = (negotiated.flags & InitFlag.DAX_FMAP) !== 0n;
  }

  private reindex(): void {
    this.byId = new Map();
    for (const n of this.pool.namespace.walk()) this.byId.set(n.index + FIRST_ENTRY_ID, n);
  }

  /** Catches up with the log; cheap when nothing changed (one header read). */
  private refresh(): void {
    this.lastCheck = Date.now();
    if (this.pool.refresh()) {
      this.reindex();
      this.opts.onChange?.();
    }
  }

  private served(nodeid: number): Served {
    if (nodeid === ROOT_ID) return { kind: 'root' };
    if (nodeid === META_DIR_ID) return { kind: 'metaDir' };
    if (nodeid === SUPERBLOCK_ID) return { kind: 'meta', id: SUPERBLOCK_ID, name: '.superblock', offset: 0, size: SUPERBLOCK_SIZE };
    if (nodeid === LOG_ID) return { kind: 'meta', id: LOG_ID, name: '.log', offset: LOG_OFFSET, size: this.pool.superblock.logLen };
    const node = this.byId.get(nodeid);
    if (!node) throw new FuseErrno(E.ENOENT, `node ${nodeid} is not in the namespace (deleted?)`);
    return { kind: 'node', node };
  }

  private attr(nodeid: number, s: Served): Attr {
    const base = { ino: nodeid, atime: this.started, mtime: this.started, ctime: this.started, blksize: 1024 * 1024 };
    switch (s.kind) {
      case 'root':
        return { ...base, size: 0, blocks: 0, mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0 };
      case 'metaDir':
        return { ...base, size: 0, blocks: 0, mode: S_IFDIR | 0o755, nlink: 2, uid: 0, gid: 0 };
      case 'meta':
        return { ...base, size: s.size, blocks: Math.ceil(s.size / 512), mode: S_IFREG | 0o444, nlink: 1, uid: 0, gid: 0 };
      case 'node': {
        const n = s.node;
        if (n.kind === 'dir') return { ...base, size: 0, blocks: 0, mode: S_IFDIR | n.mode, nlink: 2, uid: n.uid, gid: n.gid };
        return { ...base, size: n.size, blocks: Math.ceil(n.size / 512), mode: S_IFREG | n.mode, nlink: 1, uid: n.uid, gid: n.gid };
      }
    }
  }

  private entry(nodeid: number, s: Served): Entry {
    return { nodeid, generation: 0, entryValidMs: ENTRY_TTL_MS, attrValidMs: ATTR_TTL_MS, attr: this.attr(nodeid, s) };
  }

  private children(nodeid: number, s: Served): [string, number][] {
    if (s.kind === 'metaDir') return [['.superblock', SUPERBLOCK_ID], ['.log', LOG_ID]];
    const dir = s.kind === 'root' ? this.pool.namespace.root : s.kind === 'node' && s.node.kind === 'dir' ? s.node : undefined;
    if (!dir) throw new FuseErrno(E.ENOTDIR);
    const out: [string, number][] = [];
    if (nodeid === ROOT_ID) out.push(['.meta', META_DIR_ID]);
    for (const [name, child] of dir.children) out.push([name, child.index + FIRST_ENTRY_ID]);
    return out;
  }

  lookup(parent: number, name: string): Entry {
    this.refresh();
    const id = this.childId(parent, this.served(parent), name);
    if (id === undefined) throw new FuseErrno(E.ENOENT);
    return this.entry(id, this.served(id));
  }

  private childId(nodeid: number, s: Served, name: string): number | undefined {
    if (s.kind === 'metaDir') return name === '.superblock' ? SUPERBLOCK_ID : name === '.log' ? LOG_ID : undefined;
    if (nodeid === ROOT_ID && name === '.meta') return META_DIR_ID;
    const dir = s.kind === 'root' ? this.pool.namespace.root : s.kind === 'node' && s.node.kind === 'dir' ? s.node : undefined;
    if (!dir) throw new FuseErrno(E.ENOTDIR);
    const child = dir.children.get(name);
    return child ? child.index + FIRST_ENTRY_ID : undefined;
  }

  forget(): void {
    // Node ids are derived from log indexes; nothing is allocated per lookup.
  }

  getattr(nodeid: number): { attr: Attr; validMs: number } {
    this.refresh();
    return { attr: this.attr(nodeid, this.served(nodeid)), validMs: ATTR_TTL_MS };
  }

  setattr(nodeid: number, change: { size?: number; mode?: number; uid?: number; gid?: number; times: boolean }): { attr: Attr; validMs: number } {
    const s = this.served(nodeid);
    const a = this.attr(nodeid, s);
    if (change.size !== undefined && change.size !== a.size) throw new FuseErrno(E.EPERM, 'famfs files never change size');
    if (change.mode !== undefined || change.uid !== undefined || change.gid !== undefined) throw new FuseErrno(E.EPERM, 'famfs ownership and modes are set by the log');
    return { attr: a, validMs: ATTR_TTL_MS }; // time updates are accepted and not kept: famfs has no times
  }

  open(nodeid: number, flags: number): { fh: number; openFlags: number } {
    this.refresh();
    const s = this.served(nodeid);
    if (s.kind === 'root' || s.kind === 'metaDir' || (s.kind === 'node' && s.node.kind === 'dir')) throw new FuseErrno(E.EISDIR);
    if (s.kind === 'meta' && (flags & O_ACCMODE) !== O_RDONLY) throw new FuseErrno(E.EACCES, '.meta files are read-only');
    const disabled = this.opts.memoryErrors?.().find((e) => e.range === null);
    if (disabled) throw new FuseErrno(E.EIO, `device disabled by a memory error: ${describeError(disabled)}`);
    // Served path: direct I/O, so every read and write reaches the shared memory and no node keeps
    // a stale page cache; mmap still works (FUSE_DIRECT_IO_ALLOW_MMAP). DAX path: the kernel
    // maps the memory itself after GET_FMAP.
    return { fh: 0, openFlags: this.daxFmap ? 0 : FOPEN_DIRECT_IO };
  }

  private dataTarget(nodeid: number): { fileSize: number; fmap: Fmap | null; base: number } {
    if (Date.now() - this.lastCheck > DATA_RECHECK_MS) this.refresh();
    const s = this.served(nodeid);
    if (s.kind === 'meta') return { fileSize: s.size, fmap: null, base: s.offset };
    if (s.kind !== 'node' || s.node.kind !== 'file') throw new FuseErrno(E.EISDIR);
    return { fileSize: s.node.size, fmap: s.node.fmap, base: 0 };
  }

  /** EIO when the file range lies on memory with an error (served path: no wrong bytes, ever). */
  private checkMemory(t: { fileSize: number; fmap: Fmap | null; base: number }, offset: number, length: number): void {
    const errors = this.opts.memoryErrors?.();
    if (!errors || errors.length === 0) return;
    const fmap: Fmap = t.fmap ?? { kind: 'simple', extents: [{ devIndex: 0, offset: t.base, length: t.fileSize }] };
    const hit = damageUnder(fmap, t.fileSize, offset, length, errors);
    if (hit) throw new FuseErrno(E.EIO, `file bytes ${offset}+${length} touch a memory error: ${describeError(hit)}`);
  }

  /** Returns views of the device memory itself: the kernel copies straight from the pool. */
  read(nodeid: number, _fh: number, offset: number, size: number): Buffer[] {
    const t = this.dataTarget(nodeid);
    if (offset >= t.fileSize || size === 0) return [];
    const length = Math.min(size, t.fileSize - offset);
    this.checkMemory(t, offset, length);
    const dev = this.pool.device;
    if (!t.fmap) return dev.views(t.base + offset, length);
    return mapFileRange(t.fmap, t.fileSize, offset, length).flatMap((seg) => dev.views(seg.deviceOffset, seg.length));
  }

  write(nodeid: number, _fh: number, offset: number, data: Buffer): number {
    const t = this.dataTarget(nodeid);
    if (!t.fmap) throw new FuseErrno(E.EPERM, '.meta files are read-only');
    if (data.length === 0) return 0;
    if (offset >= t.fileSize) throw new FuseErrno(E.EFBIG, 'famfs files never grow');
    const length = Math.min(data.length, t.fileSize - offset);
    this.checkMemory(t, offset, length);
    for (const seg of mapFileRange(t.fmap, t.fileSize, offset, length)) {
      let from = seg.fileOffset - offset;
      for (const view of this.pool.device.views(seg.deviceOffset, seg.length)) from += data.copy(view, 0, from, from + view.length);
    }
    return length;
  }

  release(): void {
    // No per-open state: reads and writes are served by node id.
  }

  opendir(nodeid: number): { fh: number } {
    this.refresh();
    this.children(nodeid, this.served(nodeid));
    return { fh: 0 };
  }

  /**
   * Directory offsets are cookies that stay valid while entries come and go: "." is 1, ".." is 2,
   * a child is its node id + 2. Children are kept in log order, so node ids only grow along the
   * listing and a reader resuming after a deletion neither skips nor repeats an entry.
   */
  readdir(nodeid: number, _fh: number, offset: number, size: number, plus: boolean): Buffer {
    this.refresh();
    const s = this.served(nodeid);
    // The kernel answers ".." itself; its inode number here is informational.
    const all: [string, number, number][] = [['.', nodeid, 1], ['..', ROOT_ID, 2], ...this.children(nodeid, s).map(([name, id]): [string, number, number] => [name, id, id + 2])];
    const out = Buffer.alloc(size);
    let used = 0;
    for (const [name, id, cookie] of all) {
      if (cookie <= offset) continue;
      const served = cookie <= 2 ? undefined : this.served(id);
      const type = served === undefined || served.kind === 'root' || served.kind === 'metaDir' || (served.kind === 'node' && served.node.kind === 'dir') ? DT_DIR : DT_REG;
      if (used + direntSize(name, plus) > size) break;
      // READDIRPLUS entries for "." and ".." carry no entry (nodeid 0): the kernel does not look them up.
      const entry = plus ? (served ? this.entry(id, served) : { nodeid: 0, generation: 0, entryValidMs: 0, attrValidMs: 0, attr: this.attr(nodeid, s) }) : undefined;
      used = writeDirent(out, used, id, cookie, type, name, entry);
    }
    return out.subarray(0, used);
  }

  releasedir(): void {}

  statfs(): StatFs {
    this.refresh();
    const replay = this.pool.replay;
    const free = replay.space.freeBytes;
    const entriesFree = this.pool.log.entriesLeft(replay.applied);
    const bsize = 4096;
    return {
      blocks: Math.floor(this.pool.superblock.deviceSize / bsize),
      bfree: Math.floor(free / bsize),
      bavail: Math.floor(free / bsize),
      files: replay.namespace.fileCount + replay.namespace.dirCount + entriesFree,
      ffree: entriesFree,
      bsize,
      namelen: 78,
      frsize: bsize,
    };
  }

  access(nodeid: number): void {
    this.served(nodeid);
  }

  getFmap(nodeid: number, bufferSize: number): Buffer {
    const s = this.served(nodeid);
    if (s.kind === 'meta') {
      const type = s.id === SUPERBLOCK_ID ? FuseFamfsFileType.superblock : FuseFamfsFileType.log;
      return encodeGetFmapReply({ kind: 'simple', extents: [{ devIndex: 0, offset: s.offset, length: s.size }] }, s.size, type, bufferSize);
    }
    if (s.kind !== 'node' || s.node.kind !== 'file') throw new FuseErrno(E.EINVAL, 'GET_FMAP of a directory');
    return encodeGetFmapReply(s.node.fmap, s.node.size, FuseFamfsFileType.regular, bufferSize);
  }

  /** struct fuse_daxdev_out (280 bytes): 0 u16 index  2 u16 reserved  4 u32 reserved2  8 u64 reserved3  16 u64 reserved4  24 char name[256] */
  getDaxdev(index: number): Buffer {
    if (index !== 0) throw new FuseErrno(E.EINVAL, `daxdev index ${index} does not exist (famfs pools have one)`);
    const out = Buffer.alloc(280);
    out.writeUInt16LE(index, 0);
    const path = this.opts.daxdevPath ?? this.pool.device.path;
    if (Buffer.byteLength(path) > 255) throw new FuseErrno(E.ENAMETOOLONG);
    out.write(path, 24, 'utf8');
    return out;
  }
}
