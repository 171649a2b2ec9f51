/**
 * A small "cluster" for end-to-end node tests: one emulated pool file, a controller plugin in this
 * process, and node plugins either in this process (testNodePlugin) or as `famfs-csi node`
 * subprocesses that a test can kill -9 and restart.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/csi/config.js';
import { createLogger } from '../../src/csi/logger.js';
import { startControllerPlugin } from '../../src/controller/plugin.js';
import type { ControllerPluginOptions } from '../../src/controller/plugin.js';
import type { PoolConfig } from '../../src/csi/config.js';
import { CsiTestClient } from './csiClient.js';
import { mountCapability, testNodePlugin } from './nodePlugin.js';
import type { NodePluginOptions } from '../../src/node/plugin.js';
import type { TestContext } from 'node:test';
import { MiB } from '../../src/famfs/index.js';
import { tmpPool } from './tmpPool.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface TestController {
  client: CsiTestClient;
  create(name: string, bytes?: number, parameters?: Record<string, string>): Promise<{ volume_id: string; volume_context: Record<string, string>; capacity_bytes: string }>;
  delete(volumeId: string): Promise<void>;
  stop(): Promise<void>;
}

/** A controller plugin on `device` (pool0), or on `pools`; `extra` adds plugin options (health, metrics). */
export async function testController(dir: string, device: string, extra: Partial<ControllerPluginOptions> & { pools?: { name: string; device: string }[] } = {}): Promise<TestController & { plugin: Awaited<ReturnType<typeof startControllerPlugin>> }> {
  const pools = (extra.pools ?? [{ name: 'pool0', device }]).map((p) => ({ ...p, reclaim: 'safe', relaxStripeBuckets: true }));
  const config = parseConfig({ stateDir: join(dir, 'controller'), pools });
  const socket = join(dir, 'controller.sock');
  const plugin = await startControllerPlugin({ config, endpoint: socket, logger: createLogger({ silent: process.env.FAMFS_TEST_LOG === undefined }), ...extra });
  const notOpen = config.pools.find((p: PoolConfig) => !plugin.pools.get(p.name));
  if (notOpen) throw new Error(`controller: ${notOpen.name} not open: ${plugin.pools.problem(notOpen.name)}`);
  const client = new CsiTestClient(socket);
  return {
    client,
    plugin,
    async create(name, bytes = 4 * 1024 * 1024, parameters: Record<string, string> = {}) {
      const res = await client.call('CreateVolume', { name, capacity_range: { required_bytes: String(bytes) }, volume_capabilities: [mountCapability()], parameters });
      return res.volume;
    },
    async delete(volumeId) {
      await client.call('DeleteVolume', { volume_id: volumeId });
    },
    async stop() {
      client.close();
      await plugin.stop(1000);
    },
  };
}

/** A `famfs-csi node` subprocess. */
export interface NodeProcess {
  proc: ChildProcess;
  client: CsiTestClient;
  output(): string;
  /** kill -9, and wait until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for the exit status. */
  terminate(): Promise<number | null>;
}

export async function spawnNodePlugin(opts: { dir: string; device: string; nodeId: string; reclaim?: string }): Promise<NodeProcess> {
  const socket = join(opts.dir, 'node.sock');
  mkdirSync(join(opts.dir, 'kubelet'), { recursive: true });
  const args = [
    CLI,
    'node',
    '--pool',
    `pool0=${opts.device},reclaim=${opts.reclaim ?? 'safe'}`,
    '--state-dir',
    join(opts.dir, 'state'),
    '--kubelet-dir',
    join(opts.dir, 'kubelet'),
    '--node-id',
    opts.nodeId,
    '--endpoint',
    socket,
    '--log-format',
    'json',
    '--log-level',
    'debug',
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const client = new CsiTestClient(socket);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const probe = await client.call('Probe', {}, { timeoutMs: 1000 });
      if (probe.ready?.value) break;
    } catch {
      /* not up yet */
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`famfs-csi node did not come up: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    client,
    output: () => out,
    async kill9() {
      client.close();
      proc.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      client.close();
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** pwrite into an existing file (famfs files never grow: no O_TRUNC, no O_APPEND). */
export function writeAt(path: string, offset: number, data: Buffer | string): void {
  const fd = openSync(path, 'r+');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    writeSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
}

export function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The usual node test: a formatted emulated pool (`size`, default 64 MiB), a node plugin and a
 * controller on it, all stopped and removed when the test ends.
 */
export async function nodeWithController(t: TestContext, opts: { nodeId?: string; size?: number; plugin?: Partial<NodePluginOptions> } = {}) {
  const pool = await tmpPool({ size: opts.size ?? 64 * MiB });
  t.after(() => pool.cleanup());
  const n = await testNodePlugin({ pools: [{ name: 'pool0', device: pool.path }], nodeId: opts.nodeId, plugin: opts.plugin });
  t.after(n.cleanup);
  const ctl = await testController(n.dir, pool.path);
  t.after(ctl.stop);
  return { pool, n, ctl };
}
