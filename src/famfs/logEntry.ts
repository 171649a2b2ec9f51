import { LOG_ENTRY_SIZE, MAX_PATHLEN, MAX_SIMPLE_EXTENTS, MAX_STRIPS } from './constants.js';
import { famfsCrc, writeCString, writeU64 } from './bytes.js';
import type { Fmap, SimpleExtent } from './fmap.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

/**
 * struct famfs_log_entry (544 bytes; CRC over bytes [0, 536), padding included, so every byte a
 * writer does not set must be zero):
 *
 *     0   8 seqnum (== the entry's index)     8   4 type     12   4 padding
 *    16 520 union, by type:
 *      FILE (0), struct famfs_log_file_meta:
 *        16   8 fm_size      24   4 fm_flags    28   4 fm_uid    32   4 fm_gid    36   4 fm_mode
 *        40  80 fm_relpath (NUL-padded, at most 79 bytes)
 *       120   4 fmap_ext_type (0 simple, 1 interleaved)   124 4 padding
 *       128   4 fmap_nextents / fmap_niext                132 4 padding
 *       136     simple:      se[16] of {u64 devindex, u64 offset, u64 len}, se[k] at 136 + 24k
 *       136     interleaved: ie[0] = {u64 nstrips @136, u64 chunk_size @144, strips[16] @152 + 24k}
 *      MKDIR (1), struct famfs_log_mkdir, and DELETE (2), the famfs-csi tombstone laid out the same:
 *        16   4 uid    20   4 gid    24   4 mode    28  80 relpath
 *      ADD_DAXDEV (3, version 48 only):
 *        16   8 dd_size    24  16 dd_uuid    40   4 dd_index
 *   536   8 crc
 */
export const EntryType = { file: 0, mkdir: 1, delete: 2, addDaxdev: 3 } as const;
export const ENTRY_CRC_OFFSET = 536;

const F = { size: 16, flags: 24, uid: 28, gid: 32, mode: 36, relpath: 40, extType: 120, nextents: 128, ext: 136 } as const;
const D = { uid: 16, gid: 20, mode: 24, relpath: 28 } as const;
const X = { size: 16, uuid: 24, index: 40 } as const;
const SIMPLE_EXT_SIZE = 24;
const IE_STRIPS = 152;

interface EntryBase {
  seqnum: number;
  crc: number;
}
export interface FileEntry extends EntryBase {
  type: 'file';
  relpath: string;
  size: number;
  flags: number;
  uid: number;
  gid: number;
  mode: number;
  fmap: Fmap;
  /** Set by decodeEntry when the stored fmap header (type, extent or strip count) is invalid. */
  layoutProblem?: string;
}
export interface DirEntry extends EntryBase {
  type: 'mkdir' | 'delete';
  relpath: string;
  uid: number;
  gid: number;
  mode: number;
}
export interface AddDaxdevEntry extends EntryBase {
  type: 'addDaxdev';
  deviceSize: number;
  deviceUuid: string;
  deviceIndex: number;
}
export interface UnknownEntry extends EntryBase {
  type: 'unknown';
  rawType: number;
}
export type LogEntry = FileEntry | DirEntry | AddDaxdevEntry | UnknownEntry;
export type NewLogEntry = Omit<FileEntry, 'seqnum' | 'crc' | 'layoutProblem'> | Omit<DirEntry, 'seqnum' | 'crc'> | Omit<AddDaxdevEntry, 'seqnum' | 'crc'>;

export function entryCrc(buf: Buffer, offset = 0): number {
  return famfsCrc(buf, offset, offset + ENTRY_CRC_OFFSET);
}

function writeExtent(buf: Buffer, off: number, e: SimpleExtent): void {
  writeU64(buf, off, e.devIndex);
  writeU64(buf, off + 8, e.offset);
  writeU64(buf, off + 16, e.length);
}

/** Encodes a complete 544-byte entry with the given seqnum and its CRC. */
export function encodeEntry(entry: NewLogEntry, seqnum: number): Buffer {
  const buf = Buffer.alloc(LOG_ENTRY_SIZE);
  writeU64(buf, 0, seqnum);
  buf.writeUInt32LE(EntryType[entry.type], 8);
  switch (entry.type) {
    case 'file': {
      writeU64(buf, F.size, entry.size);
      buf.writeUInt32LE(entry.flags, F.flags);
      buf.writeUInt32LE(entry.uid, F.uid);
      buf.writeUInt32LE(entry.gid, F.gid);
      buf.writeUInt32LE(entry.mode, F.mode);
      writeRelpath(buf, F.relpath, entry.relpath);
      const fmap = entry.fmap;
      if (fmap.kind === 'simple') {
        if (fmap.extents.length < 1 || fmap.extents.length > MAX_SIMPLE_EXTENTS) throw new RangeError(`a file has 1..${MAX_SIMPLE_EXTENTS} simple extents, got ${fmap.extents.length}`);
        buf.writeUInt32LE(0, F.extType);
        buf.writeUInt32LE(fmap.extents.length, F.nextents);
        fmap.extents.forEach((e, k) => writeExtent(buf, F.ext + SIMPLE_EXT_SIZE * k, e));
      } else {
        const ie = fmap.extents[0];
        if (fmap.extents.length !== 1 || !ie) throw new RangeError(`famfs logs exactly one interleaved extent, got ${fmap.extents.length}`);
        if (ie.strips.length < 1 || ie.strips.length > MAX_STRIPS) throw new RangeError(`an interleaved extent has 1..${MAX_STRIPS} strips, got ${ie.strips.length}`);
        buf.writeUInt32LE(1, F.extType);
        buf.writeUInt32LE(1, F.nextents);
        writeU64(buf, F.ext, ie.strips.length);
        writeU64(buf, F.ext + 8, ie.chunkSize);
        ie.strips.forEach((s, k) => writeExtent(buf, IE_STRIPS + SIMPLE_EXT_SIZE * k, s));
      }
      break;
    }
    case 'mkdir':
    case 'delete':
      buf.writeUInt32LE(entry.uid, D.uid);
      buf.writeUInt32LE(entry.gid, D.gid);
      buf.writeUInt32LE(entry.mode, D.mode);
      writeRelpath(buf, D.relpath, entry.relpath);
      break;
    case 'addDaxdev':
      writeU64(buf, X.size, entry.deviceSize);
      uuidToBytes(entry.deviceUuid).copy(buf, X.uuid);
      buf.writeUInt32LE(entry.deviceIndex, X.index);
      break;
  }
  writeU64(buf, ENTRY_CRC_OFFSET, entryCrc(buf));
  return buf;
}

function writeRelpath(buf: Buffer, off: number, relpath: string): void {
  if (Buffer.byteLength(relpath) >= MAX_PATHLEN) throw new RangeError(`relpath "${relpath}" is ${Buffer.byteLength(relpath)} bytes; famfs stores at most ${MAX_PATHLEN - 1}`);
  writeCString(buf, off, MAX_PATHLEN, relpath);
}

const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

// The entry decodeEntry() is reading: its words and the index of its first word.
let w: Uint32Array = new Uint32Array(0);
let base = 0;
const u32 = (o: number): number => w[base + (o >>> 2)]!;
function u64(o: number): number {
  const hi = w[base + (o >>> 2) + 1]!;
  return hi > 0x1fffff ? Number.NaN : hi * 0x1_0000_0000 + w[base + (o >>> 2)]!;
}
const extent = (o: number): SimpleExtent => ({ devIndex: u64(o), offset: u64(o + 8), length: u64(o + 16) });

/** A NUL-padded relpath: ASCII is decoded as latin1 (fast), anything else as UTF-8. */
function readRelpath(buf: Buffer, offset: number): string {
  const nul = buf.indexOf(0, offset);
  const end = nul === -1 || nul > offset + MAX_PATHLEN ? offset + MAX_PATHLEN : nul;
  const s = buf.toString('latin1', offset, end);
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(s) ? buf.toString('utf8', offset, end) : s;
}

/** A Uint32Array over the whole ArrayBuffer behind `buf`, so aligned fields read without bounds-checked calls. */
function wordView(buf: Buffer): Uint32Array {
  let view = wordViews.get(buf.buffer);
  if (!view || view.byteLength === 0) {
    view = new Uint32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
    wordViews.set(buf.buffer, view);
  }
  return view;
}

/**
 * Decodes the entry at `buf[offset, offset+544)` without validating it. `version` decides what
 * type 3 means: ADD_DAXDEV in version 48, the INVALID sentinel in version 47. Replay decodes
 * hundreds of thousands of entries, so fields are read as 32-bit words from the mapped log.
 */
export function decodeEntry(buf: Buffer, offset: number, version: number): LogEntry {
  if (offset < 0 || offset + LOG_ENTRY_SIZE > buf.length) throw new RangeError(`entry at ${offset} is outside the ${buf.length}-byte buffer`);
  if ((buf.byteOffset + offset) & 3) {
    const aligned = Buffer.alloc(LOG_ENTRY_SIZE);
    buf.copy(aligned, 0, offset, offset + LOG_ENTRY_SIZE);
    return decodeEntry(aligned, 0, version);
  }
  w = wordView(buf);
  base = (buf.byteOffset + offset) >>> 2;
  const seqnum = u64(0);
  const rawType = u32(8);
  const crc = u64(ENTRY_CRC_OFFSET);
  switch (rawType) {
    case EntryType.file: {
      const extType = u32(F.extType);
      const count = u32(F.nextents);
      let fmap: Fmap;
      let layoutProblem: string | undefined;
      if (extType === 1) {
        const nstrips = u64(F.ext);
        const strips: SimpleExtent[] = [];
        for (let k = 0; k < Math.min(nstrips, MAX_STRIPS); k++) strips.push(extent(IE_STRIPS + SIMPLE_EXT_SIZE * k));
        fmap = { kind: 'interleaved', extents: [{ chunkSize: u64(F.ext + 8), strips }] };
        if (count !== 1) layoutProblem = `${count} interleaved extents (famfs allows exactly 1)`;
        else if (!(nstrips >= 1 && nstrips <= MAX_STRIPS)) layoutProblem = `${nstrips} strips (famfs allows 1..${MAX_STRIPS})`;
      } else {
        const extents: SimpleExtent[] = [];
        for (let k = 0; k < Math.min(count, MAX_SIMPLE_EXTENTS); k++) extents.push(extent(F.ext + SIMPLE_EXT_SIZE * k));
        fmap = { kind: 'simple', extents };
        if (extType !== 0) layoutProblem = `unknown fmap extent type ${extType}`;
        else if (count < 1 || count > MAX_SIMPLE_EXTENTS) layoutProblem = `${count} simple extents (famfs allows 1..${MAX_SIMPLE_EXTENTS})`;
      }
      const entry: FileEntry = {
        type: 'file',
        seqnum,
        crc,
        size: u64(F.size),
        flags: u32(F.flags),
        uid: u32(F.uid),
        gid: u32(F.gid),
        mode: u32(F.mode),
        relpath: readRelpath(buf, offset + F.relpath),
        fmap,
      };
      if (layoutProblem) entry.layoutProblem = layoutProblem;
      return entry;
    }
    case EntryType.mkdir:
    case EntryType.delete:
      return {
        type: rawType === EntryType.mkdir ? 'mkdir' : 'delete',
        seqnum,
        crc,
        uid: u32(D.uid),
        gid: u32(D.gid),
        mode: u32(D.mode),
        relpath: readRelpath(buf, offset + D.relpath),
      };
    case EntryType.addDaxdev:
      if (version >= 48) {
        return { type: 'addDaxdev', seqnum, crc, deviceSize: u64(X.size), deviceUuid: uuidFromBytes(buf, offset + X.uuid), deviceIndex: u32(X.index) };
      }
      return { type: 'unknown', seqnum, crc, rawType };
    default:
      return { type: 'unknown', seqnum, crc, rawType };
  }
}
