import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processStartSinceBootMs } from '../famfs/health/procTimes.js';
import type { PoolConfig } from '../csi/config.js';
import { volumeHealth } from '../csi/health/condition.js';
import type { VolumeHealth } from '../csi/health/condition.js';
import type { HealthMonitor } from '../csi/health/monitor.js';
import { REPORT_REFRESH_MS } from '../csi/health/reports.js';
import type { HealthReportChannel } from '../csi/health/reports.js';
import type { VolumeEventEmitter } from '../csi/health/transitions.js';
import { withDeadline } from '../csi/health/deadline.js';
import type { Logger } from '../csi/logger.js';
import { errorCounts } from '../csi/health/counts.js';
import type { HealthMetrics } from '../csi/metrics.js';
import { VOLUMES_DIR, formatVolumeId } from '../csi/volumeId.js';
import type { VolumeRef } from '../csi/volumeId.js';
import { readMountinfo } from '../fuse/mountTable.js';
import { FUSE_FSTYPE } from './poolServers.js';
import type { PoolReaders } from './poolReaders.js';

export interface NodeHealthOptions {
  nodeId: string;
  pools: PoolConfig[];
  kubeletDir: string;
  monitor: HealthMonitor;
  readers: PoolReaders;
  logger: Logger;
  /** Where this node's error reports go for the controller (none: the controller does not hear). */
  channel?: HealthReportChannel;
  /** Pod events for the volumes published on this node. */
  events?: VolumeEventEmitter;
}

/** A volume published into a pod on this node, as the mount table shows it. */
export interface PublishedVolume {
  volumeId: string;
  ref: VolumeRef;
  podUid: string;
  target: string;
}

/** When the FUSE server that serves `mountpoint` started (ms since boot), from its pid file. */
export function serverStartedMs(mountpoint: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(`${mountpoint}.pid`, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? processStartSinceBootMs(pid) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The node's view of memory errors: the health monitor's errors per pool, turned into the
 * condition of a volume (from its fmap), published to the controller when they change (and
 * refreshed so the controller knows the node is alive), and into Events on the pods that use an
 * affected volume on this node.
 */
const VOLUME_ROOT_RE = new RegExp(`^/${VOLUMES_DIR}/([0-9a-f]{32})$`);
const POD_VOLUME_RE = /^([^/]+)\/volumes\//;

export class NodeHealth {
  private refreshTimer: NodeJS.Timeout | undefined;
  private volumeTimer: NodeJS.Timeout | undefined;
  private publishing: Promise<void> | undefined;
  private publishAgain = false;
  private stopped = false;
  /** Published volumes that were abnormal at the last check. */
  private abnormal = new Map<string, VolumeHealth>();

  constructor(private readonly opts: NodeHealthOptions) {}

  /** The condition of a volume on this node; undefined when its file is not in the pool. */
  volumeHealth(ref: VolumeRef): VolumeHealth | undefined {
    const file = this.opts.readers.volumeFile(ref);
    if (!file) return undefined;
    return volumeHealth(file.fmap, file.size, this.opts.monitor.errors(ref.pool));
  }

  /** Volumes bind-mounted into pods under <kubeletDir>/pods/<uid>/volumes/. */
  publishedVolumes(): PublishedVolume[] {
    const podsDir = join(this.opts.kubeletDir, 'pods') + '/';
    const out: PublishedVolume[] = [];
    for (const m of readMountinfo()) {
      if (m.fsType !== FUSE_FSTYPE || !m.mountPoint.startsWith(podsDir)) continue;
      const rootMatch = VOLUME_ROOT_RE.exec(m.root);
      const podMatch = POD_VOLUME_RE.exec(m.mountPoint.slice(podsDir.length));
      const pool = this.opts.pools.find((p) => p.device === m.source);
      if (!rootMatch || !podMatch || !pool) continue;
      const ref = { pool: pool.name, id: rootMatch[1]! };
      out.push({ volumeId: formatVolumeId(ref), ref, podUid: podMatch[1]!, target: m.mountPoint });
    }
    return out;
  }

  /** Pod uids that use the volume on this node. */
  podsOf(volumeId: string): string[] {
    return [...new Set(this.publishedVolumes().filter((v) => v.volumeId === volumeId).map((v) => v.podUid))];
  }

  /** Errors now by pool/kind/source, and abnormal published volumes by pool (for metrics). */
  counts(): HealthMetrics {
    const abnormal = this.opts.pools.map((p) => ({ pool: p.name, count: [...this.abnormal.keys()].filter((id) => id.startsWith(`${p.name}:`)).length }));
    return { errors: errorCounts(Object.entries(this.opts.monitor.all())), abnormal };
  }

  private checkVolumes(): void {
    const abnormal = new Map<string, VolumeHealth>();
    // With no errors anywhere no volume is abnormal: the mount table need not be read.
    const anyErrors = this.opts.pools.some((p) => this.opts.monitor.errors(p.name).length > 0);
    if (!anyErrors) {
      this.abnormal = abnormal;
      void this.opts.events?.update(abnormal);
      return;
    }
    try {
      for (const v of this.publishedVolumes()) {
        if (abnormal.has(v.volumeId) || this.opts.monitor.errors(v.ref.pool).length === 0) continue;
        const h = this.volumeHealth(v.ref);
        if (h?.abnormal) abnormal.set(v.volumeId, h);
      }
    } catch (e) {
      this.opts.logger.warn('cannot check the published volumes', { error: (e as Error).message });
      return;
    }
    this.abnormal = abnormal;
    void this.opts.events?.update(abnormal);
  }

  /** Writes this node's report; overlapping calls collapse into one more write. */
  publish(): Promise<void> {
    const channel = this.opts.channel;
    if (!channel || this.stopped) return Promise.resolve();
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishing;
    }
    this.publishing = (async () => {
      do {
        this.publishAgain = false;
        const report = { node: this.opts.nodeId, updatedAt: new Date().toISOString(), pools: this.opts.monitor.all() };
        try {
          await withDeadline(channel.publish(report), `publishing the health report to ${channel.description}`);
        } catch (e) {
          this.opts.logger.warn('cannot publish the health report', { channel: channel.description, error: (e as Error).message });
        }
      } while (this.publishAgain);
    })().finally(() => (this.publishing = undefined));
    return this.publishing;
  }

  start(): void {
    const { monitor } = this.opts;
    monitor.onChange(() => void this.publish());
    monitor.start();
    void this.publish();
    this.checkVolumes();
    // Volumes get published and unpublished between error changes: look at them every poll.
    this.volumeTimer = setInterval(() => this.checkVolumes(), monitor.intervalMs);
    this.volumeTimer.unref();
    this.refreshTimer = setInterval(() => void this.publish(), REPORT_REFRESH_MS);
    this.refreshTimer.unref();
  }

  /** Stops polling; resolves when a report being written is done (nothing writes after that). */
  async stop(): Promise<void> {
    clearInterval(this.volumeTimer);
    clearInterval(this.refreshTimer);
    this.opts.monitor.stop();
    this.stopped = true;
    await this.publishing;
    this.opts.readers.close();
  }
}
