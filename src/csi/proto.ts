import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Options that give snake_case fields, int64 as strings and enums as names (see types.ts). */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export function protoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto', 'csi.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/csi.proto not found next to the famfs-csi package');
}

export interface CsiServices {
  Identity: grpc.ServiceClientConstructor;
  Controller: grpc.ServiceClientConstructor;
  Node: grpc.ServiceClientConstructor;
  GroupController: grpc.ServiceClientConstructor;
  SnapshotMetadata: grpc.ServiceClientConstructor;
}

let loaded: CsiServices | undefined;

/** The csi.v1 services, loaded once from proto/csi.proto at run time. */
export function csiServices(): CsiServices {
  if (!loaded) {
    const definition = protoLoader.loadSync(protoPath(), LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { csi: { v1: CsiServices } };
    loaded = pkg.csi.v1;
  }
  return loaded;
}
