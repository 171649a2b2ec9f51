import { startControllerPlugin } from '../controller/plugin.js';
import { onTerminationSignals } from '../csi/server.js';
import { PLUGIN_OPTIONS_USAGE, pluginSettings } from './pluginOptions.js';

export const CONTROLLER_USAGE = `famfs-csi controller [options]

Runs the CSI Identity and Controller services: volumes are famfs files allocated from the
configured pools. This process is the single writer of each pool's log.

${PLUGIN_OPTIONS_USAGE}`;

export async function controllerCommand(argv: string[]): Promise<number> {
  const s = pluginSettings(argv);
  if (s.help) {
    process.stdout.write(CONTROLLER_USAGE);
    return 0;
  }
  const plugin = await startControllerPlugin({ config: s.config, endpoint: s.endpoint, logger: s.logger, socketMode: s.socketMode, health: s.health, metricsAddress: s.metricsAddress });
  onTerminationSignals(s.logger, () => plugin.stop());
  await new Promise(() => undefined); // serve until a signal stops the process
  return 0;
}
