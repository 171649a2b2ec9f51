import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_LOG_LEN, GiB, Pool, checkSuperblock, createEmulatedDevice, mkfs, openDaxDevice } from '../famfs/index.js';
import { parseSize } from './args.js';
import { progressReporter } from './output.js';
import { poolCommand } from './pool.js';

export const LOCAL_USAGE = `famfs-csi local [--state-dir DIR] [--pool-size SIZE] [--log-length SIZE]

Runs famfs-csi on this machine with an embedded emulated dax pool: creates the pool file
<state dir>/pool0.dax (default 1G, on /dev/shm when it exists), formats it unless it already
holds famfs, and lists it. The host identity is <state dir>/system_uuid unless
FAMFS_SYSTEM_UUID_FILE is set, so /opt/famfs is left alone.
`;

function defaultStateDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm/famfs-csi-local' : join(tmpdir(), 'famfs-csi-local');
}

export async function localCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'state-dir': { type: 'string' }, 'pool-size': { type: 'string' }, 'log-length': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
  if (!existsSync(poolFile)) createEmulatedDevice(poolFile, poolSize);
  const dev = openDaxDevice(poolFile);
  try {
    if (!checkSuperblock(dev.map(0, 200)).ok) {
      process.stderr.write(`formatting emulated pool ${poolFile}\n`);
      const progress = progressReporter('zeroing the log');
      await mkfs(dev, { logLength, progress });
      progress.end();
    }
    Pool.open(dev, { writable: false }); // fails loudly if the pool does not replay
  } finally {
    dev.close();
  }
  process.stdout.write(`state directory: ${stateDir}\nemulated pool:   ${poolFile}\n\n`);
  return poolCommand(['ls', poolFile]);
}
