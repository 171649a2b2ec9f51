import { ALLOC_UNIT, DEFAULT_LOG_LEN, DEFAULT_VERSION, FAMFS_MIN_DEVICE_SIZE, LOG_HEADER_SIZE, LOG_OFFSET, MIN_LOG_LEN, isPowerOfTwo } from './constants.js';
import type { FamfsVersion } from './constants.js';
import { FamfsError } from './errors.js';
import type { DaxDevice } from './dax/device.js';
import { flushCache } from './dax/native.js';
import { SUPERBLOCK_STRUCT_SIZE, checkSuperblock, encodeSuperblock, killSuperblock } from './superblock.js';
import { encodeLogHeader } from './logHeader.js';
import { newUuid } from './uuid.js';
import { readOrCreateSystemUuid } from './systemUuid.js';
import { zeroRange } from './zeroFill.js';
import type { Progress } from './zeroFill.js';

export interface MkfsOptions {
  logLength?: number;
  version?: FamfsVersion;
  /** Overwrite an existing famfs superblock. */
  force?: boolean;
  /** The master's system UUID; defaults to this host's /opt/famfs/system_uuid. */
  systemUuid?: string;
  progress?: Progress;
}

export interface MkfsResult {
  uuid: string;
  devUuid: string;
  systemUuid: string;
  version: FamfsVersion;
  logLength: number;
  deviceSize: number;
}

/**
 * The smallest device famfs-csi formats: famfs's 4 GiB for real devdax; for emulated pools,
 * superblock + log + one 2 MiB allocation unit, so tests can use small files.
 */
export function minimumDeviceSize(kind: DaxDevice['kind'], logLength: number): number {
  return kind === 'devdax' ? FAMFS_MIN_DEVICE_SIZE : LOG_OFFSET + logLength + ALLOC_UNIT;
}

/** Formats `dev` as mkfs.famfs does: superblock fields, master UUID, zeroed and initialised log. */
export async function mkfs(dev: DaxDevice, opts: MkfsOptions = {}): Promise<MkfsResult> {
  const logLength = opts.logLength ?? DEFAULT_LOG_LEN;
  const version = opts.version ?? DEFAULT_VERSION;
  if (!isPowerOfTwo(logLength) || logLength < MIN_LOG_LEN) {
    throw new FamfsError('INVALID', `log length ${logLength} must be a power of two of at least ${MIN_LOG_LEN} bytes (8 MiB)`);
  }
  const min = minimumDeviceSize(dev.kind, logLength);
  if (dev.size < min) {
    const why = dev.kind === 'devdax' ? 'famfs refuses devices under 4 GiB' : `superblock (2 MiB) + log (${logLength}) + one 2 MiB allocation unit`;
    throw new FamfsError('TOO_SMALL', `device ${dev.path} is ${dev.size} bytes; at least ${min} bytes are needed (${why})`, { size: dev.size, minimum: min });
  }
  if (!dev.writable) throw new FamfsError('READ_ONLY', `device ${dev.path} is open read-only`);
  const sbView = dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  const existing = checkSuperblock(sbView);
  if ((existing.ok || existing.kind !== 'no-superblock') && !opts.force) {
    const sb = existing.superblock;
    throw new FamfsError('EXISTS', `${dev.path} already has a famfs superblock (version ${sb.version}, uuid ${sb.uuid}); formatting again needs force (mkfs --force)`, { uuid: sb.uuid });
  }
  const systemUuid = opts.systemUuid ?? readOrCreateSystemUuid();
  // An interrupted mkfs must not leave a valid-looking superblock over a half-written log.
  killSuperblock(sbView);
  flushCache(sbView);
  await zeroRange(dev, LOG_OFFSET, logLength, opts.progress);
  const log = dev.map(LOG_OFFSET, LOG_HEADER_SIZE);
  encodeLogHeader(logLength).copy(log);
  flushCache(log);
  const result: MkfsResult = { uuid: newUuid(), devUuid: newUuid(), systemUuid, version, logLength, deviceSize: dev.size };
  const sb = encodeSuperblock({ version, logLen: logLength, uuid: result.uuid, devUuid: result.devUuid, systemUuid, deviceSize: dev.size, devicePath: dev.path });
  // Magic last: the superblock becomes valid only when every other byte is in place.
  sb.copy(sbView, 8, 8);
  flushCache(sbView);
  sb.copy(sbView, 0, 0, 8);
  flushCache(sbView);
  return result;
}

/** mkfs.famfs -f -k: invalidate a superblock so nothing treats the device as famfs. */
export function killFilesystem(dev: DaxDevice): void {
  const sbView = dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  killSuperblock(sbView);
  flushCache(sbView);
}
