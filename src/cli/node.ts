import { startNodePlugin } from '../node/plugin.js';
import { onTerminationSignals } from '../csi/server.js';
import { DEFAULT_KUBELET_DIR } from '../csi/config.js';
import { UsageError } from './args.js';
import { PLUGIN_OPTIONS_USAGE, pluginSettings } from './pluginOptions.js';

export const NODE_USAGE = `famfs-csi node [options]

Runs the CSI Identity and Node services on this node: NodeStage starts (or adopts) one famfs
FUSE server per pool, mounted at <state dir>/pools/<pool> (a separate process, famfs-csi mount,
that outlives this plugin), and bind-mounts the volume's directory onto the staging path;
NodePublish bind-mounts it onto the pod's target path. Stopping this plugin never unmounts
anything.

${PLUGIN_OPTIONS_USAGE}  --kubelet-dir DIR     staging and target paths must lie inside DIR (env FAMFS_CSI_KUBELET_DIR;
                        default: the config's kubeletDir, else ${DEFAULT_KUBELET_DIR})
`;

/** Takes --kubelet-dir DIR / --kubelet-dir=DIR out of argv (the shared plugin options do not know it). */
export function splitKubeletDir(argv: string[]): { kubeletDir: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let kubeletDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--kubelet-dir') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError('--kubelet-dir: missing value');
      kubeletDir = v;
      i++;
    } else if (a.startsWith('--kubelet-dir=')) kubeletDir = a.slice('--kubelet-dir='.length);
    else rest.push(a);
  }
  if (kubeletDir !== undefined && !kubeletDir.startsWith('/')) throw new UsageError(`--kubelet-dir: "${kubeletDir}" must be an absolute path`);
  return { kubeletDir, rest };
}

export async function nodeCommand(argv: string[]): Promise<number> {
  const { kubeletDir: flag, rest } = splitKubeletDir(argv);
  const s = pluginSettings(rest);
  if (s.help) {
    process.stdout.write(NODE_USAGE);
    return 0;
  }
  const env = process.env.FAMFS_CSI_KUBELET_DIR;
  if (flag === undefined && env !== undefined && env !== '' && !env.startsWith('/')) throw new UsageError(`FAMFS_CSI_KUBELET_DIR: "${env}" must be an absolute path`);
  const kubeletDir = flag ?? (env || undefined) ?? s.config.kubeletDir ?? DEFAULT_KUBELET_DIR;
  const plugin = await startNodePlugin({ config: s.config, endpoint: s.endpoint, logger: s.logger, socketMode: s.socketMode, kubeletDir });
  onTerminationSignals(s.logger, () => plugin.stop());
  await new Promise(() => undefined); // serve until a signal stops the process
  return 0;
}
