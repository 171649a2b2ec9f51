import { errorKey, sortErrors } from '../famfs/health/memoryError.js';
import type { MemoryError } from '../famfs/health/memoryError.js';
import type { Pool } from '../famfs/index.js';
import { volumeHealth } from '../csi/health/condition.js';
import type { VolumeHealth } from '../csi/health/condition.js';
import type { HealthMonitor } from '../csi/health/monitor.js';
import { isFresh } from '../csi/health/reports.js';
import type { HealthReportChannel, NodeHealthReport } from '../csi/health/reports.js';
import type { VolumeEventEmitter } from '../csi/health/transitions.js';
import { withDeadline } from '../csi/health/deadline.js';
import type { Logger } from '../csi/logger.js';
import { errorCounts } from '../csi/health/counts.js';
import type { HealthMetrics } from '../csi/metrics.js';
import type { PoolSet } from './pools.js';
import { listPoolVolumes } from './volumes.js';
import type { PoolVolume } from './volumes.js';

export interface ControllerHealthOptions {
  pools: PoolSet;
  /** Errors this host sees (shared emulated lists, this host's probe and bad blocks). */
  monitor: HealthMonitor;
  /** Reports of the node plugins. */
  channel?: HealthReportChannel;
  /** PVC events. */
  events?: VolumeEventEmitter;
  logger: Logger;
}

/**
 * The controller's view of memory errors: its own sources plus every node's fresh report, merged
 * (an error several hosts see is listed once per host that saw it only when it is host-local).
 * Refreshed every monitor interval, so a node's report reaches ListVolumes / ControllerGetVolume
 * within one node poll + one write + one controller poll.
 */
export class ControllerHealth {
  private merged = new Map<string, MemoryError[]>();
  private reports: NodeHealthReport[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private abnormalCounts = new Map<string, number>();

  constructor(private readonly opts: ControllerHealthOptions) {}

  errors(pool: string): MemoryError[] {
    return this.merged.get(pool) ?? [];
  }

  volumeHealth(volume: PoolVolume): VolumeHealth {
    return volumeHealth(volume.file.fmap, volume.file.size, this.errors(volume.ref.pool));
  }

  /** Errors now, by pool (for metrics), and abnormal volumes by pool as of the last refresh. */
  counts(): HealthMetrics {
    return { errors: errorCounts(this.merged), abnormal: [...this.abnormalCounts].map(([pool, count]) => ({ pool, count })) };
  }

  private merge(): void {
    const now = Date.now();
    const fresh = this.reports.filter((r) => isFresh(r, now));
    const merged = new Map<string, MemoryError[]>();
    for (const config of this.opts.pools.configs) {
      const seen = new Map<string, MemoryError>();
      const add = (e: MemoryError) => seen.set(`${errorKey(e)}@${e.node ?? ''}`, e);
      this.opts.monitor.errors(config.name).forEach(add);
      for (const r of fresh) (r.pools[config.name] ?? []).forEach(add);
      merged.set(config.name, sortErrors([...seen.values()]));
    }
    const before = JSON.stringify([...this.merged]);
    this.merged = merged;
    if (JSON.stringify([...merged]) !== before) this.opts.logger.info('memory errors known to the controller changed', { errors: Object.fromEntries(merged) });
  }

  /** Abnormal volumes of every open pool (only pools with errors are looked at). */
  private abnormalVolumes(): Map<string, VolumeHealth> {
    const out = new Map<string, VolumeHealth>();
    const counts = new Map<string, number>();
    for (const { config, pool } of this.opts.pools.all()) {
      counts.set(config.name, 0);
      if (this.errors(config.name).length === 0) continue;
      for (const v of volumesOf(config.name, pool)) {
        const h = this.volumeHealth(v);
        if (!h.abnormal) continue;
        out.set(v.volumeId, h);
        counts.set(config.name, counts.get(config.name)! + 1);
      }
    }
    this.abnormalCounts = counts;
    return out;
  }

  /** Reads the node reports, merges, and hands the abnormal volumes to the event emitter. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      this.opts.monitor.poll();
      if (this.opts.channel) {
        try {
          this.reports = await withDeadline(this.opts.channel.readAll(), `reading node health reports from ${this.opts.channel.description}`);
        } catch (e) {
          this.opts.logger.warn('cannot read node health reports; keeping the last ones', { channel: this.opts.channel.description, error: (e as Error).message });
        }
      }
      this.merge();
      const abnormal = this.abnormalVolumes();
      if (this.opts.events) void this.opts.events.update(abnormal);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.monitor.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.opts.monitor.stop();
  }
}

function volumesOf(name: string, pool: Pool): PoolVolume[] {
  pool.refresh();
  return listPoolVolumes(name, pool);
}
