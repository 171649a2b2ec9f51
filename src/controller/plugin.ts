import { hostname } from 'node:os';
import type { DriverConfig } from '../csi/config.js';
import { KeyedLocks } from '../csi/locks.js';
import type { Logger } from '../csi/logger.js';
import { csiServices } from '../csi/proto.js';
import { serviceImplementation } from '../csi/rpc.js';
import { CsiServer } from '../csi/server.js';
import { DRIVER_NAME, identityRpcs } from '../csi/identity.js';
import { packageVersion } from '../csi/version.js';
import { Metrics } from '../csi/metrics.js';
import { startMetricsServer } from '../csi/metricsServer.js';
import type { MetricsServer } from '../csi/metricsServer.js';
import { HealthMonitor } from '../csi/health/monitor.js';
import { poolSources } from '../csi/health/sources.js';
import { connectFromSettings, eventRecorder, reportChannel } from '../csi/health/setup.js';
import type { HealthSettings } from '../csi/health/setup.js';
import { VolumeEventEmitter } from '../csi/health/transitions.js';
import { ClaimLookup } from '../csi/kube/lookup.js';
import type { EventTarget } from '../csi/kube/events.js';
import { PoolSet } from './pools.js';
import { ControllerService } from './service.js';
import { ControllerHealth } from './health.js';

export interface ControllerPluginOptions {
  config: DriverConfig;
  endpoint: string;
  logger: Logger;
  socketMode?: number;
  /** How long a request waits for another one on the same volume before ABORTED (default 60 s). */
  lockTimeoutMs?: number;
  /** Kubernetes, node reports and the memory error poll period. */
  health?: HealthSettings;
  /** host:port for GET /metrics (none: no metrics endpoint). */
  metricsAddress?: string;
}

export interface RunningPlugin {
  server: CsiServer;
  socketPath: string;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Identity + Controller on one socket; pools open in the background (Probe says when ready).
 * Memory errors: this host's sources plus the node reports, as volume conditions and PVC events.
 */
export async function startControllerPlugin(opts: ControllerPluginOptions): Promise<RunningPlugin & { pools: PoolSet; health: ControllerHealth; metrics: Metrics; metricsServer?: MetricsServer }> {
  const csi = csiServices();
  const { logger, config } = opts;
  const settings = opts.health ?? {};
  const instance = config.nodeId ?? hostname();
  const kube = connectFromSettings(settings, logger);
  const pools = new PoolSet(config.pools, logger);
  const metrics = new Metrics('controller', { instance });
  const claims = kube ? new ClaimLookup(kube, { driver: DRIVER_NAME }) : undefined;
  // Without Kubernetes the events go to the log, about the volume itself.
  // A volume without a bound PV (yet) is tried again later (the PV may be created after the error).
  const targetsOf = async (volumeId: string): Promise<EventTarget[] | undefined> => {
    if (!claims) return [{ kind: 'PersistentVolumeClaim', namespace: '-', name: volumeId, uid: volumeId }];
    const claim = await claims.claimOfVolume(volumeId);
    return claim ? [claim] : undefined;
  };
  const health = new ControllerHealth({
    pools,
    monitor: new HealthMonitor({ pools: config.pools.map((p) => poolSources(p, { logger })), logger, node: instance, intervalMs: settings.intervalMs }),
    channel: reportChannel(settings, kube, config.stateDir),
    events: new VolumeEventEmitter(eventRecorder(kube, 'famfs-csi-controller', instance, logger), targetsOf, logger),
    logger,
  });
  metrics.setPoolSource(() =>
    pools.all().map(({ config: c, pool }) => {
      const s = pool.stats();
      return { pool: c.name, sizeBytes: s.deviceSize, freeBytes: s.freeBytes, largestFreeBytes: s.largestFreeRun, volumes: s.files, logEntriesUsed: s.logEntriesUsed, logEntriesFree: s.logEntriesFree };
    }),
  );
  metrics.setHealthSource(() => health.counts());

  const ctx = { logger, locks: new KeyedLocks(opts.lockTimeoutMs ?? 60_000), metrics };
  const server = new CsiServer(logger);
  server.addService(
    csi.Identity.service,
    serviceImplementation('Identity', identityRpcs({ version: packageVersion(), services: ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS'], ready: () => pools.ready }), ctx),
  );
  server.addService(csi.Controller.service, serviceImplementation('Controller', new ControllerService(pools, { health, metrics }).rpcs(), ctx));
  const socketPath = await server.listen(opts.endpoint, { mode: opts.socketMode });
  const metricsServer = opts.metricsAddress ? await startMetricsServer(opts.metricsAddress, metrics, logger) : undefined;
  await pools.start();
  health.start();
  return {
    server,
    pools,
    health,
    metrics,
    metricsServer,
    socketPath,
    async stop(graceMs?: number) {
      health.stop();
      await server.shutdown(graceMs);
      await metricsServer?.close();
      pools.close();
    },
  };
}
