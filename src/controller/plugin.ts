import type { DriverConfig } from '../csi/config.js';
import { KeyedLocks } from '../csi/locks.js';
import type { Logger } from '../csi/logger.js';
import { csiServices } from '../csi/proto.js';
import { serviceImplementation } from '../csi/rpc.js';
import { CsiServer } from '../csi/server.js';
import { identityRpcs } from '../csi/identity.js';
import { packageVersion } from '../csi/version.js';
import { PoolSet } from './pools.js';
import { ControllerService } from './service.js';

export interface ControllerPluginOptions {
  config: DriverConfig;
  endpoint: string;
  logger: Logger;
  socketMode?: number;
  /** How long a request waits for another one on the same volume before ABORTED (default 60 s). */
  lockTimeoutMs?: number;
}

export interface RunningPlugin {
  server: CsiServer;
  socketPath: string;
  stop(graceMs?: number): Promise<void>;
}

/** Identity + Controller on one socket; pools open in the background (Probe says when ready). */
export async function startControllerPlugin(opts: ControllerPluginOptions): Promise<RunningPlugin & { pools: PoolSet }> {
  const csi = csiServices();
  const pools = new PoolSet(opts.config.pools, opts.logger);
  const ctx = { logger: opts.logger, locks: new KeyedLocks(opts.lockTimeoutMs ?? 60_000) };
  const server = new CsiServer(opts.logger);
  server.addService(
    csi.Identity.service,
    serviceImplementation('Identity', identityRpcs({ version: packageVersion(), services: ['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS'], ready: () => pools.ready }), ctx),
  );
  server.addService(csi.Controller.service, serviceImplementation('Controller', new ControllerService(pools).rpcs(), ctx));
  const socketPath = await server.listen(opts.endpoint, { mode: opts.socketMode });
  await pools.start();
  return {
    server,
    pools,
    socketPath,
    async stop(graceMs?: number) {
      await server.shutdown(graceMs);
      pools.close();
    },
  };
}
