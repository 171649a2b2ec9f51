import { splitParent } from './paths.js';
import { LOG_ENTRY_SIZE, LOG_HEADER_SIZE } from './constants.js';
import { ENTRY_CRC_OFFSET, decodeEntry } from './logEntry.js';
import type { FileEntry } from './logEntry.js';
import { FamfsError } from './errors.js';
import { addon } from './dax/native.js';

/** The in-memory tree a log replays into. `index` is the log entry that created the node. */
export interface FileNode extends Pick<FileEntry, 'relpath' | 'size' | 'flags' | 'uid' | 'gid' | 'mode' | 'fmap'> {
  kind: 'file';
  name: string;
  index: number;
}

export interface DirNode {
  kind: 'dir';
  name: string;
  relpath: string;
  index: number;
  uid: number;
  gid: number;
  mode: number;
  children: Map<string, FamfsNode>;
}

export type FamfsNode = FileNode | DirNode;

/** The namespace node of FILE entry `index`. */
export function fileNode(e: FileEntry, index: number): FileNode {
  return {
    kind: 'file',
    name: e.relpath.slice(e.relpath.lastIndexOf('/') + 1),
    relpath: e.relpath,
    index,
    size: e.size,
    flags: e.flags,
    uid: e.uid,
    gid: e.gid,
    mode: e.mode & 0o7777,
    fmap: e.fmap,
  };
}

const FILE = 1;
const DIR = 2;
const RELPATH_OFFSET = 40; // struct famfs_log_file_meta fm_relpath

/** FNV-1a step over one byte; path hashes are kept to 30 bits so they stay small integers. */
export function hashStep(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}
export const HASH_SEED = 0x811c9dc5 | 0;
export const hashFinish = (h: number): number => h & 0x3fffffff;

/** hashFinish(FNV-1a) over the UTF-8 bytes of `s`; ASCII strings are hashed without encoding. */
function hashString(s: string): number {
  let h = HASH_SEED;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x80) {
      h = HASH_SEED;
      for (const byte of Buffer.from(s, 'utf8')) h = hashStep(h, byte);
      return hashFinish(h);
    }
    h = hashStep(h, c);
  }
  return hashFinish(h);
}

/**
 * A directory whose `children` Map is built on first access: until then, replay only records the
 * entry indices of its children (files decode from the log when the Map is built).
 */
class IndexedDir implements DirNode {
  readonly kind = 'dir' as const;
  #ns: Namespace;
  /** Entry indices of children added before the Map was built; removed ones are skipped then. */
  #pending: number[] | null = [];
  #map: Map<string, FamfsNode> | null = null;

  constructor(
    ns: Namespace,
    public name: string,
    public relpath: string,
    public index: number,
    public uid: number,
    public gid: number,
    public mode: number,
  ) {
    this.#ns = ns;
  }

  get children(): Map<string, FamfsNode> {
    if (!this.#map) {
      const map = new Map<string, FamfsNode>();
      for (const i of this.#pending!) {
        const node = this.#ns.nodeAt(i);
        if (node) map.set(node.name, node);
      }
      this.#map = map;
      this.#pending = null;
    }
    return this.#map;
  }

  /** Adds child entry `index` (`node` when already built). */
  addChild(index: number, node: FamfsNode | undefined): void {
    if (this.#pending) this.#pending.push(index);
    else this.#map!.set((node ??= this.#ns.nodeAt(index)!).name, node);
  }

  removeChild(name: string): void {
    this.#map?.delete(name);
  }
}

interface LogSegment {
  from: number;
  buf: Buffer;
  version: number;
}

export class Namespace {
  readonly root: DirNode = new IndexedDir(this, '', '', -1, 0, 0, 0o755);
  /** Every directory by relpath, so a lookup costs one map get, not a walk. */
  private readonly dirs = new Map<string, DirNode>([['', this.root]]);
  private files = 0;

  // The replay index, by log entry index: what each entry created and is still live (FILE, DIR,
  // or 0), the stored CRC of files (re-checked when they are decoded), and the path hash of files
  // with a chain of files sharing a hash. Files decode from the log on first use.
  private live = new Uint8Array(1024);
  private crcs = new Uint32Array(1024);
  private hashes = new Int32Array(1024);
  private chain = new Int32Array(1024);
  private readonly fileHeads = new Map<number, number>();
  /** Number of live directories per path hash. */
  private readonly dirHashes = new Map<number, number>();
  private readonly dirsByIndex = new Map<number, DirNode>();
  private readonly fileNodes = new Map<number, FileNode>();
  private readonly segments: LogSegment[] = [];

  get fileCount(): number {
    return this.files;
  }

  get dirCount(): number {
    return this.dirs.size - 1;
  }

  directory(relpath: string): DirNode | undefined {
    return this.dirs.get(relpath);
  }

  lookup(relpath: string): FamfsNode | undefined {
    const dir = this.dirs.get(relpath);
    if (dir) return dir;
    const h = hashString(relpath);
    for (let i = this.fileHeads.get(h) ?? -1; i >= 0; i = this.chain[i]!) {
      if (this.fileIs(i, relpath)) return this.nodeAt(i);
    }
    return undefined;
  }

  /** A new directory node (not inserted yet). */
  makeDir(relpath: string, name: string, index: number, uid: number, gid: number, mode: number): DirNode {
    return new IndexedDir(this, name, relpath, index, uid, gid, mode);
  }

  /** Adds `node` under `parent` (default: looked up), which the caller has checked is a directory. */
  insert(node: FamfsNode, parent: DirNode = this.dirs.get(splitParent(node.relpath).parent)!): void {
    const i = node.index;
    this.grow(i);
    if (node.kind === 'file') {
      this.fileNodes.set(i, node);
      this.linkFile(i, hashString(node.relpath));
      this.files++;
    } else {
      this.live[i] = DIR;
      this.dirs.set(node.relpath, node);
      this.dirsByIndex.set(i, node);
      const h = hashString(node.relpath);
      this.dirHashes.set(h, (this.dirHashes.get(h) ?? 0) + 1);
    }
    this.addChild(parent, i, node);
  }

  /** Removes the node at `relpath` and everything under it; returns the removed files. */
  remove(relpath: string): FileNode[] {
    const { parent, name } = splitParent(relpath);
    const dir = this.dirs.get(parent);
    const node = dir && relpath !== '' ? this.lookup(relpath) : undefined;
    if (!dir || !node) return [];
    if (dir instanceof IndexedDir) dir.removeChild(name);
    else dir.children.delete(name);
    const removed: FileNode[] = [];
    for (const n of walk(node)) {
      if (n.kind === 'file') {
        removed.push(n);
        this.unlinkFile(n.index);
        this.files--;
      } else {
        this.dirs.delete(n.relpath);
        this.dirsByIndex.delete(n.index);
        this.live[n.index] = 0;
        const h = hashString(n.relpath);
        const count = this.dirHashes.get(h)! - 1;
        if (count === 0) this.dirHashes.delete(h);
        else this.dirHashes.set(h, count);
      }
    }
    return removed;
  }

  *walk(): Generator<FamfsNode> {
    for (const child of this.root.children.values()) yield* walk(child);
  }

  // --- the replay index (used by Replayer) ---

  /** Entries from `from` on are read from `buf` (the log region, header at 0). */
  attachLog(buf: Buffer, from: number, version: number): void {
    const last = this.segments[this.segments.length - 1];
    if (last && last.buf === buf && last.version === version) return;
    this.segments.push({ from, buf, version });
  }

  /** Sizes the replay index for entries [0, count) at once. */
  reserve(count: number): void {
    if (count > 0) this.grow(count - 1);
  }

  /** Whether a live file or directory may have path hash `h` (false: certainly none has). */
  hashTaken(h: number): boolean {
    return this.fileHeads.has(h) || this.dirHashes.has(h);
  }

  /**
   * Records FILE entry `i` of the attached log, already validated, under `parent`, without
   * decoding it: `h` is its path hash, `crc` the low word of its stored CRC.
   */
  insertIndexedFile(i: number, parent: DirNode, h: number, crc: number): void {
    this.grow(i);
    this.crcs[i] = crc;
    this.linkFile(i, h);
    this.files++;
    this.addChild(parent, i, undefined);
  }

  /** The live node entry `i` created, decoding a file from the log on first use. */
  nodeAt(i: number): FamfsNode | undefined {
    const kind = this.live[i];
    if (kind === DIR) return this.dirsByIndex.get(i);
    if (kind !== FILE) return undefined;
    let node = this.fileNodes.get(i);
    if (!node) {
      node = this.decodeFile(i);
      this.fileNodes.set(i, node);
    }
    return node;
  }

  private decodeFile(i: number): FileNode {
    const seg = this.segmentOf(i);
    const off = LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE;
    const e = addon.verifyLog(seg.buf, LOG_HEADER_SIZE, LOG_ENTRY_SIZE, i, i + 1) < 0 && seg.buf.readUInt32LE(off + ENTRY_CRC_OFFSET) === this.crcs[i] ? decodeEntry(seg.buf, off, seg.version) : undefined;
    if (e?.type !== 'file') throw new FamfsError('CORRUPT', `log entry ${i} changed after it was replayed (the log was overwritten); reopen the pool`);
    return fileNode(e, i);
  }

  private segmentOf(i: number): LogSegment {
    for (let k = this.segments.length - 1; k >= 0; k--) if (this.segments[k]!.from <= i) return this.segments[k]!;
    throw new Error(`log entry ${i} was not replayed from a log`);
  }

  /** Whether live file entry `i` has path `relpath`. */
  private fileIs(i: number, relpath: string): boolean {
    const node = this.fileNodes.get(i);
    if (node) return node.relpath === relpath;
    // Indexed files have ASCII paths of at most 79 bytes, NUL-terminated in the log.
    const seg = this.segmentOf(i);
    const p = LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE + RELPATH_OFFSET;
    const buf = seg.buf;
    for (let k = 0; k < relpath.length; k++) if (buf[p + k] !== relpath.charCodeAt(k)) return false;
    return buf[p + relpath.length] === 0;
  }

  private addChild(parent: DirNode, index: number, node: FamfsNode | undefined): void {
    if (parent instanceof IndexedDir) parent.addChild(index, node);
    else {
      const child = node ?? this.nodeAt(index)!;
      parent.children.set(child.name, child);
    }
  }

  private linkFile(i: number, h: number): void {
    this.live[i] = FILE;
    this.hashes[i] = h;
    this.chain[i] = this.fileHeads.get(h) ?? -1;
    this.fileHeads.set(h, i);
  }

  private unlinkFile(i: number): void {
    this.live[i] = 0;
    this.fileNodes.delete(i);
    const h = this.hashes[i]!;
    const head = this.fileHeads.get(h)!;
    if (head === i) {
      const next = this.chain[i]!;
      if (next < 0) this.fileHeads.delete(h);
      else this.fileHeads.set(h, next);
      return;
    }
    for (let p = head; p >= 0; p = this.chain[p]!) {
      if (this.chain[p] === i) {
        this.chain[p] = this.chain[i]!;
        return;
      }
    }
  }

  private grow(i: number): void {
    if (i < this.live.length) return;
    let n = this.live.length;
    while (n <= i) n *= 2;
    const grown = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.live = grown(this.live, (k) => new Uint8Array(k));
    this.crcs = grown(this.crcs, (k) => new Uint32Array(k));
    this.hashes = grown(this.hashes, (k) => new Int32Array(k));
    this.chain = grown(this.chain, (k) => new Int32Array(k));
  }
}

function* walk(node: FamfsNode): Generator<FamfsNode> {
  yield node;
  if (node.kind === 'dir') for (const child of node.children.values()) yield* walk(child);
}
