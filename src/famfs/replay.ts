import { LOG_ENTRY_SIZE, LOG_HEADER_SIZE, MAX_PATHLEN, MAX_SIMPLE_EXTENTS } from './constants.js';
import { ENTRY_CRC_OFFSET, entryCrc, decodeEntry } from './logEntry.js';
import type { FileEntry, LogEntry } from './logEntry.js';
import { HASH_SEED, Namespace, fileNode, hashFinish, hashStep } from './namespace.js';
import type { DirNode, FileNode } from './namespace.js';
import { MAX_LOGGED_RELPATH_BYTES, relpathProblem } from './paths.js';
import { COLLIDED, METADATA, SpaceMap } from './allocator.js';
import { fileEntryProblem } from './entryChecks.js';
import { fmapDeviceRanges } from './fmap.js';
import { readU64 } from './bytes.js';
import { addon } from './dax/native.js';

export type Reclaim = 'never' | 'safe';

/** Replay of a big log reports progress every this many entries. */
const PROGRESS_EVERY = 65536;

/**
 * fatal: the entry is torn or corrupt (seqnum or CRC); replay stops there, as famfs logplay aborts.
 * error: the entry is well-formed but cannot be applied (bad path, missing parent, bad fmap,
 *        allocation collision); it is reported and not applied.
 * warning: harmless oddities (deleting a missing path, entry types famfs also ignores).
 */
export interface ReplayProblem {
  index: number;
  severity: 'fatal' | 'error' | 'warning';
  reason: string;
}

export interface ReplayGeometry {
  version: number;
  allocUnit: number;
  /** Bytes the allocator may use: min(superblock dd_size, real device size). */
  deviceSize: number;
  /** Superblock plus log, never allocatable. */
  reservedBytes: number;
  reclaim: Reclaim;
}

export interface Tombstone {
  index: number;
  relpath: string;
}

/**
 * Replays log entries, in order, into a namespace and a space map. Replay is incremental: apply()
 * continues from the last applied index, which is how servers catch up when next_index moves.
 */
export class Replayer {
  readonly namespace = new Namespace();
  readonly space: SpaceMap;
  readonly problems: ReplayProblem[] = [];
  readonly tombstones: Tombstone[] = [];
  readonly daxdevs: { index: number; uuid: string; size: number }[] = [];
  /** Files removed by tombstones whose space stays allocated (reclaim: never). */
  readonly retired: FileNode[] = [];
  collisions = 0;
  /** Number of entries applied so far (the next index to apply). */
  applied = 0;
  /** Set once a fatal problem stopped replay. */
  stopped: ReplayProblem | null = null;

  readonly geometry: ReplayGeometry;

  constructor(geometry: ReplayGeometry) {
    // A copy made here, so every Replayer's geometry has the same hidden class.
    const { version, allocUnit, deviceSize, reservedBytes, reclaim } = geometry;
    this.geometry = { version, allocUnit, deviceSize, reservedBytes, reclaim };
    this.space = new SpaceMap(deviceSize, allocUnit, reservedBytes);
  }

  /** Applies entries [applied, nextIndex) of `log` (the log region, header at 0). */
  apply(log: Buffer, nextIndex: number, progress?: (done: number, total: number) => void): void {
    if (this.stopped || this.applied >= nextIndex) return;
    // Seqnums and CRCs of the whole range are checked natively in one pass; replay stops at the
    // first torn or corrupt entry, as famfs logplay aborts.
    const firstBad = addon.verifyLog(log, LOG_HEADER_SIZE, LOG_ENTRY_SIZE, this.applied, nextIndex);
    // `| 0`: an index read from the log header is a double; as a small integer it keeps entry
    // indices (and `applied`) small integers, which replay's optimized code is specialized for.
    const end = firstBad < 0 ? (nextIndex === (nextIndex | 0) ? nextIndex | 0 : nextIndex) : firstBad;
    const version = this.geometry.version;
    this.namespace.attachLog(log, this.applied, version);
    this.namespace.reserve(end);
    // Well-formed FILE entries with plain paths take the fast path: validated from the mapped
    // words and indexed without decoding. Anything else (or any doubt) takes the general path.
    const words = (log.byteOffset & 3) === 0 ? new Uint32Array(log.buffer, log.byteOffset, log.length >>> 2) : null;
    for (let i = this.applied; i < end; i++) {
      if (progress && i % PROGRESS_EVERY === 0) progress(i, nextIndex);
      if (words && this.indexFile(log, words, i)) continue;
      this.applyEntry(decodeEntry(log, LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE, version), i);
    }
    this.applied = end;
    if (firstBad >= 0) {
      const reason = entryIntegrityProblem(log, LOG_HEADER_SIZE + firstBad * LOG_ENTRY_SIZE, firstBad) ?? `entry ${firstBad}: failed verification`;
      this.stopped = { index: firstBad, severity: 'fatal', reason };
      this.problems.push(this.stopped);
    }
    progress?.(this.applied, nextIndex);
  }

  // The parent directory of the last indexed file, and its path bytes.
  private lastParent: DirNode | null = null;
  private lastParentLen = -1;
  private readonly lastParentBytes = new Uint8Array(MAX_PATHLEN);

  /**
   * The fast path of a FILE entry: when entry `i` is a FILE entry with a simple fmap, an ASCII
   * path that passes relpathProblem(), an existing parent directory, no node at its path and
   * extents that pass fileEntryProblem(), it is applied (space claimed, file indexed) and true is
   * returned. Otherwise nothing is changed and false is returned, and the general path decides,
   * with its exact problem messages. Words are little-endian u32s of the log region.
   */
  private indexFile(log: Buffer, w: Uint32Array, i: number): boolean {
    const off = LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE;
    const b = off >>> 2;
    // type FILE, simple fmap (fmap_ext_type @120 == 0), 1..16 extents (@128)
    if (w[b + 2] !== 0 || w[b + 30] !== 0) return false;
    const count = w[b + 32]!;
    if (count < 1 || count > MAX_SIMPLE_EXTENTS) return false;
    // The path @40: NUL-terminated within 80 bytes, ASCII, no empty, "." or ".." component.
    const p0 = off + 40;
    let h = HASH_SEED;
    let slash = -1;
    let len = 0;
    for (; len < MAX_PATHLEN; len++) {
      const c = log[p0 + len]!;
      if (c === 0) break;
      if (c >= 0x80) return false;
      if (c === 0x2f) {
        if (badComponent(log, p0 + slash + 1, len - slash - 1)) return false;
        slash = len;
      }
      h = hashStep(h, c);
    }
    if (len === MAX_PATHLEN || len === 0 || badComponent(log, p0 + slash + 1, len - slash - 1)) return false;
    h = hashFinish(h);
    // The parent directory: usually the previous file's.
    let parent: DirNode | undefined;
    if (slash < 0) parent = this.namespace.root;
    else if (this.lastParent && this.lastParentLen === slash && sameBytes(log, p0, this.lastParentBytes, slash)) parent = this.lastParent;
    else {
      parent = this.namespace.directory(log.toString('latin1', p0, p0 + slash));
      if (!parent) return false;
      this.lastParent = parent;
      this.lastParentLen = slash;
      for (let k = 0; k < slash; k++) this.lastParentBytes[k] = log[p0 + k]!;
    }
    // Nothing at that path yet (a hash hit, even a false one, goes the general way).
    if (this.namespace.hashTaken(h)) return false;
    // fileEntryProblem() of a simple fmap: extents @136 + 24k {devindex, offset, len}, size @16.
    const { allocUnit, deviceSize } = this.geometry;
    let capacity = 0;
    for (let k = 0, e = b + 34; k < count; k++, e += 6) {
      if (w[e] !== 0 || w[e + 1] !== 0 || w[e + 3]! > 0x1fffff || w[e + 5]! > 0x1fffff) return false;
      const offset = w[e + 3]! * 0x1_0000_0000 + w[e + 2]!;
      const length = w[e + 5]! * 0x1_0000_0000 + w[e + 4]!;
      if (offset === 0 || length === 0 || !isMultiple(offset, allocUnit) || !isMultiple(length, allocUnit) || offset + length > deviceSize) return false;
      capacity += length;
    }
    if (w[b + 5]! > 0x1fffff || w[b + 5]! * 0x1_0000_0000 + w[b + 4]! > capacity) return false;
    for (let k = 0, e = b + 34; k < count; k++, e += 6) {
      const offset = w[e + 3]! * 0x1_0000_0000 + w[e + 2]!;
      const length = w[e + 5]! * 0x1_0000_0000 + w[e + 4]!;
      const others = this.space.claimRange(offset, length, i);
      if (others.length > 0) {
        this.collisions++;
        this.report(i, 'error', `allocation collision: file "${log.toString('latin1', p0, p0 + len)}" extent [${offset}, ${offset + length}) overlaps ${others.map(ownerName).join(', ')}`);
      }
    }
    this.namespace.insertIndexedFile(i, parent, h, w[b + (ENTRY_CRC_OFFSET >>> 2)]!);
    return true;
  }

  private report(index: number, severity: ReplayProblem['severity'], reason: string): void {
    this.problems.push({ index, severity, reason });
  }

  private applyEntry(e: LogEntry, i: number): void {
    switch (e.type) {
      case 'file':
        return this.applyFile(e, i);
      case 'mkdir': {
        const parent = this.parentOf(e.relpath);
        if (typeof parent === 'string') return this.report(i, 'error', `mkdir: ${parent}`);
        const name = baseName(e.relpath);
        const existing = this.namespace.lookup(e.relpath); // the child `name` of `parent`
        if (existing?.kind === 'dir') return; // famfs: an existing directory is normal
        if (existing) return this.report(i, 'error', `mkdir "${e.relpath}": a file of that name exists (entry ${existing.index})`);
        this.namespace.insert(this.namespace.makeDir(e.relpath, name, i, e.uid, e.gid, e.mode & 0o7777), parent);
        return;
      }
      case 'delete': {
        const problem = relpathProblem(e.relpath, MAX_LOGGED_RELPATH_BYTES);
        if (problem) return this.report(i, 'error', `delete: ${problem}`);
        if (!this.namespace.lookup(e.relpath)) this.report(i, 'warning', `delete "${e.relpath}": no such path`);
        const removed = this.namespace.remove(e.relpath);
        this.lastParent = null;
        this.tombstones.push({ index: i, relpath: e.relpath });
        for (const f of removed) {
          if (this.geometry.reclaim === 'safe') for (const r of fmapDeviceRanges(f.fmap)) this.space.release(r, f.index);
          else this.retired.push(f);
        }
        return;
      }
      case 'addDaxdev':
        // famfs Phase 1 logplay ignores ADD_DAXDEV too; it is recorded for fsck and `pool ls`.
        this.daxdevs.push({ index: e.deviceIndex, uuid: e.deviceUuid, size: e.deviceSize });
        return;
      case 'unknown':
        return this.report(i, 'warning', `unknown entry type ${e.rawType} (famfs version ${this.geometry.version}); ignored as famfs does`);
    }
  }

  /** The existing parent directory of `relpath`, or why there is none (a string). */
  private parentOf(relpath: string): DirNode | string {
    const problem = relpathProblem(relpath, MAX_LOGGED_RELPATH_BYTES);
    if (problem) return problem;
    const slash = relpath.lastIndexOf('/');
    const parent = slash < 0 ? '' : relpath.slice(0, slash);
    const dir = this.namespace.directory(parent);
    if (dir) return dir;
    if (this.namespace.lookup(parent)) return `parent "${parent}" of "${relpath}" is a file`;
    return `parent directory "${parent}" of "${relpath}" was not created by an earlier entry`;
  }

  private applyFile(e: FileEntry, i: number): void {
    const parent = this.parentOf(e.relpath);
    const problem = typeof parent === 'string' ? parent : fileEntryProblem(e, this.geometry.allocUnit, this.geometry.deviceSize);
    if (problem !== null) return this.report(i, 'error', `file "${e.relpath}": ${problem}`);
    const dir = parent as DirNode;
    const existing = this.namespace.lookup(e.relpath);
    if (existing) return this.report(i, 'error', `file "${e.relpath}": path already exists (entry ${existing.index}); entry ignored`);
    for (const r of fmapDeviceRanges(e.fmap)) {
      const others = this.space.claim(r, i);
      if (others.length > 0) {
        this.collisions++;
        this.report(i, 'error', `allocation collision: file "${e.relpath}" extent [${r.offset}, ${r.offset + r.length}) overlaps ${others.map(ownerName).join(', ')}`);
      }
    }
    this.namespace.insert(fileNode(e, i), dir);
  }
}

/** Whether the path component buf[start, start+len) is empty, "." or "..". */
function badComponent(buf: Buffer, start: number, len: number): boolean {
  return len === 0 || (buf[start] === 0x2e && (len === 1 || (len === 2 && buf[start + 1] === 0x2e)));
}

function sameBytes(buf: Buffer, start: number, bytes: Uint8Array, len: number): boolean {
  for (let k = 0; k < len; k++) if (buf[start + k] !== bytes[k]) return false;
  return true;
}

/** n % unit === 0 without a floating-point remainder (as entryChecks). */
function isMultiple(n: number, unit: number): boolean {
  return Math.floor(n / unit) * unit === n;
}

function baseName(relpath: string): string {
  return relpath.slice(relpath.lastIndexOf('/') + 1);
}

function ownerName(owner: number): string {
  if (owner === METADATA) return 'the superblock/log region';
  if (owner === COLLIDED) return 'space already claimed by colliding entries';
  return `entry ${owner}`;
}

/** famfs's per-entry validation: seqnum == index and the CRC over [0, 536). */
export function entryIntegrityProblem(log: Buffer, offset: number, index: number): string | null {
  const seqnum = readU64(log, offset);
  if (seqnum !== index) return `entry ${index}: seqnum ${seqnum} does not match its index (torn or overwritten entry)`;
  const stored = readU64(log, offset + 536);
  const crc = entryCrc(log, offset);
  if (stored !== crc) return `entry ${index}: CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${crc.toString(16)}); the entry is torn or corrupt`;
  return null;
}

