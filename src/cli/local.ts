import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_LOG_LEN, GiB } from '../famfs/index.js';
import { parseConfig } from '../csi/config.js';
import { createLogger } from '../csi/logger.js';
import { onTerminationSignals } from '../csi/server.js';
import { csiServices } from '../csi/proto.js';
import { startControllerPlugin } from '../controller/plugin.js';
import { startNodePlugin } from '../node/plugin.js';
import { findMount } from '../fuse/mountTable.js';
import { unmount } from '../fuse/session.js';
import * as grpc from '@grpc/grpc-js';
import { parseSize } from './args.js';
import { poolCommand } from './pool.js';

export const LOCAL_USAGE = `famfs-csi local [--state-dir DIR] [--pool-size SIZE] [--log-length SIZE] [--exit]

Runs famfs-csi on this machine with an embedded emulated dax pool, no Kubernetes needed:
creates the pool file <state dir>/pool0.dax (default 1G; the state dir defaults to
/dev/shm/famfs-csi-local), formats it unless it already holds famfs, and serves the controller
(<state dir>/controller.sock) and node (<state dir>/node.sock) plugins. Then it plays kubelet
once: CreateVolume "demo", NodeStageVolume and NodePublishVolume to
<state dir>/kubelet/pods/demo/volumes/demo, so that \`echo hello > <that dir>/data\` works.
Ctrl-C unpublishes and unstages the demo volume, stops the pool's FUSE server and exits.
--exit does all of that at once (a smoke test). The host identity is <state dir>/system_uuid
unless FAMFS_SYSTEM_UUID_FILE is set, so /opt/famfs is left alone.
`;

function defaultStateDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm/famfs-csi-local' : join(tmpdir(), 'famfs-csi-local');
}

type Call = (method: string, request: unknown) => Promise<Record<string, unknown>>;

function client(socketPath: string, service: 'Controller' | 'Node'): { call: Call; close(): void } {
  const Service = csiServices()[service];
  const c = new Service(`unix://${socketPath}`, grpc.credentials.createInsecure()) as unknown as Record<string, (req: unknown, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void> & { close(): void };
  return {
    call: (method, request) => new Promise((resolve, reject) => c[method]!.call(c, request, (e, r) => (e ? reject(new Error(`${method}: ${grpc.status[e.code]}: ${e.details}`)) : resolve(r)))),
    close: () => c.close(),
  };
}

const DEMO_CAPABILITY = { mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } };

export async function localCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { 'state-dir': { type: 'string' }, 'pool-size': { type: 'string' }, 'log-length': { type: 'string' }, exit: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(LOCAL_USAGE);
    return 0;
  }
  const stateDir = resolve(values['state-dir'] ?? defaultStateDir());
  const poolSize = values['pool-size'] === undefined ? GiB : parseSize('--pool-size', values['pool-size']);
  const logLength = values['log-length'] === undefined ? DEFAULT_LOG_LEN : parseSize('--log-length', values['log-length']);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  process.env.FAMFS_SYSTEM_UUID_FILE ||= join(stateDir, 'system_uuid');
  const poolFile = join(stateDir, 'pool0.dax');
  const kubeletDir = join(stateDir, 'kubelet');
  const config = parseConfig({
    stateDir: join(stateDir, 'node'),
    nodeId: 'local',
    kubeletDir,
    pools: [{ name: 'pool0', device: poolFile, emulated: { size: poolSize }, logLength, reclaim: 'safe', format: 'ifMissing', relaxStripeBuckets: true }],
  });
  const logger = createLogger({ format: 'text' });
  const controller = await startControllerPlugin({ config, endpoint: join(stateDir, 'controller.sock'), logger });
  if (!controller.pools.ready) {
    await controller.stop();
    throw new Error(`pool0 could not be opened: ${controller.pools.problem('pool0')}`);
  }
  const node = await startNodePlugin({ config, endpoint: join(stateDir, 'node.sock'), logger, healthIntervalMs: 0 });
  const staging = join(kubeletDir, 'plugins', 'famfs.csi.io', 'staging', 'demo');
  const target = join(kubeletDir, 'pods', 'demo', 'volumes', 'demo');
  mkdirSync(staging, { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  const ctl = client(controller.socketPath, 'Controller');
  const nod = client(node.socketPath, 'Node');

  let volumeId: string | undefined;
  const cleanup = async () => {
    if (volumeId) await nod.call('NodeUnpublishVolume', { volume_id: volumeId, target_path: target }).catch((e: Error) => logger.warn(e.message));
    if (volumeId) await nod.call('NodeUnstageVolume', { volume_id: volumeId, staging_target_path: staging }).catch((e: Error) => logger.warn(e.message));
    ctl.close();
    nod.close();
    await node.stop();
    await controller.stop();
    // In local mode this process owns the pool's FUSE server too: unmounting it ends that server.
    const poolMount = join(node.stateDir, 'pools', 'pool0');
    if (findMount(poolMount)) await unmount(poolMount).catch(() => unmount(poolMount, true));
  };

  try {
    const created = await ctl.call('CreateVolume', { name: 'demo', capacity_range: { required_bytes: String(8 * 1024 * 1024) }, volume_capabilities: [DEMO_CAPABILITY], parameters: { mode: '0666' } });
    const volume = created.volume as { volume_id: string; volume_context: Record<string, string> };
    volumeId = volume.volume_id;
    await nod.call('NodeStageVolume', { volume_id: volumeId, staging_target_path: staging, volume_capability: DEMO_CAPABILITY, volume_context: volume.volume_context });
    await nod.call('NodePublishVolume', { volume_id: volumeId, staging_target_path: staging, target_path: target, volume_capability: DEMO_CAPABILITY, readonly: false, volume_context: volume.volume_context });
  } catch (e) {
    await cleanup(); // never leave plugins serving or mounts behind when the demo cannot run
    throw e;
  }

  process.stdout.write(
    `state directory:   ${stateDir}\nemulated pool:     ${poolFile}\ncontroller socket: ${controller.socketPath}\nnode socket:       ${node.socketPath}\n` +
      `demo volume:       ${volumeId}, published at ${target}\n\n`,
  );
  await poolCommand(['ls', poolFile]);
  if (values.exit) {
    await cleanup();
    return 0;
  }
  process.stdout.write(
    `\nfamfs-csi is running. Try:\n` +
      `  echo hello > ${target}/data && head -c 6 ${target}/data\n` +
      `  npx famfs-csi csi --endpoint ${controller.socketPath} CreateVolume '{"name":"v2","capacity_range":{"required_bytes":"8388608"},"volume_capabilities":[{"mount":{},"access_mode":{"mode":"MULTI_NODE_MULTI_WRITER"}}]}'\n` +
      `  npx famfs-csi csi --endpoint ${controller.socketPath} ListVolumes\n` +
      `  npx famfs-csi csi --endpoint ${node.socketPath} NodeGetVolumeStats '{"volume_id":"${volumeId}","volume_path":"${target}"}'\n` +
      `  npx famfs-csi pool inject-error ${poolFile} --volume ${volumeId} --offset 0 --length 4096   # a dax memory error\n` +
      `  head -c 1 ${target}/data; npx famfs-csi pool clear-errors ${poolFile}                     # EIO, then healed\n` +
      `Stop with Ctrl-C.\n`,
  );
  onTerminationSignals(logger, cleanup);
  await new Promise(() => undefined);
  return 0;
}
