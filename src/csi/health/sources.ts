import { statSync } from 'node:fs';
import { EmulatedPoisonSource } from '../../famfs/health/poisonList.js';
import { DeviceProbeSource } from '../../famfs/health/deviceProbe.js';
import { BadblocksSource } from '../../famfs/health/badblocks.js';
import { KmsgErrorSource } from '../../famfs/health/kmsg.js';
import type { KmsgReader } from '../../famfs/health/kmsgReader.js';
import type { ErrorSource } from '../../famfs/health/memoryError.js';
import type { PoolConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { PoolSources } from './monitor.js';

export interface SourceOptions {
  logger: Logger;
  /** The host's kernel log (node plugin only): famfs kernel memory errors. */
  kmsg?: KmsgReader;
  /** When this host's FUSE mount of a pool started (ms since boot); older kernel errors no longer apply. */
  mountStartedMs?: (pool: string) => number | undefined;
  /** Root of sysfs (tests use a fake tree). */
  sysfsRoot?: string;
  /** How many famfs pools this host serves: kernel lines that name only a daxdev index are attributed when it is 1. */
  poolsOnHost?: number;
}

export type PoolDevice = Pick<PoolConfig, 'name' | 'device'> & { emulatedSize?: number };

/** An emulated pool: configured with a size, or its device is a regular file. */
export function isEmulatedPool(pool: PoolDevice): boolean {
  if (pool.emulatedSize !== undefined) return true;
  try {
    return statSync(pool.device).isFile();
  } catch {
    return false;
  }
}

/**
 * The error sources that apply to a pool's device on this host: the device probe always; the
 * shared poison list for emulated pools; for devdax, pmem bad blocks and (node plugin) the famfs
 * kernel's log lines.
 */
export function poolSources(pool: PoolDevice, opts: SourceOptions): PoolSources {
  const problem = (source: string) => (message: string) => opts.logger.warn('memory error source problem', { pool: pool.name, source, problem: message });
  const sources: ErrorSource[] = [new DeviceProbeSource({ device: pool.device, onProblem: problem('probe') })];
  if (isEmulatedPool(pool)) {
    sources.push(new EmulatedPoisonSource(pool.device, problem('emulated')));
  } else {
    sources.push(new BadblocksSource({ device: pool.device, sysfsRoot: opts.sysfsRoot, onProblem: problem('badblocks') }));
  }
  if (opts.kmsg) {
    sources.push(
      new KmsgErrorSource({
        reader: opts.kmsg,
        device: pool.device,
        since: () => opts.mountStartedMs?.(pool.name),
        onlyPoolOnHost: () => opts.poolsOnHost === 1,
      }),
    );
  }
  return { pool: pool.name, device: pool.device, sources };
}
