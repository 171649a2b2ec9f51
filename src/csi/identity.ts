import type { GetPluginCapabilitiesResponse, GetPluginInfoResponse, ProbeResponse, PluginServiceType } from './types.js';
import type { RpcTable } from './rpc.js';

export const DRIVER_NAME = 'famfs.csi.io';

export interface IdentityOptions {
  version: string;
  services: PluginServiceType[];
  /** Probe's answer: false until the plugin can serve (pools open). */
  ready(): boolean;
}

/** The Identity service, shared by the controller and node plugins. */
export function identityRpcs(opts: IdentityOptions): RpcTable {
  return {
    GetPluginInfo: {
      handler: async (): Promise<GetPluginInfoResponse> => ({ name: DRIVER_NAME, vendor_version: opts.version, manifest: {} }),
    },
    GetPluginCapabilities: {
      handler: async (): Promise<GetPluginCapabilitiesResponse> => ({
        capabilities: opts.services.map((type) => ({ service: { type } })),
      }),
    },
    Probe: {
      handler: async (): Promise<ProbeResponse> => ({ ready: { value: opts.ready() } }),
    },
  };
}
