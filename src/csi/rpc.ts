import type * as grpc from '@grpc/grpc-js';
import { toCsiError, statusName } from './errors.js';
import type { KeyedLocks } from './locks.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { redactSecrets } from './redact.js';

/** One RPC: its handler and, optionally, the key of the volume lock it takes. */
export interface RpcMethod<Req, Res> {
  handler(req: Req): Promise<Res>;
  /** Per-volume lock key (e.g. `name:<name>` or `id:<id>`); no lock when undefined. */
  lockKey?(req: Req): string | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RpcTable = Record<string, RpcMethod<any, any>>;

export interface RpcContext {
  logger: Logger;
  locks: KeyedLocks;
  /** Called after every RPC with its outcome (metrics hook). */
  observe?(method: string, code: string, seconds: number): void;
  /** Every RPC is observed in famfs_csi_rpc_duration_seconds{service,method,code}. */
  metrics?: Metrics;
}

function volumeOf(req: Record<string, unknown>): string | undefined {
  for (const k of ['volume_id', 'name']) {
    const v = req[k];
    if (typeof v === 'string' && v.length > 0) return v;
  }
  return undefined;
}

/**
 * The one request wrapper every RPC goes through: takes the volume lock (blocking, bounded),
 * runs the handler, maps whatever it throws to a gRPC status, and logs one line per call with
 * method, volume, outcome and duration. Requests are logged at debug level with secrets removed.
 */
export function serviceImplementation(service: string, table: RpcTable, ctx: RpcContext): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  // Metrics must never keep a reply from being sent.
  const observe = (method: string, code: string, seconds: number) => {
    for (const fn of [() => ctx.metrics?.observeRpc(service, method, code, seconds), () => ctx.observe?.(method, code, seconds)]) {
      try {
        fn();
      } catch (e) {
        ctx.logger.warn('observing an RPC failed', { service, method, error: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  for (const [method, spec] of Object.entries(table)) {
    impl[method] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = process.hrtime.bigint();
      const req = call.request;
      const volume = volumeOf(req);
      ctx.logger.debug('request', { service, method, request: redactSecrets(req) });
      const key = spec.lockKey?.(req);
      // async: a handler that throws synchronously still becomes a logged, observed error reply.
      const run = async () => spec.handler(req);
      (key === undefined ? run() : ctx.locks.run(key, run)).then(
        (res) => {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          ctx.logger.info(method, { method, volume, outcome: 'OK', duration_ms: +(seconds * 1000).toFixed(3) });
          observe(method, 'OK', seconds);
          callback(null, res);
        },
        (err: unknown) => {
          const e = toCsiError(err);
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const code = statusName(e.code);
          const level = code === 'INTERNAL' || code === 'UNKNOWN' ? 'error' : 'warn';
          ctx.logger.log(level, method, { method, volume, outcome: code, error: e.message, duration_ms: +(seconds * 1000).toFixed(3) });
          observe(method, code, seconds);
          callback({ code: e.code, details: e.message });
        },
      );
    };
  }
  return impl;
}
