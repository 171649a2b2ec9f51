import { parseArgs } from 'node:util';
import { loadConfigFile, parseConfig, parsePoolFlag } from '../csi/config.js';
import type { DriverConfig } from '../csi/config.js';
import { createLogger } from '../csi/logger.js';
import type { Logger } from '../csi/logger.js';
import { UsageError, parseMode } from './args.js';

/** Options shared by the plugin commands (controller, node). Flags override the environment. */
export const PLUGIN_OPTIONS = {
  config: { type: 'string', short: 'c' },
  pool: { type: 'string', multiple: true },
  endpoint: { type: 'string' },
  'state-dir': { type: 'string' },
  'node-id': { type: 'string' },
  'kubelet-dir': { type: 'string' },
  'socket-mode': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const PLUGIN_OPTIONS_USAGE = `  --config FILE         YAML configuration (env FAMFS_CSI_CONFIG); see README "Configuration"
  --pool NAME=DEVICE[,size=8Gi,reclaim=safe,...]
                        a pool without a config file (repeatable; replaces the file's pools)
  --endpoint ENDPOINT   unix:///path or a path (env CSI_ENDPOINT; default unix:///csi/csi.sock)
  --state-dir DIR       overrides stateDir (env FAMFS_CSI_STATE_DIR)
  --node-id ID          overrides nodeId (env FAMFS_CSI_NODE_ID)
  --kubelet-dir DIR     node: staging and target paths must lie inside DIR (env FAMFS_CSI_KUBELET_DIR;
                        default: the config's kubeletDir, else /var/lib/kubelet)
  --socket-mode MODE    socket file mode (default 0600)
  --log-level LEVEL     error|warn|info|debug (env FAMFS_CSI_LOG_LEVEL; default info)
  --log-format FORMAT   json|text (env FAMFS_CSI_LOG_FORMAT; default json, text on a terminal)
`;

export interface PluginSettings {
  config: DriverConfig;
  endpoint: string;
  socketMode: number;
  logger: Logger;
  help: boolean;
}

export function pluginSettings(argv: string[]): PluginSettings {
  const { values } = parseArgs({ args: argv, options: PLUGIN_OPTIONS });
  const logFormat = values['log-format'];
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'text') throw new UsageError(`--log-format: "${logFormat}" must be json or text`);
  const logger = createLogger({ level: values['log-level'], format: logFormat });
  if (values.help) return { config: { stateDir: '', nodeId: undefined, pools: [] }, endpoint: '', socketMode: 0o600, logger, help: true };
  const file = values.config ?? process.env.FAMFS_CSI_CONFIG;
  const flagPools = (values.pool ?? []).map(parsePoolFlag);
  let config: DriverConfig;
  if (file) config = loadConfigFile(file);
  else if (flagPools.length > 0) config = parseConfig({ pools: [{ name: 'placeholder', device: '/dev/null' }] });
  else throw new UsageError('no pools: give --config FILE (or FAMFS_CSI_CONFIG) or --pool NAME=DEVICE');
  if (flagPools.length > 0) config.pools = flagPools;
  const stateDir = values['state-dir'] ?? process.env.FAMFS_CSI_STATE_DIR;
  if (stateDir) config.stateDir = stateDir;
  const nodeId = values['node-id'] ?? process.env.FAMFS_CSI_NODE_ID;
  if (nodeId) config.nodeId = nodeId;
  const [kubeletDir, kubeletSource] = values['kubelet-dir'] !== undefined ? [values['kubelet-dir'], '--kubelet-dir'] : [process.env.FAMFS_CSI_KUBELET_DIR, 'FAMFS_CSI_KUBELET_DIR'];
  if (kubeletDir) {
    if (!kubeletDir.startsWith('/')) throw new UsageError(`${kubeletSource}: "${kubeletDir}" must be an absolute path`);
    config.kubeletDir = kubeletDir;
  }
  return {
    config,
    endpoint: values.endpoint ?? process.env.CSI_ENDPOINT ?? 'unix:///csi/csi.sock',
    socketMode: values['socket-mode'] === undefined ? 0o600 : parseMode('--socket-mode', values['socket-mode']),
    logger,
    help: false,
  };
}
