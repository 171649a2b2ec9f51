import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FamfsLog, LOG_HEADER_SIZE, LOG_OFFSET, createEmulatedDevice, decodeLogHeader, logCapacity, mkfs, openDaxDevice, MiB } from '../../src/famfs/index.js';
import type { DaxDevice, MkfsOptions } from '../../src/famfs/index.js';

/** A scratch directory on /dev/shm (tmpfs, like a real emulated pool) removed by cleanup(). */
export function scratchDir(prefix = 'famfs-csi-test-'): { dir: string; cleanup: () => void } {
  const base = process.env.FAMFS_TEST_DIR ?? '/dev/shm';
  const dir = mkdtempSync(join(base.length ? base : tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// Every test process gets its own host identity file, so tests never touch /opt/famfs.
const identity = scratchDir('famfs-csi-identity-');
process.env.FAMFS_SYSTEM_UUID_FILE = join(identity.dir, 'system_uuid');
process.on('exit', () => identity.cleanup());

/** The log length of tmpPool pools (unless opts.mkfs says otherwise). */
export const TMP_POOL_LOG_LEN = 8 * MiB;

export interface TmpPool {
  path: string;
  dev: DaxDevice;
  cleanup(): void;
}

/** Creates and formats an emulated pool file (default 256 MiB, 8 MiB log). */
export async function tmpPool(opts: { size?: number; mkfs?: MkfsOptions } = {}): Promise<TmpPool> {
  const scratch = scratchDir();
  const path = join(scratch.dir, 'pool.dax');
  createEmulatedDevice(path, opts.size ?? 256 * MiB);
  const dev = openDaxDevice(path);
  await mkfs(dev, { logLength: TMP_POOL_LOG_LEN, ...opts.mkfs });
  return {
    path,
    dev,
    cleanup() {
      dev.close();
      scratch.cleanup();
    },
  };
}

/** A tmpPool (default 64 MiB here) removed when the test ends. */
export async function testPool(t: { after(fn: () => unknown): void }, size = 64 * MiB, mkfsOptions: MkfsOptions = {}): Promise<TmpPool> {
  const tp = await tmpPool({ size, mkfs: mkfsOptions });
  t.after(() => tp.cleanup());
  return tp;
}

/** The log of a tmpPool device, for writing entries below the Pool API. */
export function rawLog(dev: DaxDevice): FamfsLog {
  return new FamfsLog(dev.map(LOG_OFFSET, TMP_POOL_LOG_LEN), logCapacity(TMP_POOL_LOG_LEN) - 1);
}

/** The decoded log header of a tmpPool device. */
export function logHeaderOf(dev: DaxDevice): ReturnType<typeof decodeLogHeader> {
  return decodeLogHeader(dev.map(LOG_OFFSET, LOG_HEADER_SIZE));
}
