/**
 * A famfs file's extent map ("fmap") and the pure address math on it.
 *
 * Simple fmap: up to 16 extents, concatenated in order. Interleaved fmap: extents each made of
 * `strips` of equal length; file data is laid out chunk by chunk across the strips (columns),
 * one stripe (row) after another:
 *
 *   chunk_num    = local_offset / chunk_size
 *   chunk_offset = local_offset % chunk_size
 *   stripe_num   = chunk_num / nstrips
 *   strip_num    = chunk_num % nstrips
 *   strip_offset = chunk_offset + stripe_num * chunk_size
 *   dax_address  = strips[strip_num].offset + strip_offset   (on strips[strip_num].devIndex)
 *
 * Each interleaved extent covers min(sum of its strip lengths, bytes of the file left) bytes.
 */
export interface SimpleExtent {
  devIndex: number;
  offset: number;
  length: number;
}

export interface InterleavedExtent {
  chunkSize: number;
  strips: SimpleExtent[];
}

export type Fmap = { kind: 'simple'; extents: SimpleExtent[] } | { kind: 'interleaved'; extents: InterleavedExtent[] };

/** One contiguous piece of a file range on a device. */
export interface DeviceSegment {
  devIndex: number;
  deviceOffset: number;
  fileOffset: number;
  length: number;
}

export function stripsLength(ie: InterleavedExtent): number {
  return ie.strips.reduce((n, s) => n + s.length, 0);
}

/** Every device range the fmap owns (simple extents or strips), for allocation and overlap checks. */
export function fmapDeviceRanges(fmap: Fmap): SimpleExtent[] {
  return fmap.kind === 'simple' ? fmap.extents : fmap.extents.flatMap((ie) => ie.strips);
}

/** Bytes of device space the fmap can address (may exceed the file size). */
export function fmapCapacity(fmap: Fmap): number {
  return fmap.kind === 'simple' ? fmap.extents.reduce((n, e) => n + e.length, 0) : fmap.extents.reduce((n, ie) => n + stripsLength(ie), 0);
}

/** Maps file offset `offset` to its device location and how many bytes stay contiguous there. */
export function resolveOffset(fmap: Fmap, fileSize: number, offset: number): DeviceSegment {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= fileSize) {
    throw new RangeError(`file offset ${offset} is outside the file (size ${fileSize})`);
  }
  let base = 0;
  if (fmap.kind === 'simple') {
    for (const e of fmap.extents) {
      if (offset < base + e.length) {
        const within = offset - base;
        return { devIndex: e.devIndex, deviceOffset: e.offset + within, fileOffset: offset, length: Math.min(e.length - within, fileSize - offset) };
      }
      base += e.length;
    }
  } else {
    for (const ie of fmap.extents) {
      const covered = Math.min(stripsLength(ie), fileSize - base);
      if (offset < base + covered) {
        const local = offset - base;
        const nstrips = ie.strips.length;
        const chunkNum = Math.floor(local / ie.chunkSize);
        const chunkOffset = local % ie.chunkSize;
        const stripeNum = Math.floor(chunkNum / nstrips);
        const strip = ie.strips[chunkNum % nstrips]!;
        const stripOffset = chunkOffset + stripeNum * ie.chunkSize;
        if (stripOffset >= strip.length) break;
        const length = Math.min(ie.chunkSize - chunkOffset, base + covered - offset, strip.length - stripOffset);
        return { devIndex: strip.devIndex, deviceOffset: strip.offset + stripOffset, fileOffset: offset, length };
      }
      base += covered;
    }
  }
  throw new RangeError(`file offset ${offset} is not mapped by the fmap (it addresses ${base} bytes, file size ${fileSize})`);
}

/** Splits file range [offset, offset+length) into contiguous device segments. */
export function mapFileRange(fmap: Fmap, fileSize: number, offset: number, length: number): DeviceSegment[] {
  const end = Math.min(offset + length, fileSize);
  const out: DeviceSegment[] = [];
  for (let pos = offset; pos < end; ) {
    const seg = resolveOffset(fmap, fileSize, pos);
    seg.length = Math.min(seg.length, end - pos);
    const last = out[out.length - 1];
    if (last && last.devIndex === seg.devIndex && last.deviceOffset + last.length === seg.deviceOffset) last.length += seg.length;
    else out.push(seg);
    pos += seg.length;
  }
  return out;
}

/**
 * GET_FMAP reply (famfs FUSE kernel ABI, RFC V2), host byte order (little-endian):
 *
 * struct fuse_famfs_fmap_header (32 bytes):
 *     0  u8  file_type      0 regular, 1 superblock, 2 log
 *     1  u8  reserved
 *     2  u16 fmap_version   1
 *     4  u32 ext_type       0 simple, 1 interleave
 *     8  u32 nextents       simple extents, or interleaved extents
 *    12  u32 reserved0
 *    16  u64 file_size
 *    24  u64 reserved1
 * struct fuse_famfs_simple_ext (24 bytes), also used for strips:
 *     0  u32 se_devindex    4 u32 reserved    8 u64 se_offset    16 u64 se_len
 * struct fuse_famfs_iext (24 bytes), followed by ie_nstrips simple_ext:
 *     0  u32 ie_nstrips     4 u32 ie_chunk_size    8 u64 ie_nbytes    16 u64 reserved
 *
 * If the encoded fmap exceeds the kernel's buffer, the reply is a single u32: the size needed.
 */
export const FMAP_HEADER_SIZE = 32;
export const FMAP_SIMPLE_EXT_SIZE = 24;
export const FMAP_IEXT_SIZE = 24;
export const FMAP_VERSION = 1;
export const FMAP_MSG_MIN_SIZE = FMAP_HEADER_SIZE + FMAP_SIMPLE_EXT_SIZE;
export const FMAP_MSG_MAX_SIZE = 32768;
export const FUSE_FAMFS_MAX_EXTENTS = 32;
export const FUSE_FAMFS_MAX_STRIPS = 32;

export const FuseFamfsFileType = { regular: 0, superblock: 1, log: 2 } as const;
export type FuseFamfsFileType = (typeof FuseFamfsFileType)[keyof typeof FuseFamfsFileType];

export function fmapMessageSize(fmap: Fmap): number {
  if (fmap.kind === 'simple') return FMAP_HEADER_SIZE + FMAP_SIMPLE_EXT_SIZE * fmap.extents.length;
  return FMAP_HEADER_SIZE + fmap.extents.reduce((n, ie) => n + FMAP_IEXT_SIZE + FMAP_SIMPLE_EXT_SIZE * ie.strips.length, 0);
}

function putU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % 0x1_0000_0000, off);
  buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000), off + 4);
}

function putSimpleExt(buf: Buffer, off: number, e: SimpleExtent): void {
  buf.writeUInt32LE(e.devIndex, off);
  putU64(buf, off + 8, e.offset);
  putU64(buf, off + 16, e.length);
}

/** Encodes the GET_FMAP reply for a file; `bufferSize` is fuse_get_fmap_in.size from the kernel. */
export function encodeGetFmapReply(fmap: Fmap, fileSize: number, fileType: FuseFamfsFileType, bufferSize: number = Infinity): Buffer {
  const n = fmap.extents.length;
  if (n < 1 || n > FUSE_FAMFS_MAX_EXTENTS) throw new RangeError(`fmap has ${n} extents; the kernel accepts 1..${FUSE_FAMFS_MAX_EXTENTS}`);
  if (fmap.kind === 'interleaved') {
    for (const ie of fmap.extents) {
      const nstrips = ie.strips.length;
      if (nstrips < 1 || nstrips > FUSE_FAMFS_MAX_STRIPS) throw new RangeError(`interleaved extent has ${nstrips} strips; the kernel accepts 1..${FUSE_FAMFS_MAX_STRIPS}`);
      if (ie.chunkSize > 0xffffffff) throw new RangeError(`chunk size ${ie.chunkSize} does not fit the kernel's u32 ie_chunk_size`);
    }
  }
  const size = fmapMessageSize(fmap);
  if (size > bufferSize) {
    const reply = Buffer.alloc(4);
    reply.writeUInt32LE(size, 0);
    return reply;
  }
  const buf = Buffer.alloc(size);
  buf.writeUInt8(fileType, 0);
  buf.writeUInt16LE(FMAP_VERSION, 2);
  buf.writeUInt32LE(fmap.kind === 'simple' ? 0 : 1, 4);
  buf.writeUInt32LE(n, 8);
  putU64(buf, 16, fileSize);
  let off = FMAP_HEADER_SIZE;
  if (fmap.kind === 'simple') {
    for (const e of fmap.extents) {
      putSimpleExt(buf, off, e);
      off += FMAP_SIMPLE_EXT_SIZE;
    }
    return buf;
  }
  let remaining = fileSize;
  for (const ie of fmap.extents) {
    const nstrips = ie.strips.length;
    const nbytes = Math.min(stripsLength(ie), remaining);
    remaining -= nbytes;
    buf.writeUInt32LE(nstrips, off);
    buf.writeUInt32LE(ie.chunkSize, off + 4);
    putU64(buf, off + 8, nbytes);
    off += FMAP_IEXT_SIZE;
    for (const s of ie.strips) {
      putSimpleExt(buf, off, s);
      off += FMAP_SIMPLE_EXT_SIZE;
    }
  }
  return buf;
}
