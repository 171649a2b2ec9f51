import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { Pool, existingSystemUuid, openDaxDevice } from '../famfs/index.js';
import type { Reclaim } from '../famfs/index.js';
import { FamfsFileSystem } from '../fuse/famfsFs.js';
import { FuseSession, isDeadMount, unmount } from '../fuse/session.js';
import { findMount } from '../fuse/mountTable.js';
import { createLogger } from '../csi/logger.js';
import { onTerminationSignals } from '../csi/server.js';
import { HealthMonitor } from '../csi/health/monitor.js';
import { poolSources } from '../csi/health/sources.js';
import { UsageError } from './args.js';

/** How often the FUSE server looks at its pool's memory errors (the shared poison list costs one stat). */
const MEMORY_ERROR_POLL_MS = 1_000;

export const MOUNT_USAGE = `famfs-csi mount --pool NAME --device DEVICE --mountpoint DIR [--reclaim never|safe]
                 [--log-level LEVEL] [--log-format json|text]

Serves a famfs pool as a FUSE file system (type fuse.famfs) at DIR, in the foreground, until
SIGTERM/SIGINT (then it unmounts) or until DIR is unmounted. The node plugin starts one per pool;
it is its own process so that restarting the node plugin never breaks a pod's mount. A dead
server's stale mount at DIR is cleaned up first. Reads and writes that touch a memory error of
the device (emulated poison list, pmem bad blocks, device probe) fail with EIO, and no file opens
while the whole device has an error. Its pid is written to DIR.pid.
`;

export async function mountCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pool: { type: 'string' },
      device: { type: 'string' },
      mountpoint: { type: 'string' },
      reclaim: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(MOUNT_USAGE);
    return 0;
  }
  for (const k of ['pool', 'device', 'mountpoint'] as const) if (!values[k]) throw new UsageError(`mount: --${k} is required\n\n${MOUNT_USAGE}`);
  const reclaim = values.reclaim as Reclaim | undefined;
  if (reclaim !== undefined && reclaim !== 'never' && reclaim !== 'safe') throw new UsageError(`--reclaim: "${reclaim}" must be never or safe`);
  const format = values['log-format'];
  if (format !== undefined && format !== 'json' && format !== 'text') throw new UsageError(`--log-format: "${format}" must be json or text`);
  const logger = createLogger({ level: values['log-level'], format }).child({ pool: values.pool, mountpoint: values.mountpoint });
  const mountpoint = values.mountpoint!;

  // A dead server's mount makes every access to the mount point fail (ENOTCONN): clean it first.
  if (isDeadMount(mountpoint)) {
    logger.warn('cleaning the stale mount of a dead famfs server');
    await unmount(mountpoint, true);
  }
  mkdirSync(mountpoint, { recursive: true });
  const existing = findMount(mountpoint);
  if (existing?.fsType === 'fuse.famfs') throw new Error(`${mountpoint} is already served by a famfs server (${existing.source})`);

  const dev = openDaxDevice(values.device!, { writable: true });
  const pool = Pool.open(dev, { writable: false, reclaim, systemUuid: existingSystemUuid() });
  const monitor = new HealthMonitor({
    pools: [poolSources({ name: values.pool!, device: values.device! }, { logger })],
    logger,
    node: hostname(),
    intervalMs: MEMORY_ERROR_POLL_MS,
  });
  monitor.start();
  const fs = new FamfsFileSystem(pool, {
    onChange: () => logger.debug('caught up with the log', { entries: pool.replay.applied }),
    memoryErrors: () => monitor.errors(values.pool!),
  });
  const session = await FuseSession.mount({
    mountpoint,
    source: values.device!,
    subtype: 'famfs',
    ops: fs,
    onError: (what, detail) => logger.warn(what, detail),
  });
  // The node plugin reads when this server started: kernel memory errors from before no longer apply.
  const pidFile = `${mountpoint}.pid`;
  writeFileSync(pidFile, `${process.pid}\n`);
  const s = pool.stats();
  logger.info('mounted', { device: values.device, files: s.files, logEntries: s.logEntriesUsed, dataPath: fs.usesDaxFmap ? 'kernel DAX (GET_FMAP)' : 'served READ/WRITE (direct I/O)' });
  onTerminationSignals(logger, async () => {
    await session.unmount();
    logger.info('unmounted');
  });
  await session.done;
  logger.info('file system unmounted; exiting');
  monitor.stop();
  rmSync(pidFile, { force: true });
  pool.close();
  return 0;
}
