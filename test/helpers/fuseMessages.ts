/**
 * Hand-built FUSE kernel messages and decoders of the replies, written from the struct layouts of
 * include/uapi/linux/fuse.h (little-endian), independently of src/fuse/abi.ts, so the dispatcher
 * is checked against the ABI rather than against itself. Also a seeded PRNG for reproducible data
 * and fuzzing.
 */
import assert from 'node:assert/strict';

export const IN_HEADER = 40;
export const OUT_HEADER = 16;

export const Op = {
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
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  IOCTL: 39,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  GET_FMAP: 53,
  GET_DAXDEV: 54,
} as const;

/** INIT flag bits (bits 32.. travel in init_in/out.flags2 when FUSE_INIT_EXT is set). */
export const Flag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  ATOMIC_O_TRUNC: 1n << 3n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  WRITEBACK_CACHE: 1n << 16n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  PARALLEL_DIROPS: 1n << 18n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  INIT_EXT: 1n << 30n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  DAX_FMAP: 1n << 42n,
} as const;

export const FOPEN_DIRECT_IO = 1;

export const FATTR = { MODE: 1, UID: 2, GID: 4, SIZE: 8, ATIME: 16, MTIME: 32, FH: 64, ATIME_NOW: 128, MTIME_NOW: 256, LOCKOWNER: 512, CTIME: 1024 } as const;

let nextUnique = 1000n;

export interface HeaderFields {
  unique?: bigint;
  uid?: number;
  gid?: number;
  pid?: number;
  /** Write this in the header's len instead of the real length. */
  len?: number;
}

/** struct fuse_in_header followed by `body`. */
export function msg(opcode: number, nodeid: number | bigint, body: Buffer = Buffer.alloc(0), h: HeaderFields = {}): Buffer {
  const b = Buffer.alloc(IN_HEADER + body.length);
  b.writeUInt32LE(h.len ?? b.length, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(h.unique ?? nextUnique++, 8);
  b.writeBigUInt64LE(BigInt(nodeid), 16);
  b.writeUInt32LE(h.uid ?? 0, 24);
  b.writeUInt32LE(h.gid ?? 0, 28);
  b.writeUInt32LE(h.pid ?? 4242, 32);
  body.copy(b, IN_HEADER);
  return b;
}

export function uniqueOf(m: Buffer): bigint {
  return m.readBigUInt64LE(8);
}

export function cstr(...names: string[]): Buffer {
  return Buffer.concat(names.map((n) => Buffer.from(n + '\0', 'utf8')));
}

function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}

function u64s(...v: (number | bigint)[]): Buffer {
  const b = Buffer.alloc(8 * v.length);
  v.forEach((x, i) => b.writeBigUInt64LE(BigInt(x), 8 * i));
  return b;
}

/** struct fuse_init_in: 64 bytes (7.36+), or the 16-byte layout of older kernels. */
export function initIn(o: { major?: number; minor: number; maxReadahead?: number; flags: bigint; short?: boolean }): Buffer {
  const b = Buffer.alloc(o.short ? 16 : 64);
  b.writeUInt32LE(o.major ?? 7, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead ?? 128 * 1024, 8);
  b.writeUInt32LE(Number(o.flags & 0xffffffffn), 12);
  if (!o.short) b.writeUInt32LE(Number((o.flags >> 32n) & 0xffffffffn), 16);
  return b;
}

/** Every flag bit a 7.43 famfs kernel offers (all of flags and flags2 set). */
export const ALL_FLAGS = (1n << 64n) - 1n;

/** struct fuse_read_in (40 bytes). */
export function readIn(fh: number, offset: number | bigint, size: number): Buffer {
  return Buffer.concat([u64s(fh, offset), u32s(size >>> 0, 0), u64s(0), u32s(0, 0)]);
}

/** struct fuse_write_in (40 bytes) then the data; `size` defaults to the data length. */
export function writeIn(fh: number, offset: number | bigint, data: Buffer, size = data.length): Buffer {
  return Buffer.concat([u64s(fh, offset), u32s(size >>> 0, 0), u64s(0), u32s(0, 0), data]);
}

/** struct fuse_open_in (8 bytes). */
export function openIn(flags: number): Buffer {
  return u32s(flags, 0);
}

/** struct fuse_release_in (24 bytes). */
export function releaseIn(fh: number): Buffer {
  return Buffer.concat([u64s(fh), u32s(0, 0), u64s(0)]);
}

/** struct fuse_setattr_in (88 bytes): valid@0 fh@8 size@16 atime@32 mtime@40 ctime@48 mode@68 uid@76 gid@80. */
export function setattrIn(o: { valid: number; size?: number; mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number; ctime?: number }): Buffer {
  const b = Buffer.alloc(88);
  b.writeUInt32LE(o.valid, 0);
  b.writeBigUInt64LE(BigInt(o.size ?? 0), 16);
  b.writeBigUInt64LE(BigInt(o.atime ?? 0), 32);
  b.writeBigUInt64LE(BigInt(o.mtime ?? 0), 40);
  b.writeBigUInt64LE(BigInt(o.ctime ?? 0), 48);
  b.writeUInt32LE(o.mode ?? 0, 68);
  b.writeUInt32LE(o.uid ?? 0, 76);
  b.writeUInt32LE(o.gid ?? 0, 80);
  return b;
}

/** struct fuse_getxattr_in (8 bytes: size, padding), optionally followed by a name. */
export function getxattrIn(size: number, name?: string): Buffer {
  return Buffer.concat([u32s(size, 0), name === undefined ? Buffer.alloc(0) : cstr(name)]);
}

/** struct fuse_forget_in (8 bytes). */
export function forgetIn(nlookup: number | bigint): Buffer {
  return u64s(nlookup);
}

/** struct fuse_batch_forget_in then `count` × struct fuse_forget_one (real entries: `pairs`). */
export function batchForgetIn(count: number, pairs: [number | bigint, number | bigint][]): Buffer {
  return Buffer.concat([u32s(count, 0), ...pairs.map(([n, l]) => u64s(n, l))]);
}

/** struct fuse_interrupt_in (8 bytes: the unique of the interrupted request). */
export function interruptIn(unique: bigint): Buffer {
  return u64s(unique);
}

/** famfs struct fuse_get_fmap_in (8 bytes: size, padding). */
export function getFmapIn(size: number): Buffer {
  return u32s(size, 0);
}

/** Plausible bodies of the namespace-changing and unsupported requests. */
export const forbiddenBodies = {
  create: (name: string) => Buffer.concat([u32s(0o100 | 2, 0o644, 0o022, 0), cstr(name)]), // fuse_create_in
  tmpfile: (name: string) => Buffer.concat([u32s(2, 0o644, 0o022, 0), cstr(name)]),
  mknod: (name: string) => Buffer.concat([u32s(0o100644, 0, 0o022, 0), cstr(name)]), // fuse_mknod_in
  mkdir: (name: string) => Buffer.concat([u32s(0o755, 0o022), cstr(name)]), // fuse_mkdir_in
  symlink: (name: string, target: string) => cstr(name, target),
  link: (oldNodeid: number, name: string) => Buffer.concat([u64s(oldNodeid), cstr(name)]), // fuse_link_in
  name: (name: string) => cstr(name),
  rename: (newdir: number, from: string, to: string) => Buffer.concat([u64s(newdir), cstr(from, to)]), // fuse_rename_in
  rename2: (newdir: number, from: string, to: string, flags = 0) => Buffer.concat([u64s(newdir), u32s(flags, 0), cstr(from, to)]), // fuse_rename2_in
  setxattr: (name: string, value: Buffer) => Buffer.concat([u32s(value.length, 0, 0, 0), cstr(name), value]), // fuse_setxattr_in (ext)
  fallocate: (fh: number, offset: number, length: number) => Buffer.concat([u64s(fh, offset, length), u32s(0, 0)]), // fuse_fallocate_in
  ioctl: (fh: number, cmd: number) => Buffer.concat([u64s(fh), u32s(0, cmd), u64s(0), u32s(0, 0)]), // fuse_ioctl_in
};

// ---- replies ----

export interface Reply {
  len: number;
  error: number;
  unique: bigint;
  payload: Buffer;
}

/** Checks the reply iovec is one well-formed message (header len = total) and splits it. */
export function parseReply(iov: Buffer[] | null, label = 'reply'): Reply {
  assert.ok(iov !== null, `${label}: expected a reply, got none`);
  assert.ok(iov.length >= 1, `${label}: empty iovec`);
  assert.equal(iov[0]!.length, OUT_HEADER, `${label}: first iovec element is the 16-byte out header`);
  const all = Buffer.concat(iov);
  const len = all.readUInt32LE(0);
  assert.equal(len, all.length, `${label}: out header len ${len} vs ${all.length} bytes sent`);
  return { len, error: all.readInt32LE(4), unique: all.readBigUInt64LE(8), payload: all.subarray(OUT_HEADER) };
}

export interface InitOutFields {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  flagsLow: number;
  flags2: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  mapAlignment: number;
}

/** struct fuse_init_out (64 bytes). `flags` includes flags2 only when INIT_EXT is set (as the kernel reads it). */
export function decodeInitOut(p: Buffer): InitOutFields {
  assert.equal(p.length, 64, 'fuse_init_out is 64 bytes');
  const flagsLow = p.readUInt32LE(12);
  const flags2 = p.readUInt32LE(32);
  const ext = (BigInt(flagsLow) & Flag.INIT_EXT) !== 0n;
  return {
    major: p.readUInt32LE(0),
    minor: p.readUInt32LE(4),
    maxReadahead: p.readUInt32LE(8),
    flags: BigInt(flagsLow) | (ext ? BigInt(flags2) << 32n : 0n),
    flagsLow,
    flags2,
    maxBackground: p.readUInt16LE(16),
    congestionThreshold: p.readUInt16LE(18),
    maxWrite: p.readUInt32LE(20),
    timeGran: p.readUInt32LE(24),
    maxPages: p.readUInt16LE(28),
    mapAlignment: p.readUInt16LE(30),
  };
}

export interface AttrFields {
  ino: bigint;
  size: number;
  blocks: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

/** struct fuse_attr (88 bytes) at `off`. */
export function decodeAttr(p: Buffer, off = 0): AttrFields {
  return {
    ino: p.readBigUInt64LE(off),
    size: Number(p.readBigUInt64LE(off + 8)),
    blocks: Number(p.readBigUInt64LE(off + 16)),
    mode: p.readUInt32LE(off + 60),
    nlink: p.readUInt32LE(off + 64),
    uid: p.readUInt32LE(off + 68),
    gid: p.readUInt32LE(off + 72),
    rdev: p.readUInt32LE(off + 76),
    blksize: p.readUInt32LE(off + 80),
  };
}

/** struct fuse_entry_out (128 bytes) at `off`. */
export function decodeEntryOut(p: Buffer, off = 0): { nodeid: number; generation: bigint; entryValid: bigint; attrValid: bigint; attr: AttrFields } {
  return {
    nodeid: Number(p.readBigUInt64LE(off)),
    generation: p.readBigUInt64LE(off + 8),
    entryValid: p.readBigUInt64LE(off + 16),
    attrValid: p.readBigUInt64LE(off + 24),
    attr: decodeAttr(p, off + 40),
  };
}

/** struct fuse_attr_out (104 bytes). */
export function decodeAttrOut(p: Buffer): AttrFields {
  assert.equal(p.length, 104, 'fuse_attr_out is 104 bytes');
  return decodeAttr(p, 16);
}

/** struct fuse_open_out (16 bytes). */
export function decodeOpenOut(p: Buffer): { fh: bigint; openFlags: number } {
  assert.equal(p.length, 16, 'fuse_open_out is 16 bytes');
  return { fh: p.readBigUInt64LE(0), openFlags: p.readUInt32LE(8) };
}

export interface Dirent {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
  entry?: ReturnType<typeof decodeEntryOut>;
}

/** A READDIR / READDIRPLUS payload: fuse_dirent (or fuse_direntplus) records, each padded to 8 bytes. */
export function decodeDirents(p: Buffer, plus: boolean): Dirent[] {
  const out: Dirent[] = [];
  let pos = 0;
  while (pos < p.length) {
    const entry = plus ? decodeEntryOut(p, pos) : undefined;
    const d = pos + (plus ? 128 : 0);
    assert.ok(d + 24 <= p.length, 'dirent header fits the payload');
    const namelen = p.readUInt32LE(d + 16);
    const name = p.toString('utf8', d + 24, d + 24 + namelen);
    out.push({ ino: p.readBigUInt64LE(d), off: p.readBigUInt64LE(d + 8), type: p.readUInt32LE(d + 20), name, ...(entry ? { entry } : {}) });
    const size = (d + 24 + namelen - pos + 7) & ~7;
    assert.ok(pos + size <= p.length, `dirent "${name}" fits the payload (padded)`);
    assert.ok(p.subarray(d + 24 + namelen, pos + size).every((x) => x === 0), `padding after "${name}" is zero`);
    pos += size;
  }
  return out;
}

/** struct fuse_statfs_out = struct fuse_kstatfs (80 bytes). */
export function decodeStatfs(p: Buffer): { blocks: number; bfree: number; bavail: number; files: number; ffree: number; bsize: number; namelen: number; frsize: number } {
  assert.equal(p.length, 80, 'fuse_statfs_out is 80 bytes');
  return {
    blocks: Number(p.readBigUInt64LE(0)),
    bfree: Number(p.readBigUInt64LE(8)),
    bavail: Number(p.readBigUInt64LE(16)),
    files: Number(p.readBigUInt64LE(24)),
    ffree: Number(p.readBigUInt64LE(32)),
    bsize: p.readUInt32LE(40),
    namelen: p.readUInt32LE(44),
    frsize: p.readUInt32LE(48),
  };
}

// ---- seeded randomness ----

/** mulberry32: a small, fast, seeded PRNG. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    this.fill(b);
    return b;
  }

  fill(b: Buffer): void {
    let i = 0;
    for (; i + 4 <= b.length; i += 4) b.writeUInt32LE(this.u32(), i);
    for (; i < b.length; i++) b[i] = this.u32() & 0xff;
  }
}
