import { LOG_ENTRY_SIZE, LOG_HEADER_SIZE } from './constants.js';
import { entryCrc, decodeEntry } from './logEntry.js';
import type { FileEntry, LogEntry } from './logEntry.js';
import { Namespace } from './namespace.js';
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

  constructor(readonly geometry: ReplayGeometry) {
    this.space = new SpaceMap(geometry.deviceSize, geometry.allocUnit, geometry.reservedBytes);
  }

  /** Applies entries [applied, nextIndex) of `log` (the log region, header at 0). */
  apply(log: Buffer, nextIndex: number, progress?: (done: number, total: number) => void): void {
    if (this.stopped || this.applied >= nextIndex) return;
    // Seqnums and CRCs of the whole range are checked natively in one pass; replay stops at the
    // first torn or corrupt entry, as famfs logplay aborts.
    const firstBad = addon.verifyLog(log, LOG_HEADER_SIZE, LOG_ENTRY_SIZE, this.applied, nextIndex);
    const end = firstBad < 0 ? nextIndex : firstBad;
    const version = this.geometry.version;
    for (let i = this.applied; i < end; i++) {
      if (progress && i % PROGRESS_EVERY === 0) progress(i, nextIndex);
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
        const existing = parent.children.get(name);
        if (existing?.kind === 'dir') return; // famfs: an existing directory is normal
        if (existing) return this.report(i, 'error', `mkdir "${e.relpath}": a file of that name exists (entry ${existing.index})`);
        this.namespace.insert({ kind: 'dir', name, relpath: e.relpath, index: i, uid: e.uid, gid: e.gid, mode: e.mode & 0o7777, children: new Map() }, parent);
        return;
      }
      case 'delete': {
        const problem = relpathProblem(e.relpath, MAX_LOGGED_RELPATH_BYTES);
        if (problem) return this.report(i, 'error', `delete: ${problem}`);
        if (!this.namespace.lookup(e.relpath)) this.report(i, 'warning', `delete "${e.relpath}": no such path`);
        const removed = this.namespace.remove(e.relpath);
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
    const name = baseName(e.relpath);
    const existing = dir.children.get(name);
    if (existing) return this.report(i, 'error', `file "${e.relpath}": path already exists (entry ${existing.index}); entry ignored`);
    for (const r of fmapDeviceRanges(e.fmap)) {
      const others = this.space.claim(r, i);
      if (others.length > 0) {
        this.collisions++;
        this.report(i, 'error', `allocation collision: file "${e.relpath}" extent [${r.offset}, ${r.offset + r.length}) overlaps ${others.map(ownerName).join(', ')}`);
      }
    }
    this.namespace.insert(
      {
      kind: 'file',
      name,
      relpath: e.relpath,
      index: i,
      size: e.size,
      flags: e.flags,
      uid: e.uid,
      gid: e.gid,
      mode: e.mode & 0o7777,
      fmap: e.fmap,
      },
      dir,
    );
  }
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
