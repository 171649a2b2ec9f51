/** famfs on-media constants (famfs `src/famfs_meta.h`). All multi-byte fields are little-endian. */

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const SUPER_MAGIC = 0x87b282ff;
export const LOG_MAGIC = 0xbadcafef00d;

/** famfs checks `ts_version` exactly; OMF major 2 identifies the entry layout described here. */
export const FAMFS_VERSIONS = {
  48: { omfMajor: 2, omfMinor: 2 },
  47: { omfMajor: 2, omfMinor: 1 },
} as const;
export type FamfsVersion = keyof typeof FAMFS_VERSIONS;
export const DEFAULT_VERSION: FamfsVersion = 48;
export function isFamfsVersion(v: number): v is FamfsVersion {
  return v === 47 || v === 48;
}

export const SUPERBLOCK_SIZE = 0x200000;
export const LOG_OFFSET = 0x200000;
export const ALLOC_UNIT = 0x200000;
/** alloc units famfs_check_super() accepts; only 2 MiB works with the kernel FUSE path. */
export const ACCEPTED_ALLOC_UNITS = [4096, ALLOC_UNIT] as const;

export const MIN_LOG_LEN = 8 * MiB;
/** famfs-csi formats pools with a 64 MiB log (123,361 entries) unless told otherwise. */
export const DEFAULT_LOG_LEN = 64 * MiB;
/** mkfs.famfs refuses smaller devices; famfs-csi applies it to real devdax only. */
export const FAMFS_MIN_DEVICE_SIZE = 4 * GiB;

export const LOG_HEADER_SIZE = 48;
export const LOG_ENTRY_SIZE = 544;
export const MAX_PATHLEN = 80;
/** The FUSE create path asserts strlen < 79; keep relpaths at 78 bytes or fewer. */
export const MAX_RELPATH_BYTES = 78;
export const MAX_SIMPLE_EXTENTS = 16;
export const MAX_STRIPS = 16;
export const MAX_NBUCKETS = 64;
/** famfs_validate_interleave_param(): each bucket must span at least this much. */
export const MIN_BUCKET_SIZE = GiB;
export const DEVNAME_LEN = 64;

export const FM_ALL_HOSTS_RO = 1 << 0;
export const FM_ALL_HOSTS_RW = 1 << 1;

export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIR_MODE = 0o755;

/** Number of entries a log of `logLen` bytes holds: last_index + 1. */
export function logCapacity(logLen: number): number {
  return Math.floor((logLen - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.floor(Math.log2(n)) === n;
}

export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
