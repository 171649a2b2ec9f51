import { test } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { parseE2eOptions } from '../e2e/options.js';
import { buildPlan, formatPlan } from '../e2e/plan.js';
import { POOL_MOUNT_PATH, POOL_NODE_LABEL, kindConfig, kindWorkers } from '../e2e/kindConfig.js';

const TOOLS = { repoDir: '/repo', helm: '/bin/helm', kubectl: 'kubectl', kindConfigPath: '/tmp/kind.yaml' };

function commands(steps: Array<{ argv: string[] }>): string[] {
  return steps.map((s) => s.argv.slice(0, 3).join(' '));
}

test('kind plan: pool dir, cluster, build, load, install, readiness; teardown deletes the cluster and the pool dir', () => {
  const o = parseE2eOptions([], {});
  const p = buildPlan(o, TOOLS, kindConfig({ poolDir: o.poolDir }));
  assert.deepEqual(commands(p.setup), [
    'mkdir -p /dev/shm/famfs-csi-e2e-pool',
    'kind create cluster',
    'docker build -t',
    'kind load docker-image',
    '/bin/helm upgrade --install',
    'kubectl --namespace famfs-csi',
  ]);
  assert.ok(p.setup[5]!.argv.includes('--for=condition=Ready'));
  assert.deepEqual(commands(p.teardown), ['kubectl delete namespace', 'kind delete cluster', 'rm -rf --']);
  assert.ok(p.teardown.every((s) => s.mayFail), 'every teardown step is attempted');
  const helm = p.setup[4]!.argv.join(' ');
  assert.match(helm, /--values \/repo\/test\/e2e\/values-kind\.yaml/);
  assert.match(helm, /--set image\.repository=famfs-csi --set image\.tag=e2e/);
  assert.match(helm, /--wait --timeout 300s/);
});

test('existing cluster: no kind and no docker; teardown uninstalls the release only', () => {
  const o = parseE2eOptions(['--existing-cluster', '--image', 'reg.example.com/famfs-csi:0.1.0'], {});
  const p = buildPlan(o, TOOLS, '');
  assert.ok(!p.setup.some((s) => ['kind', 'docker', 'mkdir'].includes(s.argv[0]!)));
  assert.equal(p.kindConfig, undefined);
  assert.deepEqual(commands(p.teardown), ['kubectl delete namespace', '/bin/helm uninstall famfs-csi']);
  assert.match(p.helmArgs.join(' '), /image\.repository=reg\.example\.com\/famfs-csi --set image\.tag=0\.1\.0 --set image\.pullPolicy=IfNotPresent/);
});

test('--skip-build drops the docker build; --keep drops the teardown', () => {
  const o = parseE2eOptions(['--skip-build', '--keep'], {});
  const p = buildPlan(o, TOOLS, '');
  assert.ok(!p.setup.some((s) => s.argv[0] === 'docker'));
  assert.ok(p.setup.some((s) => s.argv.join(' ').startsWith('kind load docker-image')));
  assert.deepEqual(p.teardown, []);
  assert.match(formatPlan(p), /teardown \(also after a failure\):\n/);
});

test('kind config: 1 control-plane + 2 workers sharing one pool directory, CSIVolumeHealth on', () => {
  const doc = yaml.load(kindConfig({ poolDir: '/dev/shm/x', nodeImage: 'kindest/node:v1.34.0' })) as {
    kind: string;
    featureGates: Record<string, boolean>;
    nodes: Array<{ role: string; image?: string; extraMounts: Array<{ hostPath: string; containerPath: string }>; labels?: Record<string, string> }>;
  };
  assert.equal(doc.kind, 'Cluster');
  assert.deepEqual(doc.featureGates, { CSIVolumeHealth: true });
  assert.deepEqual(doc.nodes.map((n) => n.role), ['control-plane', 'worker', 'worker']);
  for (const n of doc.nodes) {
    assert.deepEqual(n.extraMounts, [{ hostPath: '/dev/shm/x', containerPath: POOL_MOUNT_PATH }]);
    assert.equal(n.image, 'kindest/node:v1.34.0');
  }
  assert.deepEqual(doc.nodes.map((n) => n.labels?.[POOL_NODE_LABEL]), [undefined, 'true', 'true']);
  assert.deepEqual(kindWorkers('c'), ['c-worker', 'c-worker2']);
});

test('the e2e values put the pool where the kind config mounts the shared directory', async () => {
  const { readFileSync } = await import('node:fs');
  const { REPO_DIR } = await import('../chart/helm.js');
  const values = yaml.load(readFileSync(`${REPO_DIR}/test/e2e/values-kind.yaml`, 'utf8')) as { pools: Array<{ device: string }>; node: { nodeSelector: Record<string, string> } };
  assert.ok(values.pools[0]!.device.startsWith(`${POOL_MOUNT_PATH}/`));
  assert.deepEqual(values.node.nodeSelector, { [POOL_NODE_LABEL]: 'true' });
});
