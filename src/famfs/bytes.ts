import { crc32 } from 'node:zlib';

/**
 * Little-endian field access for famfs structs. u64 fields are read as JS numbers: every famfs
 * quantity (sizes, offsets, indexes) is far below 2^53, and a larger value is reported as corrupt
 * instead of being silently rounded.
 */
export function readU64(buf: Buffer, offset: number): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi > 0x1fffff) return Number.NaN;
  return hi * 0x1_0000_0000 + lo;
}

export function writeU64(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field value ${value} is not a non-negative safe integer`);
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** NUL-terminated string in a fixed-size field; bytes after the first NUL are ignored. */
export function readCString(buf: Buffer, offset: number, size: number): string {
  const end = buf.indexOf(0, offset);
  const stop = end === -1 || end > offset + size ? offset + size : end;
  return buf.toString('utf8', offset, stop);
}

/** Writes `s` NUL-padded into a field of `size` bytes; the caller has checked it fits. */
export function writeCString(buf: Buffer, offset: number, size: number, s: string): void {
  buf.fill(0, offset, offset + size);
  buf.write(s, offset, size, 'utf8');
}

/** zlib crc32(crc32(0, NULL, 0), bytes, len): CRC-32/ISO-HDLC, as famfs computes every CRC. */
export function famfsCrc(buf: Buffer, start: number, end: number): number {
  return crc32(buf.subarray(start, end), 0);
}
