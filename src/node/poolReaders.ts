import { Pool } from '../famfs/index.js';
import type { FileNode } from '../famfs/index.js';
import type { PoolConfig } from '../csi/config.js';
import { volumeDataPath } from '../csi/volumeId.js';
import type { VolumeRef } from '../csi/volumeId.js';

/**
 * Read-only views of the pools on this node, opened on first use and caught up with the log on
 * every lookup: the node needs a volume's fmap to tell whether a memory error lies under it.
 * A pool that cannot be opened (device missing, not formatted yet) is tried again next time.
 */
export class PoolReaders {
  private readonly open = new Map<string, Pool>();

  constructor(private readonly pools: PoolConfig[]) {}

  private pool(name: string): Pool | undefined {
    let pool = this.open.get(name);
    if (!pool) {
      const config = this.pools.find((p) => p.name === name);
      if (!config) return undefined;
      try {
        pool = Pool.open(config.device, { writable: false, reclaim: config.reclaim });
      } catch {
        return undefined;
      }
      this.open.set(name, pool);
    }
    pool.refresh();
    return pool;
  }

  /** The volume's data file, or undefined when the pool or the volume is not there. */
  volumeFile(ref: VolumeRef): FileNode | undefined {
    const node = this.pool(ref.pool)?.lookup(volumeDataPath(ref));
    return node?.kind === 'file' ? node : undefined;
  }

  stats(name: string): ReturnType<Pool['stats']> | undefined {
    return this.pool(name)?.stats();
  }

  close(): void {
    for (const p of this.open.values()) p.close();
    this.open.clear();
  }
}
