import type { MemoryError } from '../../famfs/health/memoryError.js';
import type { ErrorCount } from '../metrics.js';

/** Errors present now, counted by pool, kind and source (the famfs_csi_memory_errors gauge). */
export function errorCounts(byPool: Iterable<[string, readonly MemoryError[]]>): ErrorCount[] {
  const counts = new Map<string, ErrorCount>();
  for (const [pool, list] of byPool) {
    for (const e of list) {
      const k = `${pool}/${e.kind}/${e.source}`;
      const c = counts.get(k) ?? { pool, kind: e.kind, source: e.source, count: 0 };
      c.count++;
      counts.set(k, c);
    }
  }
  return [...counts.values()];
}
