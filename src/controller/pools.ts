import { existsSync } from 'node:fs';
import { Pool, readSuperblock, createEmulatedDevice, isFamfsError, mkfs, openDaxDevice } from '../famfs/index.js';
import type { PoolConfig } from '../csi/config.js';
import type { Logger } from '../csi/logger.js';

/**
 * The controller's pools: opened for writing (the controller is each pool's single log writer),
 * created and formatted first when the configuration says so. Pools that cannot be opened are
 * retried in the background; Probe reports not-ready until every pool is open.
 */
export class PoolSet {
  private readonly open = new Map<string, Pool>();
  private readonly errors = new Map<string, string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;

  constructor(
    readonly configs: PoolConfig[],
    private readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.open.size === this.configs.length;
  }

  config(name: string): PoolConfig | undefined {
    return this.configs.find((c) => c.name === name);
  }

  get(name: string): Pool | undefined {
    return this.open.get(name);
  }

  /** Open pools, in configuration order. */
  all(): { config: PoolConfig; pool: Pool }[] {
    return this.configs.flatMap((config) => {
      const pool = this.open.get(config.name);
      return pool ? [{ config, pool }] : [];
    });
  }

  problem(name: string): string | undefined {
    return this.errors.get(name);
  }

  /** Opens every pool; returns once each has been tried, then keeps retrying failures. */
  async start(retryMs = 10_000): Promise<void> {
    await this.tryOnce();
    if (!this.ready && !this.retryTimer) {
      // A retry never starts while the previous attempt (which may be formatting) still runs.
      this.retryTimer = setInterval(() => void this.tryOnce(), retryMs);
      this.retryTimer.unref();
    }
  }

  private tryOnce(): Promise<void> {
    this.attempt ??= this.tryOpenAll().finally(() => (this.attempt = undefined));
    return this.attempt;
  }

  private async tryOpenAll(): Promise<void> {
    for (const c of this.configs) {
      if (this.open.has(c.name)) continue;
      try {
        this.open.set(c.name, await openPool(c, this.logger));
        this.errors.delete(c.name);
        this.logger.info('pool open', { pool: c.name, device: c.device, ...summary(this.open.get(c.name)!) });
      } catch (e) {
        const message = (e as Error).message;
        if (this.errors.get(c.name) !== message) this.logger.error('cannot open pool; will retry', { pool: c.name, device: c.device, error: message });
        this.errors.set(c.name, message);
      }
    }
    if (this.ready && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  close(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
    for (const pool of this.open.values()) pool.close();
    this.open.clear();
  }
}

function summary(pool: Pool): Record<string, unknown> {
  const s = pool.stats();
  return { version: s.version, volumesDir: s.directories, freeBytes: s.freeBytes, logEntriesFree: s.logEntriesFree, reclaim: s.reclaim };
}

export async function openPool(c: PoolConfig, logger: Logger): Promise<Pool> {
  if (c.emulatedSize !== undefined && !existsSync(c.device)) createEmulatedDevice(c.device, c.emulatedSize);
  const dev = openDaxDevice(c.device);
  try {
    const verdict = readSuperblock(dev);
    if (!verdict.ok && c.format === 'ifMissing') {
      if (verdict.kind !== 'no-superblock') {
        throw new Error(`pool ${c.name}: ${c.device}: ${verdict.reason}; not formatting over it (format it explicitly with famfs-csi pool mkfs --force)`);
      }
      logger.info('formatting pool', { pool: c.name, device: c.device, logLength: c.logLength, famfsVersion: c.famfsVersion });
      let lastPct = -1;
      await mkfs(dev, {
        logLength: c.logLength,
        version: c.famfsVersion,
        progress: (done, total) => {
          const pct = Math.floor((done / total) * 100);
          if (pct >= lastPct + 25) {
            lastPct = pct;
            logger.info('formatting pool: zeroing the log', { pool: c.name, percent: pct });
          }
        },
      });
    }
    return Pool.open(dev, { reclaim: c.reclaim, takeOver: c.takeOver, allocator: { relaxBucketMinimum: c.relaxStripeBuckets } });
  } catch (e) {
    dev.close();
    if (isFamfsError(e)) throw new Error(`pool ${c.name}: ${e.message}`);
    throw e;
  }
}
