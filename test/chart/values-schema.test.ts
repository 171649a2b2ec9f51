import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHART_DIR, helm } from './helm.js';

// values.schema.json rejects what the driver would reject at start (or what would render a
// broken object), naming the value, before anything reaches the cluster.

function templateError(set: string[]): string {
  const r = helm(['template', 'famfs-csi', CHART_DIR, ...set.flatMap((s) => ['--set', s])]);
  assert.notEqual(r.status, 0, `helm template accepted ${set.join(' ')}`);
  return r.stderr;
}

const POOL = ['pools[0].name=pool0', 'pools[0].device=/var/lib/famfs-csi-pool/pool0.img', 'pools[0].emulated.size=1Gi'];

test('the schema accepts a minimal pool list', () => {
  const r = helm(['template', 'famfs-csi', CHART_DIR, ...POOL.flatMap((s) => ['--set', s])]);
  assert.equal(r.status, 0, r.stderr);
});

test('bad pool values are refused with their path', () => {
  assert.match(templateError([...POOL, 'pools[0].reclaim=sometimes']), /pools\/0\/reclaim/);
  assert.match(templateError(['pools[0].name=Pool_0', 'pools[0].device=/dev/dax0.0']), /pools\/0\/name/);
  assert.match(templateError(['pools[0].name=p', 'pools[0].device=dax0.0']), /pools\/0\/device/);
  assert.match(templateError([...POOL, 'pools[0].famfsVersion=46']), /famfsVersion/);
  assert.match(templateError([...POOL, 'pools[0].emulated.size=lots']), /emulated/);
  assert.match(templateError([...POOL, 'pools[0].colour=blue']), /colour/);
  assert.match(templateError(['pools=null']), /pools/);
});

test('unknown keys, StorageClass parameters and enums are refused', () => {
  assert.match(templateError(['controller.replicas=2']), /replicas/);
  assert.match(templateError(['storageClasses[0].name=x', 'storageClasses[0].parameters.colour=blue']), /colour/);
  assert.match(templateError(['storageClasses[0].name=x', 'storageClasses[0].mountOptions[0]=sync']), /mountOptions/);
  assert.match(templateError(['logFormat=xml']), /logFormat/);
  assert.match(templateError(['node.kmsg=kmsg']), /kmsg/);
  assert.match(templateError(['controller.provisioner.capacityPollInterval=soon']), /capacityPollInterval/);
  assert.match(templateError(['kubeletDir=var/lib/kubelet']), /kubeletDir/);
});
