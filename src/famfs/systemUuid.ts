import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isUuid, newUuid } from './uuid.js';
import { FamfsError } from './errors.js';

/**
 * A host's famfs identity: the text UUID in /opt/famfs/system_uuid. The pool's master is the host
 * whose UUID is in the superblock. In containers this must be the host's file (hostPath), or every
 * container would invent its own identity. FAMFS_SYSTEM_UUID_FILE overrides the path (tests).
 */
export const DEFAULT_SYSTEM_UUID_FILE = '/opt/famfs/system_uuid';

export function systemUuidFile(): string {
  return process.env.FAMFS_SYSTEM_UUID_FILE || DEFAULT_SYSTEM_UUID_FILE;
}

/** Reads the host UUID, creating the file as famfs does (mode 0444, 36 chars + NUL) if missing. */
export function readOrCreateSystemUuid(path: string = systemUuidFile()): string {
  if (existsSync(path)) {
    const text = readFileSync(path, 'latin1').replace(/\0.*$/s, '').trim().slice(0, 36);
    if (isUuid(text)) return text.toLowerCase();
    throw new FamfsError('INVALID', `${path} does not hold a UUID (found "${text}"); remove it to let famfs-csi create a new host identity`);
  }
  const uuid = newUuid();
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, Buffer.from(`${uuid}\0`, 'latin1'), { mode: 0o444, flag: 'wx' });
  chmodSync(path, 0o444);
  return uuid;
}

export function removeSystemUuid(path: string = systemUuidFile()): void {
  if (existsSync(path)) unlinkSync(path);
}

/** The host UUID if the identity file exists, without creating it (for read-only tools). */
export function existingSystemUuid(path: string = systemUuidFile()): string | undefined {
  return existsSync(path) ? readOrCreateSystemUuid(path) : undefined;
}
