import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolConfig } from '../csi/config.js';
import type { Logger } from '../csi/logger.js';
import { onTerminationSignals } from '../csi/server.js';
import { defaultCliCommand, mountArgs } from '../node/poolServers.js';
import { PLUGIN_OPTIONS_USAGE, pluginSettings } from './pluginOptions.js';

export const POOL_SERVERS_USAGE = `famfs-csi pool-servers [--config FILE] [--state-dir DIR] [--log-format json|text]

Serves every configured pool on this node: one famfs FUSE server (famfs-csi mount) per pool,
mounted at <state dir>/pools/<pool>, restarted (with back-off) whenever it exits, e.g. while
the pool's device does not exist yet or is not formatted yet. A node plugin started with
--pool-servers external uses these mounts instead of starting servers itself, so restarting or
upgrading the node plugin never takes a pool mount down. SIGTERM/SIGINT stop the servers: pods
that still use volumes of a pool lose access to it (ENOTCONN) until they are restarted.

${PLUGIN_OPTIONS_USAGE}`;

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A server that ran this long was healthy: its next restart starts at the minimum back-off again. */
const HEALTHY_RUN_MS = 60_000;

/** Keeps one `famfs-csi mount` running for a pool. */
class PoolServer {
  private child: ChildProcess | undefined;
  private backoff = MIN_BACKOFF_MS;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly pool: PoolConfig,
    private readonly mountpoint: string,
    private readonly command: string[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.stopping) return;
    const [file, ...prefix] = this.command;
    const started = Date.now();
    const child = spawn(file!, [...prefix, ...mountArgs(this.pool, this.mountpoint)], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    this.child = child;
    this.logger.info('pool server started', { pool: this.pool.name, pid: child.pid, device: this.pool.device, mountpoint: this.mountpoint });
    child.on('error', (e) => this.logger.error('cannot start the pool server', { pool: this.pool.name, error: e.message }));
    child.on('exit', (code, signal) => {
      this.child = undefined;
      if (this.stopping) return;
      if (Date.now() - started > HEALTHY_RUN_MS) this.backoff = MIN_BACKOFF_MS;
      this.logger.error('pool server exited; restarting it', { pool: this.pool.name, code, signal, restartInMs: this.backoff });
      this.timer = setTimeout(() => this.start(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  /** SIGTERM to the server (it unmounts), SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

export async function poolServersCommand(argv: string[], command: string[] = defaultCliCommand()): Promise<number> {
  const s = pluginSettings(argv);
  if (s.help) {
    process.stdout.write(POOL_SERVERS_USAGE);
    return 0;
  }
  const poolsDir = join(s.config.stateDir, 'pools');
  mkdirSync(poolsDir, { recursive: true, mode: 0o755 });
  const servers = s.config.pools.map((p) => new PoolServer(p, join(poolsDir, p.name), command, s.logger.child({ component: 'pool-servers' })));
  for (const server of servers) server.start();
  s.logger.info('serving pools', { pools: s.config.pools.map((p) => p.name), poolsDir });
  onTerminationSignals(s.logger, async () => {
    await Promise.all(servers.map((server) => server.stop(10_000)));
  });
  await new Promise(() => undefined); // serve until a signal stops the process
  return 0;
}
