import { hostname } from 'node:os';
import { accessSync, constants as fsc, existsSync, mkdirSync, realpathSync } from 'node:fs';
import type { DriverConfig } from '../csi/config.js';
import { DEFAULT_KUBELET_DIR } from '../csi/config.js';
import { KeyedLocks } from '../csi/locks.js';
import type { Logger } from '../csi/logger.js';
import { csiServices } from '../csi/proto.js';
import { serviceImplementation } from '../csi/rpc.js';
import { CsiServer } from '../csi/server.js';
import { identityRpcs } from '../csi/identity.js';
import { packageVersion } from '../csi/version.js';
import { Mounter } from './mounter.js';
import type { MounterOptions } from './mounter.js';
import { PoolServers } from './poolServers.js';
import { NodeService } from './service.js';
import { KmsgReader } from '../famfs/health/kmsgReader.js';
import { Metrics } from '../csi/metrics.js';
import { startMetricsServer } from '../csi/metricsServer.js';
import type { MetricsServer } from '../csi/metricsServer.js';
import { HealthMonitor } from '../csi/health/monitor.js';
import { poolSources } from '../csi/health/sources.js';
import { connectFromSettings, eventRecorder, reportChannel } from '../csi/health/setup.js';
import type { HealthSettings } from '../csi/health/setup.js';
import { VolumeEventEmitter } from '../csi/health/transitions.js';
import { ClaimLookup } from '../csi/kube/lookup.js';
import { DRIVER_NAME } from '../csi/identity.js';
import type { EventTarget } from '../csi/kube/events.js';
import { NodeHealth, serverStartedMs } from './health.js';
import { PoolReaders } from './poolReaders.js';

export interface NodePluginOptions {
  config: DriverConfig;
  endpoint: string;
  logger: Logger;
  socketMode?: number;
  /** Overrides config.kubeletDir (default /var/lib/kubelet). */
  kubeletDir?: string;
  /** How long a request waits for another one on the same volume before ABORTED (default 60 s). */
  lockTimeoutMs?: number;
  /** argv that runs the famfs-csi CLI for `famfs-csi mount` (default: this Node and dist/src/cli/main.js). */
  cliCommand?: string[];
  /** Pool FUSE health check period (default 10 s; 0 turns it off). */
  healthIntervalMs?: number;
  /** How long a new FUSE server may take to answer (default 10 s). */
  serverStartTimeoutMs?: number;
  /** How long NodeStage waits for a new volume to show up in the pool mount (default 5 s). */
  volumeWaitMs?: number;
  mounter?: MounterOptions;
  /** Kubernetes, reports to the controller and the memory error poll period. */
  health?: HealthSettings;
  /** The kernel log to read famfs memory errors from (default /dev/kmsg; 'off': none). */
  kmsg?: string;
  /** sysfs root for pmem bad blocks (default /sys). */
  sysfsRoot?: string;
  /** host:port for GET /metrics (none: no metrics endpoint). */
  metricsAddress?: string;
  /** spawn: start pool FUSE servers; external: a `famfs-csi pool-servers` process does (default spawn). */
  poolServers?: 'spawn' | 'external';
}

export interface RunningNodePlugin {
  server: CsiServer;
  socketPath: string;
  service: NodeService;
  servers: PoolServers;
  health: NodeHealth;
  metrics: Metrics;
  metricsServer?: MetricsServer;
  stateDir: string;
  kubeletDir: string;
  /**
   * Stops serving (in-flight calls finish, up to graceMs). It never unmounts the pool FUSE
   * mounts or the pods' bind mounts: they must survive a restart of the node plugin.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The node plugin: Identity + Node on one socket. The state directory is created if missing;
 * Probe answers ready while it exists and is writable.
 */
export async function startNodePlugin(opts: NodePluginOptions): Promise<RunningNodePlugin> {
  const csi = csiServices();
  mkdirSync(opts.config.stateDir, { recursive: true, mode: 0o700 });
  const stateDir = realpathSync(opts.config.stateDir);
  const kubeletDir = opts.kubeletDir ?? opts.config.kubeletDir ?? DEFAULT_KUBELET_DIR;
  const mounter = new Mounter(opts.mounter);
  const servers = new PoolServers({
    stateDir,
    pools: opts.config.pools,
    logger: opts.logger,
    mounter,
    cliCommand: opts.cliCommand,
    startTimeoutMs: opts.serverStartTimeoutMs,
    mode: opts.poolServers,
  });
  const { logger, config } = opts;
  const settings = opts.health ?? {};
  const nodeId = config.nodeId ?? hostname();
  const kube = connectFromSettings(settings, logger);
  const kmsg = opts.kmsg === 'off' ? undefined : new KmsgReader({ path: opts.kmsg, onProblem: (problem) => logger.warn('kernel log', { path: opts.kmsg ?? '/dev/kmsg', problem }) });
  const readers = new PoolReaders(config.pools);
  const monitor = new HealthMonitor({
    pools: config.pools.map((p) => poolSources(p, { logger, kmsg, sysfsRoot: opts.sysfsRoot, poolsOnHost: config.pools.length, mountStartedMs: (pool) => serverStartedMs(servers.mountpoint(pool)) })),
    logger,
    node: nodeId,
    intervalMs: settings.intervalMs,
  });
  const claims = kube ? new ClaimLookup(kube, { driver: DRIVER_NAME }) : undefined;
  // Pods that use a volume on this node, from the mount table; their names come from the API server.
  const targetsOf = async (volumeId: string): Promise<EventTarget[]> => {
    const uids = health.podsOf(volumeId);
    if (!claims) return uids.map((uid) => ({ kind: 'Pod', namespace: '-', name: uid, uid }));
    return uids.length > 0 ? claims.podsOnNode(nodeId, uids) : [];
  };
  const health: NodeHealth = new NodeHealth({
    nodeId,
    pools: config.pools,
    kubeletDir: existsSync(kubeletDir) ? realpathSync(kubeletDir) : kubeletDir,
    monitor,
    readers,
    logger,
    channel: reportChannel(settings, kube, stateDir),
    events: new VolumeEventEmitter(eventRecorder(kube, 'famfs-csi-node', nodeId, logger), targetsOf, logger),
  });
  const metrics = new Metrics('node', { node: nodeId });
  metrics.setPoolSource(() =>
    config.pools.flatMap((p) => {
      const s = readers.stats(p.name);
      return s ? [{ pool: p.name, sizeBytes: s.deviceSize, freeBytes: s.freeBytes, largestFreeBytes: s.largestFreeRun, volumes: s.files, logEntriesUsed: s.logEntriesUsed, logEntriesFree: s.logEntriesFree }] : [];
    }),
  );
  metrics.setHealthSource(() => health.counts());
  const service = new NodeService({
    pools: opts.config.pools,
    nodeId: opts.config.nodeId,
    stateDir,
    kubeletDir,
    logger: opts.logger,
    mounter,
    servers,
    volumeWaitMs: opts.volumeWaitMs,
    health,
  });
  const ready = () => {
    try {
      accessSync(stateDir, fsc.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const ctx = { logger: opts.logger, locks: new KeyedLocks(opts.lockTimeoutMs ?? 60_000), metrics };
  const server = new CsiServer(opts.logger);
  // The node's Identity reports the same plugin capabilities as the controller's.
  server.addService(csi.Identity.service, serviceImplementation('Identity', identityRpcs({ version: packageVersion(), services: ['VOLUME_ACCESSIBILITY_CONSTRAINTS'], ready }), ctx));
  server.addService(csi.Node.service, serviceImplementation('Node', service.rpcs(), ctx));
  const socketPath = await server.listen(opts.endpoint, { mode: opts.socketMode });
  opts.logger.info('node plugin started', { nodeId: service.nodeId, stateDir, kubeletDir, pools: opts.config.pools.map((p) => p.name) });
  // Report at once what a predecessor left behind (adopted pool mounts, dead servers).
  void servers.checkHealth();
  if ((opts.healthIntervalMs ?? 10_000) > 0) servers.startHealthChecks(opts.healthIntervalMs ?? 10_000);
  const metricsServer = opts.metricsAddress ? await startMetricsServer(opts.metricsAddress, metrics, logger) : undefined;
  health.start();
  return {
    server,
    socketPath,
    service,
    servers,
    health,
    metrics,
    metricsServer,
    stateDir,
    kubeletDir,
    async stop(graceMs?: number) {
      servers.stopHealthChecks();
      await health.stop();
      kmsg?.close();
      await server.shutdown(graceMs);
      await metricsServer?.close();
    },
  };
}
