import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { csiServices } from '../csi/proto.js';
import type { CsiServices } from '../csi/proto.js';
import { parseEndpoint } from '../csi/endpoint.js';
import { UsageError } from './args.js';

export const CSI_USAGE = `famfs-csi csi <Method> [REQUEST-JSON] [--endpoint ENDPOINT] [--timeout SECONDS]

Calls one CSI RPC on a plugin socket and prints the response as JSON: a small client for demos
and debugging. The request is JSON with the proto's field names, e.g.
  famfs-csi csi CreateVolume '{"name":"demo","capacity_range":{"required_bytes":"8388608"},
    "volume_capabilities":[{"mount":{},"access_mode":{"mode":"MULTI_NODE_MULTI_WRITER"}}]}'
  famfs-csi csi ListVolumes
Methods of every service (Identity, Controller, Node, GroupController, SnapshotMetadata) work;
errors print the gRPC status and message and exit with status 1.
Endpoint: --endpoint, else CSI_ENDPOINT, else unix:///csi/csi.sock.
`;

function findService(services: CsiServices, method: string): grpc.ServiceClientConstructor | undefined {
  for (const name of ['Identity', 'Controller', 'Node', 'GroupController', 'SnapshotMetadata'] as const) {
    if (method in services[name].service) return services[name];
  }
  return undefined;
}

export async function csiCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { endpoint: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [method, body] = positionals;
  if (values.help || !method) {
    process.stdout.write(CSI_USAGE);
    return method ? 0 : 2;
  }
  const services = csiServices();
  const Service = findService(services, method);
  if (!Service) throw new UsageError(`unknown CSI method "${method}"`);
  let request: unknown = {};
  if (body !== undefined) {
    try {
      request = JSON.parse(body);
    } catch (e) {
      throw new UsageError(`request is not JSON: ${(e as Error).message}`);
    }
  }
  const { target } = parseEndpoint(values.endpoint ?? process.env.CSI_ENDPOINT ?? 'unix:///csi/csi.sock');
  const client = new Service(target, grpc.credentials.createInsecure());
  const seconds = values.timeout === undefined ? 60 : Number(values.timeout);
  try {
    const response = await new Promise<unknown>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(client);
      fn(request, { deadline: Date.now() + seconds * 1000 }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
    });
    process.stdout.write(JSON.stringify(response, null, 2) + '\n');
    return 0;
  } catch (e) {
    const err = e as grpc.ServiceError;
    process.stderr.write(`${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
