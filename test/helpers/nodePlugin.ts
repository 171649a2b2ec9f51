/**
 * A node plugin for tests, in this process, on a real socket: a scratch layout with a kubelet
 * directory, a state directory and the plugin socket, plus CSI request builders.
 *
 *   const n = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }] });
 *   t.after(n.cleanup);          // stops the plugin, stops pool servers it started, detaches mounts
 *   await n.client.call('NodeStageVolume', n.stageRequest(volumeId, 'v1'));
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/csi/config.js';
import { createLogger } from '../../src/csi/logger.js';
import { startNodePlugin } from '../../src/node/plugin.js';
import type { NodePluginOptions, RunningNodePlugin } from '../../src/node/plugin.js';
import { CsiTestClient } from './csiClient.js';
import { cleanupMounts, mountsBelow } from './mounts.js';
import { scratchDir } from './tmpPool.js';

export type AccessModeName = 'SINGLE_NODE_WRITER' | 'SINGLE_NODE_READER_ONLY' | 'MULTI_NODE_READER_ONLY' | 'MULTI_NODE_SINGLE_WRITER' | 'MULTI_NODE_MULTI_WRITER' | 'SINGLE_NODE_SINGLE_WRITER' | 'SINGLE_NODE_MULTI_WRITER';

export function mountCapability(mode: AccessModeName = 'MULTI_NODE_MULTI_WRITER', mountFlags: string[] = []) {
  return { mount: { fs_type: '', mount_flags: mountFlags }, access_mode: { mode } };
}

export interface TestNodePlugin {
  dir: string;
  kubeletDir: string;
  stateDir: string;
  socket: string;
  plugin: RunningNodePlugin;
  client: CsiTestClient;
  /** kubelet's staging path of a volume (parents created, like kubelet does). */
  stagingPath(name: string): string;
  /** kubelet's target path of a volume in a pod (parent created, leaf not). */
  targetPath(pod: string, name: string): string;
  stageRequest(volumeId: string, name: string, extra?: object): object;
  publishRequest(volumeId: string, name: string, pod: string, extra?: object): object;
  /** Stops the plugin only (mounts and pool servers stay, as after a plugin restart). */
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Pids of famfs-csi mount servers whose command line names a mount point under `dir`. */
export function serverPidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--mountpoint');
      if (argv.includes('mount') && i >= 0 && argv[i + 1]?.startsWith(dir + '/')) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export async function testNodePlugin(opts: {
  pools: { name: string; device: string }[];
  nodeId?: string;
  dir?: string;
  plugin?: Partial<NodePluginOptions>;
}): Promise<TestNodePlugin> {
  const scratch = opts.dir ? { dir: opts.dir, cleanup: () => undefined } : scratchDir('famfs-csi-node-');
  const dir = scratch.dir;
  const kubeletDir = join(dir, 'kubelet');
  const stateDir = join(dir, 'state');
  mkdirSync(kubeletDir, { recursive: true });
  const socket = join(dir, 'node.sock');
  const config = parseConfig({ stateDir, kubeletDir, nodeId: opts.nodeId ?? 'test-node', pools: opts.pools });
  const logger = createLogger({ silent: process.env.FAMFS_TEST_LOG === undefined, level: 'debug', format: 'text' });
  const start = () => startNodePlugin({ config, endpoint: socket, logger, healthIntervalMs: 0, ...opts.plugin });
  const plugin = await start();
  const client = new CsiTestClient(socket);
  let stopped = false;
  const n: TestNodePlugin = {
    dir,
    kubeletDir,
    stateDir,
    socket,
    plugin,
    client,
    stagingPath(name) {
      const p = join(kubeletDir, 'plugins', 'kubernetes.io', 'csi', 'famfs.csi.io', name, 'globalmount');
      mkdirSync(join(p, '..'), { recursive: true });
      return p;
    },
    targetPath(pod, name) {
      const p = join(kubeletDir, 'pods', pod, 'volumes', 'kubernetes.io~csi', name, 'mount');
      mkdirSync(join(p, '..'), { recursive: true });
      return p;
    },
    stageRequest(volumeId, name, extra = {}) {
      return { volume_id: volumeId, staging_target_path: n.stagingPath(name), volume_capability: mountCapability(), volume_context: {}, ...extra };
    },
    publishRequest(volumeId, name, pod, extra = {}) {
      return { volume_id: volumeId, staging_target_path: n.stagingPath(name), target_path: n.targetPath(pod, name), volume_capability: mountCapability(), readonly: false, ...extra };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.close();
      await plugin.stop(1000);
    },
    async cleanup() {
      await n.stop();
      // Detaching a pool mount makes its server exit (contract); kill whatever is left.
      cleanupMounts(dir);
      for (const pid of serverPidsUnder(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      cleanupMounts(dir);
      // never delete recursively through a mount that is still there
      if (mountsBelow(dir).length === 0) scratch.cleanup();
    },
  };
  return n;
}
