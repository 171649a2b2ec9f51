import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseEndpoint } from './endpoint.js';
import type { Logger } from './logger.js';
import { authorityRewriting } from './authorityShim.js';

/** Is something accepting connections on the unix socket at `path`? */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ListenOptions {
  /** Socket file mode; 0600 by default (only root, i.e. kubelet and the sidecars, may connect). */
  mode?: number;
}

/**
 * A gRPC server on a unix socket. A stale socket left by a dead process is removed; a live one
 * (another plugin instance) or a non-socket file at the path is an error. The socket is a plain
 * net server whose connections are handed to grpc-js through authorityRewriting() (see there).
 */
export class CsiServer {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  private socketPath: string | undefined;
  private stopping: Promise<void> | undefined;
  private listener: NetServer | undefined;
  private rewritesLogged = false;

  constructor(private readonly logger: Logger) {}

  addService(definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void {
    this.server.addService(definition, impl);
  }

  async listen(endpoint: string, opts: ListenOptions = {}): Promise<string> {
    const { path, target } = parseEndpoint(endpoint);
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`endpoint ${path} exists and is not a socket; refusing to remove it`);
      if (await socketInUse(path)) throw new Error(`endpoint ${path} is in use by another process`);
      unlinkSync(path);
      this.logger.info('removed stale socket', { path });
    }
    mkdirSync(dirname(path), { recursive: true });
    // Bind inside a private directory, set the mode, then move the socket into place: it is never
    // reachable with the process umask's looser mode.
    const privateDir = mkdtempSync(join(dirname(path), '.famfs-csi-bind-'));
    const staged = join(privateDir, 'csi.sock');
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.listener = createServer((socket) => injector.injectConnection(authorityRewriting(socket, (from) => this.noteRewrite(from))));
    try {
      await new Promise<void>((resolve, reject) => {
        this.listener!.once('error', reject);
        this.listener!.listen(staged, () => resolve());
      });
      chmodSync(staged, opts.mode ?? 0o600);
      renameSync(staged, path);
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
    this.socketPath = path;
    this.logger.info('listening', { endpoint: target, mode: '0' + (opts.mode ?? 0o600).toString(8) });
    return path;
  }

  private noteRewrite(authority: string): void {
    if (this.rewritesLogged) return;
    this.rewritesLogged = true;
    this.logger.info('a client sends an invalid :authority; rewriting it to localhost', { authority });
  }

  /** Stops accepting calls, lets in-flight ones finish (up to graceMs), then removes the socket. */
  shutdown(graceMs = 30_000): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn('in-flight calls did not finish in time; cancelling them', { graceMs });
        this.server.forceShutdown();
      }, graceMs);
      this.listener?.close();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        if (this.socketPath && existsSync(this.socketPath)) unlinkSync(this.socketPath);
        resolve();
      });
    });
    return this.stopping;
  }
}

/**
 * Runs `stop` once on SIGTERM or SIGINT (each signal gets its own handler), then exits. A second
 * signal while stopping exits at once.
 */
export function onTerminationSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal while stopping; exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('stopping', { signal });
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('error while stopping', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, handler);
}
