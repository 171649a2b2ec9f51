/**
 * The kind cluster of the e2e: 1 control-plane + 2 workers. One host directory holding the
 * emulated pool file is mounted into EVERY node at the same path, so all "hosts" map the same
 * memory (and see the same poison list beside it). The workers carry famfs-e2e/pool=true: the
 * chart's e2e values run the node plugin only there, so only they report the pool's topology.
 * CSIVolumeHealth on the kubelets makes them post VolumeConditionAbnormal Events on pods.
 */
export const POOL_MOUNT_PATH = '/var/lib/famfs-csi-pool';
export const POOL_NODE_LABEL = 'famfs-e2e/pool';

export function kindConfig(opts: { poolDir: string; nodeImage?: string | undefined }): string {
  const image = opts.nodeImage ? `\n    image: ${opts.nodeImage}` : '';
  const mount = `\n    extraMounts:\n      - hostPath: ${opts.poolDir}\n        containerPath: ${POOL_MOUNT_PATH}`;
  const node = (role: string, labels: string) => `  - role: ${role}${image}${mount}${labels}`;
  const workerLabels = `\n    labels:\n      ${POOL_NODE_LABEL}: "true"`;
  return [
    'kind: Cluster',
    'apiVersion: kind.x-k8s.io/v1alpha4',
    'featureGates:',
    '  CSIVolumeHealth: true',
    'nodes:',
    node('control-plane', ''),
    node('worker', workerLabels),
    node('worker', workerLabels),
    '',
  ].join('\n');
}

/** kind names nodes <cluster>-control-plane, <cluster>-worker, <cluster>-worker2. */
export function kindWorkers(clusterName: string): [string, string] {
  return [`${clusterName}-worker`, `${clusterName}-worker2`];
}
