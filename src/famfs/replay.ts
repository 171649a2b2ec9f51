import { LOG_ENTRY_SIZE, LOG_HEADER_SIZE } from './constants.js';
import { entryCrc, decodeEntry } from './logEntry.js';
import type { FileEntry, LogEntry } from './logEntry.js';
import { Namespace } from './namespace.js';
import type { FileNode } from './namespace.js';
import { MAX_LOGGED_RELPATH_BYTES, relpathProblem, splitParent } from './paths.js';
import { SpaceMap } from './allocator.js';
import { fileEntryProblem } from './entryChecks.js';
import { fmapDeviceRanges } from './fmap.js';
import { readU64 } from './bytes.js';

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
    while (this.applied < nextIndex && !this.stopped) {
      const i = this.applied;
      if (progress && i % PROGRESS_EVERY === 0) progress(i, nextIndex);
      const off = LOG_HEADER_SIZE + i * LOG_ENTRY_SIZE;
      const problem = entryIntegrityProblem(log, off, i);
      if (problem) {
        this.stopped = { index: i, severity: 'fatal', reason: problem };
        this.problems.push(this.stopped);
        return;
      }
      this.applyEntry(decodeEntry(log, off, this.geometry.version), i);
      this.applied++;
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
        const problem = this.pathProblem(e.relpath);
        if (problem) return this.report(i, 'error', `mkdir: ${problem}`);
        const existing = this.namespace.lookup(e.relpath);
        if (existing?.kind === 'dir') return; // famfs: an existing directory is normal
        if (existing) return this.report(i, 'error', `mkdir "${e.relpath}": a file of that name exists (entry ${existing.index})`);
        this.namespace.insert({ kind: 'dir', name: splitParent(e.relpath).name, relpath: e.relpath, index: i, uid: e.uid, gid: e.gid, mode: e.mode & 0o7777, children: new Map() });
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

  private pathProblem(relpath: string): string | null {
    const problem = relpathProblem(relpath, MAX_LOGGED_RELPATH_BYTES);
    if (problem) return problem;
    const parent = splitParent(relpath).parent;
    const dir = this.namespace.lookup(parent);
    if (!dir) return `parent directory "${parent}" of "${relpath}" was not created by an earlier entry`;
    if (dir.kind !== 'dir') return `parent "${parent}" of "${relpath}" is a file`;
    return null;
  }

  private applyFile(e: FileEntry, i: number): void {
    const problem = this.pathProblem(e.relpath) ?? fileEntryProblem(e, this.geometry.allocUnit, this.geometry.deviceSize);
    if (problem) return this.report(i, 'error', `file "${e.relpath}": ${problem}`);
    const existing = this.namespace.lookup(e.relpath);
    if (existing) return this.report(i, 'error', `file "${e.relpath}": path already exists (entry ${existing.index}); entry ignored`);
    for (const r of fmapDeviceRanges(e.fmap)) {
      const others = this.space.claim(r, i);
      if (others.length > 0) {
        this.collisions++;
        this.report(i, 'error', `allocation collision: file "${e.relpath}" extent [${r.offset}, ${r.offset + r.length}) overlaps ${others.map(ownerName).join(', ')}`);
      }
    }
    this.namespace.insert({
      kind: 'file',
      name: splitParent(e.relpath).name,
      relpath: e.relpath,
      index: i,
      size: e.size,
      flags: e.flags,
      uid: e.uid,
      gid: e.gid,
      mode: e.mode & 0o7777,
      fmap: e.fmap,
    });
  }
}

function ownerName(owner: number): string {
  return owner === -2 ? 'the superblock/log region' : `entry ${owner}`;
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
