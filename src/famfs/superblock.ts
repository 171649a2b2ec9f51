import { ACCEPTED_ALLOC_UNITS, DEVNAME_LEN, FAMFS_VERSIONS, LOG_OFFSET, SUPER_MAGIC, isFamfsVersion } from './constants.js';
import type { FamfsVersion } from './constants.js';
import { famfsCrc, readCString, readU64, writeCString, writeU64 } from './bytes.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

/**
 * struct famfs_superblock, at device offset 0 (LP64, little-endian):
 *
 *   off size field
 *     0    8 ts_magic            0x87b282ff
 *     8    8 ts_version          48 (OMF 2.2) or 47 (OMF 2.1)
 *    16    8 ts_log_offset       0x200000
 *    24    8 ts_log_len          power of two >= 8 MiB
 *    32    8 ts_alloc_unit       0x200000
 *    40    4 ts_omf_ver_major
 *    44    4 ts_omf_ver_minor
 *    48   16 ts_uuid             file system UUID
 *    64   16 ts_dev_uuid         device UUID
 *    80   16 ts_system_uuid      the master host's /opt/famfs/system_uuid
 *    96    8 ts_crc              crc32 of bytes [0, 96)
 *   104    4 ts_sb_flags
 *   108    4 (padding)
 *   112    8 ts_daxdev.dd_size   device capacity used by the allocator
 *   120   16 ts_daxdev.dd_uuid
 *   136   64 ts_daxdev.dd_daxdev device path given to mkfs (not NUL-terminated at 64 chars)
 *   200      end of struct; the region is reserved up to 0x200000
 */
const OFF = {
  magic: 0,
  version: 8,
  logOffset: 16,
  logLen: 24,
  allocUnit: 32,
  omfMajor: 40,
  omfMinor: 44,
  uuid: 48,
  devUuid: 64,
  systemUuid: 80,
  crc: 96,
  sbFlags: 104,
  ddSize: 112,
  ddUuid: 120,
  ddDaxdev: 136,
} as const;
export const SUPERBLOCK_STRUCT_SIZE = 200;
export const SUPERBLOCK_CRC_END = OFF.crc;

export interface Superblock {
  magic: number;
  version: number;
  logOffset: number;
  logLen: number;
  allocUnit: number;
  omfMajor: number;
  omfMinor: number;
  uuid: string;
  devUuid: string;
  systemUuid: string;
  crc: number;
  sbFlags: number;
  deviceSize: number;
  deviceUuid: string;
  devicePath: string;
}

export interface NewSuperblock {
  version: FamfsVersion;
  logLen: number;
  uuid: string;
  devUuid: string;
  systemUuid: string;
  deviceSize: number;
  devicePath: string;
}

/** Encodes a superblock as mkfs.famfs writes it (sb_flags and dd_uuid zero), CRC included. */
export function encodeSuperblock(sb: NewSuperblock): Buffer {
  const buf = Buffer.alloc(SUPERBLOCK_STRUCT_SIZE);
  const omf = FAMFS_VERSIONS[sb.version];
  writeU64(buf, OFF.magic, SUPER_MAGIC);
  writeU64(buf, OFF.version, sb.version);
  writeU64(buf, OFF.logOffset, LOG_OFFSET);
  writeU64(buf, OFF.logLen, sb.logLen);
  writeU64(buf, OFF.allocUnit, ACCEPTED_ALLOC_UNITS[1]);
  buf.writeUInt32LE(omf.omfMajor, OFF.omfMajor);
  buf.writeUInt32LE(omf.omfMinor, OFF.omfMinor);
  uuidToBytes(sb.uuid).copy(buf, OFF.uuid);
  uuidToBytes(sb.devUuid).copy(buf, OFF.devUuid);
  uuidToBytes(sb.systemUuid).copy(buf, OFF.systemUuid);
  writeU64(buf, OFF.ddSize, sb.deviceSize);
  writeCString(buf, OFF.ddDaxdev, DEVNAME_LEN, sb.devicePath.slice(0, DEVNAME_LEN));
  writeU64(buf, OFF.crc, superblockCrc(buf));
  return buf;
}

export function superblockCrc(buf: Buffer): number {
  return famfsCrc(buf, 0, SUPERBLOCK_CRC_END);
}

/** Decodes the fields without judging them; see checkSuperblock(). */
export function decodeSuperblock(buf: Buffer): Superblock {
  return {
    magic: readU64(buf, OFF.magic),
    version: readU64(buf, OFF.version),
    logOffset: readU64(buf, OFF.logOffset),
    logLen: readU64(buf, OFF.logLen),
    allocUnit: readU64(buf, OFF.allocUnit),
    omfMajor: buf.readUInt32LE(OFF.omfMajor),
    omfMinor: buf.readUInt32LE(OFF.omfMinor),
    uuid: uuidFromBytes(buf, OFF.uuid),
    devUuid: uuidFromBytes(buf, OFF.devUuid),
    systemUuid: uuidFromBytes(buf, OFF.systemUuid),
    crc: readU64(buf, OFF.crc),
    sbFlags: buf.readUInt32LE(OFF.sbFlags),
    deviceSize: readU64(buf, OFF.ddSize),
    deviceUuid: uuidFromBytes(buf, OFF.ddUuid),
    devicePath: readCString(buf, OFF.ddDaxdev, DEVNAME_LEN),
  };
}

export type SuperblockVerdict =
  | { ok: true; superblock: Superblock }
  | { ok: false; kind: 'no-superblock' | 'bad-version' | 'corrupt'; reason: string; superblock: Superblock };

/**
 * famfs_check_super() order (magic, version, CRC, alloc unit), extended with the checks famfs-csi
 * needs to trust the layout: OMF major 2 and the fixed log offset.
 */
export function checkSuperblock(buf: Buffer): SuperblockVerdict {
  const sb = decodeSuperblock(buf);
  const fail = (kind: 'no-superblock' | 'bad-version' | 'corrupt', reason: string): SuperblockVerdict => ({ ok: false, kind, reason, superblock: sb });
  if (sb.magic !== SUPER_MAGIC) {
    return fail('no-superblock', `no famfs superblock: magic is 0x${hex(buf, OFF.magic)}, expected 0x${SUPER_MAGIC.toString(16)}`);
  }
  if (!isFamfsVersion(sb.version)) {
    return fail('bad-version', `famfs superblock version ${Number.isNaN(sb.version) ? '0x' + hex(buf, OFF.version) : sb.version} (OMF ${sb.omfMajor}.${sb.omfMinor}) is not supported; famfs-csi reads versions 47 (OMF 2.1) and 48 (OMF 2.2)`);
  }
  const crc = superblockCrc(buf);
  if (sb.crc !== crc) {
    return fail('corrupt', `superblock CRC mismatch: stored 0x${sb.crc.toString(16)}, computed 0x${crc.toString(16)} over bytes [0,${SUPERBLOCK_CRC_END})`);
  }
  if (!(ACCEPTED_ALLOC_UNITS as readonly number[]).includes(sb.allocUnit)) {
    return fail('corrupt', `superblock alloc unit ${sb.allocUnit} is invalid (famfs accepts 4096 or 2097152)`);
  }
  if (sb.omfMajor !== 2) {
    return fail('bad-version', `famfs version ${sb.version} with OMF ${sb.omfMajor}.${sb.omfMinor}: only OMF major 2 has the entry layout famfs-csi reads (older v47 images used another layout)`);
  }
  if (sb.logOffset !== LOG_OFFSET) {
    return fail('corrupt', `superblock log offset 0x${sb.logOffset.toString(16)} is invalid (famfs requires 0x${LOG_OFFSET.toString(16)})`);
  }
  return { ok: true, superblock: sb };
}

function hex(buf: Buffer, offset: number): string {
  return Buffer.from(buf.subarray(offset, offset + 8)).reverse().toString('hex').replace(/^0+(?=.)/, '');
}

/** Writes a new master UUID into an existing superblock and re-CRCs it (taking over the pool). */
export function setSystemUuid(buf: Buffer, systemUuid: string): void {
  uuidToBytes(systemUuid).copy(buf, OFF.systemUuid);
  writeU64(buf, OFF.crc, superblockCrc(buf));
}

/** famfs -k: kill a superblock by zeroing its magic. */
export function killSuperblock(buf: Buffer): void {
  writeU64(buf, OFF.magic, 0);
}
