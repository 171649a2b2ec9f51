import { accessSync, constants as fsc, mkdirSync, realpathSync } from 'node:fs';
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
}

export interface RunningNodePlugin {
  server: CsiServer;
  socketPath: string;
  service: NodeService;
  servers: PoolServers;
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
  });
  const service = new NodeService({
    pools: opts.config.pools,
    nodeId: opts.config.nodeId,
    stateDir,
    kubeletDir,
    logger: opts.logger,
    mounter,
    servers,
    volumeWaitMs: opts.volumeWaitMs,
  });
  const ready = () => {
    try {
      accessSync(stateDir, fsc.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const ctx = { logger: opts.logger, locks: new KeyedLocks(opts.lockTimeoutMs ?? 60_000) };
  const server = new CsiServer(opts.logger);
  // The node's Identity reports the same plugin capabilities as the controller's.
  server.addService(csi.Identity.service, serviceImplementation('Identity', identityRpcs({ version: packageVersion(), services: ['VOLUME_ACCESSIBILITY_CONSTRAINTS'], ready }), ctx));
  server.addService(csi.Node.service, serviceImplementation('Node', service.rpcs(), ctx));
  const socketPath = await server.listen(opts.endpoint, { mode: opts.socketMode });
  opts.logger.info('node plugin started', { nodeId: service.nodeId, stateDir, kubeletDir, pools: opts.config.pools.map((p) => p.name) });
  // Report at once what a predecessor left behind (adopted pool mounts, dead servers).
  void servers.checkHealth();
  if ((opts.healthIntervalMs ?? 10_000) > 0) servers.startHealthChecks(opts.healthIntervalMs ?? 10_000);
  return {
    server,
    socketPath,
    service,
    servers,
    stateDir,
    kubeletDir,
    async stop(graceMs?: number) {
      servers.stopHealthChecks();
      await server.shutdown(graceMs);
    },
  };
}
