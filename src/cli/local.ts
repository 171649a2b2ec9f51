import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_LOG_LEN, GiB } from '../famfs/index.js';
import { parseConfig } from '../csi/config.js';
import { createLogger } from '../csi/logger.js';
import { onTerminationSignals } from '../csi/server.js';
import { startControllerPlugin } from '../controller/plugin.js';
import { parseSize } from './args.js';
import { poolCommand } from './pool.js';

export const LOCAL_USAGE = `famfs-csi local [--state-dir DIR] [--pool-size SIZE] [--log-length SIZE] [--exit]

Runs famfs-csi on this machine with an embedded emulated dax pool, no Kubernetes needed:
creates the pool file <state dir>/pool0.dax (default 1G; the state dir defaults to
/dev/shm/famfs-csi-local), formats it unless it already holds famfs, lists it, and serves the
controller plugin on <state dir>/controller.sock until Ctrl-C. Talk to it with
  famfs-csi csi --endpoint <state dir>/controller.sock <Method> '<request JSON>'
--exit formats and lists the pool, then exits. The host identity is <state dir>/system_uuid
unless FAMFS_SYSTEM_UUID_FILE is set, so /opt/famfs is left alone.
`;

function defaultStateDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm/famfs-csi-local' : join(tmpdir(), 'famfs-csi-local');
}

export async function localCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'state-dir': { type: 'string' }, 'pool-size': { type: 'string' }, 'log-length': { type: 'string' }, exit: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  const stateDir = values['state-dir'] ?? defaultStateDir();
  const poolSize = values['pool-size'] === undefined ? GiB : parseSize('--pool-size', values['pool-size']);
  const logLength = values['log-length'] === undefined ? DEFAULT_LOG_LEN : parseSize('--log-length', values['log-length']);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  process.env.FAMFS_SYSTEM_UUID_FILE ||= join(stateDir, 'system_uuid');
  const poolFile = join(stateDir, 'pool0.dax');
  const config = parseConfig({
    stateDir,
    pools: [{ name: 'pool0', device: poolFile, emulated: { size: poolSize }, logLength, reclaim: 'safe', format: 'ifMissing', relaxStripeBuckets: true }],
  });
  const logger = createLogger({ format: 'text' });
  const endpoint = join(stateDir, 'controller.sock');
  const controller = await startControllerPlugin({ config, endpoint, logger });
  if (!controller.pools.ready) {
    await controller.stop();
    throw new Error(`pool0 could not be opened: ${controller.pools.problem('pool0')}`);
  }
  process.stdout.write(`state directory:   ${stateDir}\nemulated pool:     ${poolFile}\ncontroller socket: ${controller.socketPath}\n\n`);
  await poolCommand(['ls', poolFile]);
  if (values.exit) {
    await controller.stop();
    return 0;
  }
  process.stdout.write(
    `\nfamfs-csi is running. Try:\n` +
      `  npx famfs-csi csi --endpoint ${controller.socketPath} CreateVolume '{"name":"demo","capacity_range":{"required_bytes":"8388608"},"volume_capabilities":[{"mount":{},"access_mode":{"mode":"MULTI_NODE_MULTI_WRITER"}}]}'\n` +
      `  npx famfs-csi csi --endpoint ${controller.socketPath} ListVolumes\n` +
      `  npx famfs-csi pool ls ${poolFile}\n` +
      `Stop with Ctrl-C.\n`,
  );
  onTerminationSignals(logger, () => controller.stop());
  await new Promise(() => undefined);
  return 0;
}
