import { LOG_HEADER_SIZE, LOG_MAGIC, logCapacity } from './constants.js';
import { famfsCrc, readU64, writeU64 } from './bytes.js';

/**
 * struct famfs_log header, at device offset 0x200000 (little-endian):
 *
 *   off size field
 *     0    8 famfs_log_magic        0xbadcafef00d
 *     8    8 famfs_log_len          total log bytes (== ts_log_len)
 *    16    8 famfs_log_last_index   last usable entry index: (len - 48) / 544 - 1
 *    24    8 famfs_log_crc          crc32 of log bytes [0, 24)
 *    32    8 famfs_log_next_seqnum  seqnum of the next entry
 *    40    8 famfs_log_next_index   number of valid entries
 *    48      entries[] (544 bytes each)
 *
 * next_seqnum and next_index are not CRC-covered: they change on every append.
 */
export const HEADER_OFF = { magic: 0, len: 8, lastIndex: 16, crc: 24, nextSeqnum: 32, nextIndex: 40 } as const;
export const LOG_HEADER_CRC_END = HEADER_OFF.crc;

export interface LogHeader {
  magic: number;
  len: number;
  lastIndex: number;
  crc: number;
  nextSeqnum: number;
  nextIndex: number;
}

export function encodeLogHeader(logLen: number): Buffer {
  const buf = Buffer.alloc(LOG_HEADER_SIZE);
  writeU64(buf, HEADER_OFF.magic, LOG_MAGIC);
  writeU64(buf, HEADER_OFF.len, logLen);
  writeU64(buf, HEADER_OFF.lastIndex, logCapacity(logLen) - 1);
  writeU64(buf, HEADER_OFF.crc, logHeaderCrc(buf));
  return buf;
}

export function logHeaderCrc(buf: Buffer): number {
  return famfsCrc(buf, 0, LOG_HEADER_CRC_END);
}

export function decodeLogHeader(buf: Buffer): LogHeader {
  return {
    magic: readU64(buf, HEADER_OFF.magic),
    len: readU64(buf, HEADER_OFF.len),
    lastIndex: readU64(buf, HEADER_OFF.lastIndex),
    crc: readU64(buf, HEADER_OFF.crc),
    nextSeqnum: readU64(buf, HEADER_OFF.nextSeqnum),
    nextIndex: readU64(buf, HEADER_OFF.nextIndex),
  };
}

/** Returns why the header cannot be used, or null. `expectedLen` is the superblock's ts_log_len. */
export function logHeaderProblem(buf: Buffer, expectedLen: number): string | null {
  const h = decodeLogHeader(buf);
  if (h.magic !== LOG_MAGIC) return `log header magic is 0x${Number.isNaN(h.magic) ? '?' : h.magic.toString(16)}, expected 0x${LOG_MAGIC.toString(16)}`;
  const crc = logHeaderCrc(buf);
  if (h.crc !== crc) return `log header CRC mismatch: stored 0x${h.crc.toString(16)}, computed 0x${crc.toString(16)} over bytes [0,${LOG_HEADER_CRC_END})`;
  if (h.len !== expectedLen) return `log header length ${h.len} differs from the superblock's log length ${expectedLen}`;
  const last = logCapacity(h.len) - 1;
  if (h.lastIndex !== last) return `log header last_index ${h.lastIndex} is wrong for a ${h.len}-byte log (expected ${last})`;
  if (!Number.isSafeInteger(h.nextIndex) || h.nextIndex > h.lastIndex + 1) return `log header next_index ${h.nextIndex} is beyond the log's ${h.lastIndex + 1} entries`;
  return null;
}
