import { startNodePlugin } from '../node/plugin.js';
import { onTerminationSignals } from '../csi/server.js';
import { PLUGIN_OPTIONS_USAGE, pluginSettings } from './pluginOptions.js';

export const NODE_USAGE = `famfs-csi node [options]

Runs the CSI Identity and Node services on this node: NodeStage starts (or adopts) one famfs
FUSE server per pool, mounted at <state dir>/pools/<pool> (a separate process, famfs-csi mount,
that outlives this plugin), and bind-mounts the volume's directory onto the staging path;
NodePublish bind-mounts it onto the pod's target path. Stopping this plugin never unmounts
anything.

${PLUGIN_OPTIONS_USAGE}`;

export async function nodeCommand(argv: string[]): Promise<number> {
  const s = pluginSettings(argv);
  if (s.help) {
    process.stdout.write(NODE_USAGE);
    return 0;
  }
  const plugin = await startNodePlugin({ config: s.config, endpoint: s.endpoint, logger: s.logger, socketMode: s.socketMode, health: s.health, metricsAddress: s.metricsAddress, kmsg: s.kmsg, sysfsRoot: s.sysfsRoot, poolServers: s.poolServers });
  onTerminationSignals(s.logger, () => plugin.stop());
  await new Promise(() => undefined); // serve until a signal stops the process
  return 0;
}
