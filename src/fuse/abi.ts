/**
 * The FUSE kernel ABI (include/uapi/linux/fuse.h), little-endian host byte order, plus the famfs
 * additions of the RFC V2 patch series (GET_FMAP 53, GET_DAXDEV 54, FUSE_DAX_FMAP). This file
 * knows nothing of famfs the file system; it only lays out messages.
 *
 * struct fuse_in_header (40 bytes):
 *    0 u32 len   4 u32 opcode   8 u64 unique   16 u64 nodeid   24 u32 uid   28 u32 gid
 *   32 u32 pid  36 u16 total_extlen  38 u16 padding
 * struct fuse_out_header (16 bytes):
 *    0 u32 len   4 i32 error (0 or -errno)   8 u64 unique
 */
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;

export const KERNEL_VERSION = 7;
/** The newest protocol minor this implementation speaks (7.43 adds FUSE_DAX_FMAP). */
export const KERNEL_MINOR_VERSION = 43;
/** 7.23 is the oldest minor whose INIT reply has the 64-byte layout used here. */
export const MIN_KERNEL_MINOR_VERSION = 23;
export const ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  GET_FMAP: 53,
  GET_DAXDEV: 54,
} as const;
export type OpcodeName = keyof typeof Opcode;
export const OPCODE_NAMES: Record<number, OpcodeName> = Object.fromEntries(Object.entries(Opcode).map(([k, v]) => [v, k as OpcodeName]));

/** INIT flags; bits 32..63 travel in flags2. */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  /** O_TRUNC is passed to OPEN instead of a SETATTR(size 0). */
  ATOMIC_O_TRUNC: 1n << 3n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  PARALLEL_DIROPS: 1n << 18n,
  MAX_PAGES: 1n << 22n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  INIT_EXT: 1n << 30n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  DAX_FMAP: 1n << 42n,
} as const;

/** fuse_open_out.open_flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;

/** fuse_setattr_in.valid */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

export class FuseProtocolError extends Error {}

/** Decodes the request header; throws FuseProtocolError for a message that cannot be one. */
export function decodeInHeader(buf: Buffer, length: number): InHeader {
  if (length < IN_HEADER_SIZE) throw new FuseProtocolError(`request of ${length} bytes is shorter than the ${IN_HEADER_SIZE}-byte header`);
  const len = buf.readUInt32LE(0);
  if (len !== length) throw new FuseProtocolError(`header says ${len} bytes, read returned ${length}`);
  return {
    len,
    opcode: buf.readUInt32LE(4),
    unique: buf.readBigUInt64LE(8),
    nodeid: buf.readBigUInt64LE(16),
    uid: buf.readUInt32LE(24),
    gid: buf.readUInt32LE(28),
    pid: buf.readUInt32LE(32),
  };
}

export function encodeOutHeader(buf: Buffer, len: number, error: number, unique: bigint): void {
  buf.writeUInt32LE(len, 0);
  buf.writeInt32LE(error, 4);
  buf.writeBigUInt64LE(unique, 8);
}

/** A request body with bounds-checked readers; running past the end is a FuseProtocolError. */
export class Body {
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  private at(offset: number, size: number): number {
    const p = this.start + offset;
    if (offset < 0 || p + size > this.end) throw new FuseProtocolError(`request body of ${this.length} bytes has no ${size}-byte field at ${offset}`);
    return p;
  }

  u32(offset: number): number {
    return this.buf.readUInt32LE(this.at(offset, 4));
  }

  u64(offset: number): bigint {
    return this.buf.readBigUInt64LE(this.at(offset, 8));
  }

  /** u64 that must fit a JS number (offsets, sizes). */
  num(offset: number): number {
    const v = this.u64(offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FuseProtocolError(`field at ${offset} is ${v}, beyond 2^53`);
    return Number(v);
  }

  /** NUL-terminated string starting at `offset`. */
  cstring(offset: number): string {
    const p = this.at(offset, 0);
    const nul = this.buf.indexOf(0, p);
    if (nul < 0 || nul >= this.end) throw new FuseProtocolError('name is not NUL-terminated inside the request');
    return this.buf.toString('utf8', p, nul);
  }

  bytes(offset: number, length: number): Buffer {
    const p = this.at(offset, length);
    return this.buf.subarray(p, p + length);
  }
}

/**
 * struct fuse_init_in (64 bytes from 7.36; 16 before):
 *    0 u32 major   4 u32 minor   8 u32 max_readahead   12 u32 flags   16 u32 flags2   20 u32 unused[11]
 */
export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
}

export function decodeInitIn(b: Body): InitIn {
  const flags = BigInt(b.u32(12));
  // flags2 only means something when the kernel sets FUSE_INIT_EXT (bit 30) in flags.
  const flags2 = b.length >= 20 && (flags & (1n << 30n)) !== 0n ? BigInt(b.u32(16)) : 0n;
  return { major: b.u32(0), minor: b.u32(4), maxReadahead: b.u32(8), flags: flags | (flags2 << 32n) };
}

/**
 * struct fuse_init_out (64 bytes):
 *    0 u32 major   4 u32 minor   8 u32 max_readahead   12 u32 flags   16 u16 max_background
 *   18 u16 congestion_threshold   20 u32 max_write   24 u32 time_gran   28 u16 max_pages
 *   30 u16 map_alignment   32 u32 flags2   36 u32 max_stack_depth   40 u16 request_timeout   42 u16 unused[11]
 */
export const INIT_OUT_SIZE = 64;
export interface InitOut {
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
}

export function encodeInitOut(o: InitOut): Buffer {
  const b = Buffer.alloc(INIT_OUT_SIZE);
  b.writeUInt32LE(KERNEL_VERSION, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(Number(o.flags & 0xffffffffn), 12);
  b.writeUInt16LE(o.maxBackground, 16);
  b.writeUInt16LE(o.congestionThreshold, 18);
  b.writeUInt32LE(o.maxWrite, 20);
  b.writeUInt32LE(o.timeGran, 24);
  b.writeUInt16LE(o.maxPages, 28);
  b.writeUInt32LE(Number((o.flags >> 32n) & 0xffffffffn), 32);
  return b;
}

/**
 * struct fuse_attr (88 bytes):
 *    0 u64 ino   8 u64 size   16 u64 blocks   24 u64 atime   32 u64 mtime   40 u64 ctime
 *   48 u32 atimensec   52 u32 mtimensec   56 u32 ctimensec   60 u32 mode   64 u32 nlink
 *   68 u32 uid   72 u32 gid   76 u32 rdev   80 u32 blksize   84 u32 flags
 */
export const ATTR_SIZE = 88;
export interface Attr {
  ino: number;
  size: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  blksize: number;
}

export function writeAttr(b: Buffer, off: number, a: Attr): void {
  b.writeBigUInt64LE(BigInt(a.ino), off);
  b.writeBigUInt64LE(BigInt(a.size), off + 8);
  b.writeBigUInt64LE(BigInt(a.blocks), off + 16);
  b.writeBigUInt64LE(BigInt(a.atime), off + 24);
  b.writeBigUInt64LE(BigInt(a.mtime), off + 32);
  b.writeBigUInt64LE(BigInt(a.ctime), off + 40);
  b.writeUInt32LE(a.mode >>> 0, off + 60);
  b.writeUInt32LE(a.nlink, off + 64);
  b.writeUInt32LE(a.uid, off + 68);
  b.writeUInt32LE(a.gid, off + 72);
  b.writeUInt32LE(a.blksize, off + 80);
}

/**
 * struct fuse_entry_out (128 bytes):
 *    0 u64 nodeid   8 u64 generation   16 u64 entry_valid   24 u64 attr_valid
 *   32 u32 entry_valid_nsec   36 u32 attr_valid_nsec   40 struct fuse_attr
 */
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export interface Entry {
  nodeid: number;
  generation: number;
  entryValidMs: number;
  attrValidMs: number;
  attr: Attr;
}

function writeValid(b: Buffer, secOff: number, nsecOff: number, ms: number): void {
  b.writeBigUInt64LE(BigInt(Math.floor(ms / 1000)), secOff);
  b.writeUInt32LE((ms % 1000) * 1_000_000, nsecOff);
}

export function writeEntryOut(b: Buffer, off: number, e: Entry): void {
  b.writeBigUInt64LE(BigInt(e.nodeid), off);
  b.writeBigUInt64LE(BigInt(e.generation), off + 8);
  writeValid(b, off + 16, off + 32, e.entryValidMs);
  writeValid(b, off + 24, off + 36, e.attrValidMs);
  writeAttr(b, off + 40, e.attr);
}

export function encodeEntryOut(e: Entry): Buffer {
  const b = Buffer.alloc(ENTRY_OUT_SIZE);
  writeEntryOut(b, 0, e);
  return b;
}

/** struct fuse_attr_out (104 bytes): 0 u64 attr_valid   8 u32 attr_valid_nsec   12 u32 dummy   16 struct fuse_attr */
export function encodeAttrOut(attr: Attr, validMs: number): Buffer {
  const b = Buffer.alloc(16 + ATTR_SIZE);
  writeValid(b, 0, 8, validMs);
  writeAttr(b, 16, attr);
  return b;
}

/** struct fuse_open_out (16 bytes): 0 u64 fh   8 u32 open_flags   12 i32 backing_id */
export function encodeOpenOut(fh: number, openFlags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(fh), 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

/** struct fuse_write_out (8 bytes): 0 u32 size   4 u32 padding */
export function encodeWriteOut(size: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(size, 0);
  return b;
}

/** struct fuse_getxattr_out (8 bytes): 0 u32 size   4 u32 padding */
export function encodeXattrSize(size: number): Buffer {
  return encodeWriteOut(size);
}

/**
 * struct fuse_kstatfs (80 bytes):
 *    0 u64 blocks   8 u64 bfree   16 u64 bavail   24 u64 files   32 u64 ffree
 *   40 u32 bsize   44 u32 namelen   48 u32 frsize   52 u32 padding   56 u32 spare[6]
 */
export interface StatFs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

export function encodeStatfsOut(s: StatFs): Buffer {
  const b = Buffer.alloc(80);
  b.writeBigUInt64LE(BigInt(s.blocks), 0);
  b.writeBigUInt64LE(BigInt(s.bfree), 8);
  b.writeBigUInt64LE(BigInt(s.bavail), 16);
  b.writeBigUInt64LE(BigInt(s.files), 24);
  b.writeBigUInt64LE(BigInt(s.ffree), 32);
  b.writeUInt32LE(s.bsize, 40);
  b.writeUInt32LE(s.namelen, 44);
  b.writeUInt32LE(s.frsize, 48);
  return b;
}

/**
 * READDIR entries, each padded to 8 bytes:
 *   struct fuse_dirent: 0 u64 ino   8 u64 off   16 u32 namelen   20 u32 type   24 name
 *   struct fuse_direntplus: struct fuse_entry_out (128), then struct fuse_dirent
 */
export const DIRENT_HEADER = 24;

export function direntSize(name: string, plus: boolean): number {
  const n = (plus ? ENTRY_OUT_SIZE : 0) + DIRENT_HEADER + Buffer.byteLength(name);
  return (n + 7) & ~7;
}

/** Appends one dirent at `off`; returns the new offset. `type` is the d_type (DT_DIR 4, DT_REG 8). */
export function writeDirent(b: Buffer, off: number, ino: number, nextOffset: number, type: number, name: string, entry?: Entry): number {
  const size = direntSize(name, entry !== undefined);
  b.fill(0, off, off + size);
  let p = off;
  if (entry) {
    writeEntryOut(b, p, entry);
    p += ENTRY_OUT_SIZE;
  }
  b.writeBigUInt64LE(BigInt(ino), p);
  b.writeBigUInt64LE(BigInt(nextOffset), p + 8);
  b.writeUInt32LE(Buffer.byteLength(name), p + 16);
  b.writeUInt32LE(type, p + 20);
  b.write(name, p + 24, 'utf8');
  return off + size;
}
