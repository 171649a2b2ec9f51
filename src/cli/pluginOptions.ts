import { parseArgs } from 'node:util';
import { loadConfigFile, parseConfig, parsePoolFlag } from '../csi/config.js';
import type { DriverConfig } from '../csi/config.js';
import { createLogger } from '../csi/logger.js';
import type { Logger } from '../csi/logger.js';
import { UsageError, parseDuration, parseMode } from './args.js';
import { parseReportsSpec } from '../csi/health/setup.js';
import type { HealthSettings } from '../csi/health/setup.js';

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
  'metrics-address': { type: 'string' },
  kubernetes: { type: 'string' },
  kubeconfig: { type: 'string' },
  'health-reports': { type: 'string' },
  'health-interval': { type: 'string' },
  kmsg: { type: 'string' },
  'sysfs-root': { type: 'string' },
  'pool-servers': { type: 'string' },
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
  --metrics-address ADDR
                        serve Prometheus metrics at http://ADDR/metrics, e.g. :9810
                        (env FAMFS_CSI_METRICS_ADDRESS; default: no metrics endpoint)
  --kubernetes MODE     auto|on|off: Events and node reports through the API server (env
                        FAMFS_CSI_KUBERNETES; auto = when in a cluster or given a kubeconfig)
  --kubeconfig FILE     API server credentials outside a cluster (env KUBECONFIG)
  --health-reports WHERE
                        how node plugins tell the controller about memory errors: kubernetes
                        (ConfigMaps), dir:/path (a directory both see) or off (env
                        FAMFS_CSI_HEALTH_REPORTS; default kubernetes in a cluster, else
                        dir:<state dir>/health)
  --health-interval DURATION
                        how often memory error sources are polled (default 2s)
  --kmsg PATH|off       node: kernel log with famfs memory errors (default /dev/kmsg)
  --sysfs-root DIR      node: sysfs, for pmem bad blocks (default /sys)
  --pool-servers MODE   node: spawn (start a famfs-csi mount per pool) or external (a famfs-csi
                        pool-servers process serves the pools; env FAMFS_CSI_POOL_SERVERS;
                        default spawn)
`;

export interface PluginSettings {
  config: DriverConfig;
  endpoint: string;
  socketMode: number;
  logger: Logger;
  help: boolean;
  health: HealthSettings;
  metricsAddress: string | undefined;
  kmsg: string | undefined;
  sysfsRoot: string | undefined;
  poolServers: 'spawn' | 'external';
}

export function pluginSettings(argv: string[]): PluginSettings {
  const { values } = parseArgs({ args: argv, options: PLUGIN_OPTIONS });
  const logFormat = values['log-format'];
  if (logFormat !== undefined && logFormat !== 'json' && logFormat !== 'text') throw new UsageError(`--log-format: "${logFormat}" must be json or text`);
  const logger = createLogger({ level: values['log-level'], format: logFormat });
  if (values.help) return { config: { stateDir: '', nodeId: undefined, pools: [] }, endpoint: '', socketMode: 0o600, logger, help: true, health: {}, metricsAddress: undefined, kmsg: undefined, sysfsRoot: undefined, poolServers: 'spawn' };
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
  const kubernetes = values.kubernetes ?? process.env.FAMFS_CSI_KUBERNETES ?? 'auto';
  if (kubernetes !== 'auto' && kubernetes !== 'on' && kubernetes !== 'off') throw new UsageError(`--kubernetes: "${kubernetes}" must be auto, on or off`);
  const reports = values['health-reports'] ?? process.env.FAMFS_CSI_HEALTH_REPORTS;
  if (reports !== undefined) {
    try {
      parseReportsSpec(reports);
    } catch (e) {
      throw new UsageError(`--health-reports: ${(e as Error).message}`);
    }
  }
  const poolServers = values['pool-servers'] ?? process.env.FAMFS_CSI_POOL_SERVERS ?? 'spawn';
  if (poolServers !== 'spawn' && poolServers !== 'external') throw new UsageError(`--pool-servers: "${poolServers}" must be spawn or external`);
  return {
    poolServers,
    config,
    endpoint: values.endpoint ?? process.env.CSI_ENDPOINT ?? 'unix:///csi/csi.sock',
    socketMode: values['socket-mode'] === undefined ? 0o600 : parseMode('--socket-mode', values['socket-mode']),
    logger,
    help: false,
    health: {
      kubernetes,
      kubeconfig: values.kubeconfig,
      reports,
      intervalMs: values['health-interval'] === undefined ? undefined : parseDuration('--health-interval', values['health-interval']),
    },
    metricsAddress: values['metrics-address'] ?? process.env.FAMFS_CSI_METRICS_ADDRESS,
    kmsg: values.kmsg,
    sysfsRoot: values['sysfs-root'],
  };
}
