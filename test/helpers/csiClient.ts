/**
 * A promisified CSI client for tests: real grpc-js clients on a unix socket, one per CSI service,
 * built from the same proto/csi.proto the plugins load.
 *
 *   const c = new CsiTestClient(socketPath);
 *   const res = await c.call('CreateVolume', { name: 'v', volume_capabilities: [...] });
 *   await assert.rejects(c.call('DeleteVolume', {}), (e: ServiceError) => e.code === grpc.status.INVALID_ARGUMENT);
 *
 * `call` resolves with the decoded response (proto-loader options of src/csi/proto.ts: snake_case,
 * int64 as decimal strings, enums as names, defaults filled in) or rejects with the grpc-js
 * ServiceError, whose `code` and `details` tests assert on.
 */
import * as grpc from '@grpc/grpc-js';
import { csiServices } from '../../src/csi/proto.js';
import type { CsiServices } from '../../src/csi/proto.js';

export type ServiceName = keyof CsiServices;
export type ServiceError = grpc.ServiceError;
export const SERVICE_NAMES: ServiceName[] = ['Identity', 'Controller', 'Node', 'GroupController', 'SnapshotMetadata'];

/** The service that defines `method` (CSI method names are unique across services). */
export function serviceOf(method: string): ServiceName {
  const services = csiServices();
  for (const name of SERVICE_NAMES) if (method in services[name].service) return name;
  throw new Error(`no CSI service has a method ${method}`);
}

export interface CallOptions {
  /** Deadline in ms from now (default 30 s). */
  timeoutMs?: number;
  metadata?: grpc.Metadata;
}

export class CsiTestClient {
  private readonly clients = new Map<ServiceName, grpc.Client>();
  private readonly channelOptions: grpc.ChannelOptions;
  readonly target: string;

  /** `endpoint`: a socket path or a "unix://..." target. */
  constructor(
    endpoint: string,
    channelOptions: grpc.ChannelOptions = {},
  ) {
    this.target = endpoint.startsWith('unix:') ? endpoint : `unix://${endpoint}`;
    // Tests restart plugins on the same socket: reconnect quickly instead of grpc's 1 s+ backoff.
    this.channelOptions = { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 250, ...channelOptions };
  }

  private client(service: ServiceName): grpc.Client {
    let c = this.clients.get(service);
    if (!c) {
      const Service = csiServices()[service];
      c = new Service(this.target, grpc.credentials.createInsecure(), this.channelOptions);
      this.clients.set(service, c);
    }
    return c;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call<Res = any>(method: string, request: object = {}, opts: CallOptions = {}): Promise<Res> {
    const service = serviceOf(method);
    const client = this.client(service) as unknown as Record<string, (...a: unknown[]) => void>;
    const fn = client[method]!.bind(client);
    return new Promise<Res>((resolve, reject) => {
      fn(request, opts.metadata ?? new grpc.Metadata(), { deadline: Date.now() + (opts.timeoutMs ?? 30_000) }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
  }

  /** Like `call`, but resolves with the error (and fails if the call succeeded). */
  async fail(method: string, request: object = {}, opts: CallOptions = {}): Promise<ServiceError> {
    let res: unknown;
    try {
      res = await this.call(method, request, opts);
    } catch (e) {
      return e as ServiceError;
    }
    throw new Error(`${method} succeeded but was expected to fail: ${JSON.stringify(res)}`);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export { grpc };
