import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import { parseQuantity } from '../e2e/quantity.js';
import { famfsMounts, volumeMounts } from '../e2e/mountinfo.js';
import { leaks, volumeDirs } from '../e2e/leaks.js';
import { mmapScript, pod, pvc, storageClass } from '../e2e/manifests.js';
import { schemaErrors } from '../chart/k8sSchema.js';
import type { K8sObject } from '../chart/helm.js';

test('quantities as the provisioner writes CSIStorageCapacity', () => {
  assert.equal(parseQuantity('1050673152'), 1050673152);
  assert.equal(parseQuantity('1002Mi'), 1002 * 2 ** 20);
  assert.equal(parseQuantity('1Gi'), 2 ** 30);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
  assert.equal(parseQuantity('12e3'), 12000);
  assert.throws(() => parseQuantity('lots'), /not a quantity/);
});

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '301 22 0:55 / /var/lib/famfs-csi/pools/pool0 rw,nosuid,nodev,relatime shared:150 - fuse.famfs /var/lib/famfs-csi-pool/pool0.img rw,user_id=0,group_id=0',
  '310 22 0:55 /csi/0123456789abcdef0123456789abcdef /var/lib/kubelet/plugins/kubernetes.io/csi/famfs.csi.io/abc/globalmount rw shared:150 - fuse.famfs /var/lib/famfs-csi-pool/pool0.img rw',
  '311 22 0:55 /csi/0123456789abcdef0123456789abcdef /var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount rw shared:150 - fuse.famfs /var/lib/famfs-csi-pool/pool0.img rw',
  '312 22 0:60 /x /with\\040space rw - fuse.famfs src rw',
].join('\n');

test('mountinfo: pool mounts and volume bind mounts of fuse.famfs', () => {
  assert.equal(famfsMounts(MOUNTINFO).length, 4);
  assert.deepEqual(
    volumeMounts(MOUNTINFO).map((m) => m.mountPoint),
    ['/var/lib/kubelet/plugins/kubernetes.io/csi/famfs.csi.io/abc/globalmount', '/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/pvc-1/mount'],
  );
  assert.equal(famfsMounts(MOUNTINFO)[3]!.mountPoint, '/with space');
});

test('leak check: new volumes, new mounts and lost space are reported; a clean run is not', () => {
  const before = { freeBytes: 100, volumes: ['csi/aa'], mounts: { w1: [], w2: ['/m/1'] } };
  assert.deepEqual(leaks(before, { ...before }), []);
  const after = { freeBytes: 90, volumes: ['csi/aa', 'csi/bb'], mounts: { w1: ['/m/2'], w2: ['/m/1'] } };
  assert.deepEqual(leaks(before, after), ['famfs volume csi/bb is left in the pool', 'bind mount /m/2 is left on node w1']);
  assert.deepEqual(leaks(before, { ...before, freeBytes: 80 }), ['pool free space did not return: 100 bytes before, 80 after']);
  const ls = { pool: { freeBytes: 0, usedBytes: 0, largestFreeRun: 0, files: 1 }, entries: [{ path: 'csi', type: 'directory' }, { path: 'csi/0123456789abcdef0123456789abcdef', type: 'directory' }, { path: 'csi/0123456789abcdef0123456789abcdef/data', type: 'file', size: 1 }] };
  assert.deepEqual(volumeDirs(ls), ['csi/0123456789abcdef0123456789abcdef']);
});

test('the manifests the scenarios apply are valid Kubernetes objects', () => {
  const objects = [
    pvc('shared', { storageClass: 'famfs-e2e', accessModes: ['ReadWriteMany'] }),
    pod('writer', { image: 'famfs-csi:e2e', claim: 'shared', node: 'w1', readOnly: true, tolerateControlPlane: true }),
    storageClass('bad', { pool: 'pool0', colour: 'blue' }),
  ] as K8sObject[];
  for (const o of objects) assert.deepEqual(schemaErrors(o), [], JSON.stringify(o));
});

test('the mmap scripts compile', () => {
  for (const mode of ['write', 'read'] as const) assert.doesNotThrow(() => new Script(mmapScript(mode, 4 << 20, `it's "quoted"`)));
});
