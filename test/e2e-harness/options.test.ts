import { test } from 'node:test';
import assert from 'node:assert/strict';
import { E2eUsageError, parseE2eOptions, splitImage } from '../e2e/options.js';

// The e2e entry point's argument handling (npm run e2e -- ...), testable without a cluster.

test('defaults: a kind cluster named famfs-csi-e2e with its pool on /dev/shm', () => {
  const o = parseE2eOptions([], {});
  assert.equal(o.clusterName, 'famfs-csi-e2e');
  assert.equal(o.existingCluster, false);
  assert.equal(o.image, 'famfs-csi:e2e');
  assert.equal(o.poolDir, '/dev/shm/famfs-csi-e2e-pool');
  assert.equal(o.timeoutSeconds, 300);
  assert.equal(o.namespace, 'famfs-csi');
  assert.equal(o.dryRun, false);
});

test('flags and environment variables; flags win', () => {
  const env = { FAMFS_E2E_CLUSTER: 'from-env', FAMFS_E2E_IMAGE: 'reg.example.com/famfs-csi:1', FAMFS_E2E_TIMEOUT: '60' };
  const o = parseE2eOptions(['--cluster-name', 'mine', '--keep', '--skip-build', '--focus', 'RWX', '--dry-run'], env);
  assert.equal(o.clusterName, 'mine');
  assert.equal(o.image, 'reg.example.com/famfs-csi:1');
  assert.equal(o.timeoutSeconds, 60);
  assert.equal(o.poolDir, '/dev/shm/mine-pool');
  assert.ok(o.keep && o.skipBuild && o.dryRun);
  assert.equal(o.focus, 'RWX');
  assert.equal(parseE2eOptions(['--existing-cluster'], {}).existingCluster, true);
  assert.equal(parseE2eOptions([], { FAMFS_E2E_EXISTING_CLUSTER: '1' }).existingCluster, true);
});

test('bad arguments are usage errors naming the flag', () => {
  assert.throws(() => parseE2eOptions(['--bogus'], {}), E2eUsageError);
  assert.throws(() => parseE2eOptions(['--cluster-name', 'Bad_Name'], {}), /--cluster-name/);
  assert.throws(() => parseE2eOptions(['--timeout', '5'], {}), /--timeout/);
  assert.throws(() => parseE2eOptions(['--timeout', 'soon'], {}), /--timeout/);
  assert.throws(() => parseE2eOptions(['--pool-dir', 'relative'], {}), /--pool-dir/);
  assert.throws(() => parseE2eOptions(['--namespace', 'NS'], {}), /--namespace/);
  assert.throws(() => parseE2eOptions(['--image'], {}), E2eUsageError);
});

test('image references split into repository and tag, registry ports included', () => {
  assert.deepEqual(splitImage('famfs-csi:e2e'), { repository: 'famfs-csi', tag: 'e2e' });
  assert.deepEqual(splitImage('localhost:5000/famfs-csi:1.2'), { repository: 'localhost:5000/famfs-csi', tag: '1.2' });
  assert.deepEqual(splitImage('localhost:5000/famfs-csi'), { repository: 'localhost:5000/famfs-csi', tag: 'latest' });
  assert.throws(() => splitImage('famfs-csi@sha256:abc'), /digest/);
});
