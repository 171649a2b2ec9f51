import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  /** Where the metrics are served, e.g. `http://127.0.0.1:9810/metrics`. */
  url: string;
  /** The port listened on (the one chosen when the address asked for port 0). */
  port: number;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses a metrics listen address: `:9810` (every interface), `0.0.0.0:9810`, `127.0.0.1:0`
 * (port 0: any free port), `[::1]:9810`, `localhost:9810`. Throws an Error naming the value.
 */
export function parseListenAddress(address: string): ListenAddress {
  const bad = (why: string) => new Error(`invalid metrics address ${JSON.stringify(address)}: ${why} (expected [host]:port, e.g. ":9810", "0.0.0.0:9810" or "[::1]:9810")`);
  if (typeof address !== 'string') throw bad('not a string');
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]+)$/.exec(address.trim());
  if (!m) throw bad('not host:port');
  const [, v6, other, portText] = m;
  if (!/^[0-9]{1,5}$/.test(portText!) || Number(portText) > 65535) throw bad('port must be 0..65535');
  const port = Number(portText);
  let host: string | undefined;
  if (v6 !== undefined) {
    if (isIP(v6) !== 6) throw bad(`${JSON.stringify(v6)} is not an IPv6 address`);
    host = v6;
  } else if (other === '') {
    host = undefined;
  } else {
    if (isIP(other!) === 0 && !HOSTNAME.test(other!)) throw bad(`${JSON.stringify(other)} is not an IP address or host name`);
    host = other;
  }
  return { host, port };
}

function hostForUrl(host: string): string {
  // A wildcard address is reachable through loopback.
  if (host === '::') return '[::1]';
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * Serves `GET /metrics` (the registry's exposition text) and `GET /healthz` ("ok") over plain
 * HTTP; everything else is 404. Bad requests get an error response, never a crash.
 */
export async function startMetricsServer(address: string, metrics: Metrics, logger: Logger): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(address);

  const send = (res: ServerResponse, status: number, contentType: string, body: string, head: boolean) => {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(head ? undefined : body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    const get = req.method === 'GET' || head;
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    if (get && path === '/metrics') {
      let body: string;
      try {
        body = await metrics.text();
      } catch (e) {
        logger.warn('metrics scrape failed', { error: e instanceof Error ? e.message : String(e) });
        send(res, 500, 'text/plain; charset=utf-8', 'metrics collection failed\n', head);
        return;
      }
      send(res, 200, metrics.registry.contentType, body, head);
    } else if (get && path === '/healthz') {
      send(res, 200, 'text/plain; charset=utf-8', 'ok', head);
    } else {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      logger.warn('metrics request failed', { error: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) {
        try {
          send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', false);
          return;
        } catch {
          // fall through to destroy
        }
      }
      res.destroy();
    });
  });
  // Malformed HTTP: answer 400 when the socket still can, never throw.
  server.on('clientError', (_err, socket) => {
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  // Scrapes are small; do not let slow clients hold sockets for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(new Error(`metrics server cannot listen on ${JSON.stringify(address)}: ${e.message}`, { cause: e }));
    };
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => logger.error('metrics server error', { error: e.message }));

  const bound = server.address() as AddressInfo;
  const url = `http://${hostForUrl(host ?? bound.address)}:${bound.port}/metrics`;
  logger.info('metrics server listening', { url, address });

  let closing: Promise<void> | undefined;
  return {
    url,
    port: bound.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
