import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containingMount, findMount, isReadOnlyMount, mountsAt, mountsUnder, parseMountinfo, readMountinfo, unescapeMountinfo } from '../../src/fuse/mountTable.js';

// Captured from a node with a famfs pool mount, a staged volume (bind of csi/<id>), a read-only
// published copy, a stacked mount and paths with spaces, tabs, newlines and backslashes.
const ID = 'f2868e1aa7cab669517cd9f5ab1b7957';
const SAMPLE = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k',
  '30 25 0:27 / /dev/shm rw,relatime master:5 propagate_from:2 - tmpfs tmpfs rw,size=24684092k',
  '50 27 0:60 / /var/lib/famfs-csi/pools/pool0 rw,nosuid,nodev,relatime shared:40 - fuse.famfs /dev/shm/pool0.dax rw,user_id=0,group_id=0,allow_other',
  `51 27 0:60 /csi/${ID} /var/lib/kubelet/plugins/kubernetes.io/csi/famfs.csi.io/abc/globalmount rw,nosuid,nodev,relatime shared:40 - fuse.famfs /dev/shm/pool0.dax rw,user_id=0,group_id=0,allow_other`,
  `52 27 0:60 /csi/${ID} /var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv\\040one/mount ro,nosuid,nodev,noexec,relatime shared:40 - fuse.famfs /dev/shm/pool0.dax rw,user_id=0,group_id=0,allow_other`,
  '60 27 254:0 /tmp/a\\011b /mnt/with\\012newline\\134back rw,relatime - ext4 /dev/vda rw',
  '61 60 0:70 / /mnt/with\\012newline\\134back rw,relatime - tmpfs my\\040tmpfs rw',
  '',
].join('\n');

test('mountinfo: parses every field of captured lines', () => {
  const all = parseMountinfo(SAMPLE);
  assert.equal(all.length, 9);
  const root = all[1]!;
  assert.deepEqual(root, {
    id: 27,
    parentId: 1,
    major: 254,
    minor: 0,
    root: '/',
    mountPoint: '/',
    options: ['rw', 'relatime'],
    optional: ['shared:1'],
    fsType: 'ext4',
    source: '/dev/vda',
    superOptions: ['rw', 'discard'],
  });
  const shm = all[3]!;
  assert.deepEqual(shm.optional, ['master:5', 'propagate_from:2']);
  const pool = all[4]!;
  assert.equal(pool.fsType, 'fuse.famfs');
  assert.deepEqual([pool.major, pool.minor], [0, 60]);
  assert.equal(pool.source, '/dev/shm/pool0.dax');
  assert.equal(all[5]!.root, `/csi/${ID}`);
  assert.equal(isReadOnlyMount(all[5]!), false);
  assert.equal(isReadOnlyMount(all[6]!), true);
});

test('mountinfo: octal escapes in root, mount point and source', () => {
  assert.equal(unescapeMountinfo('a\\040b\\011c\\012d\\134e'), 'a b\tc\nd\\e');
  assert.equal(unescapeMountinfo('no escapes'), 'no escapes');
  assert.equal(unescapeMountinfo('\\9x'), '\\9x', 'not an octal escape');
  const all = parseMountinfo(SAMPLE);
  assert.equal(all[6]!.mountPoint, '/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv one/mount');
  assert.equal(all[7]!.root, '/tmp/a\tb');
  assert.equal(all[7]!.mountPoint, '/mnt/with\nnewline\\back');
  assert.equal(all[8]!.source, 'my tmpfs');
});

test('mountinfo: malformed lines throw with the line number', () => {
  assert.throws(() => parseMountinfo('1 2 3'), /mountinfo line 1: too few fields/);
  assert.throws(() => parseMountinfo('22 27 0:21 / /proc rw,relatime proc proc rw'), /line 1: too few fields/);
  assert.throws(() => parseMountinfo('x 27 0:21 / /proc rw - proc proc rw'), /bad mount id/);
  assert.throws(() => parseMountinfo('22 27 021 / /proc rw - proc proc rw'), /bad mount id or device/);
});

test('mountinfo: findMount returns the top of a stack; mountsAt orders bottom first', () => {
  const all = parseMountinfo(SAMPLE);
  assert.deepEqual(
    mountsAt('/dev/shm', all).map((m) => m.id),
    [25, 30],
  );
  // stacking order comes from the parent ids, not from the table order
  const reversed = [...all].reverse();
  assert.equal(findMount('/dev/shm', reversed)!.id, 30);
  assert.equal(findMount('/mnt/with\nnewline\\back', all)!.id, 61);
  assert.equal(findMount('/var/lib/famfs-csi/pools', all), undefined);
  assert.equal(findMount('/var/lib/famfs-csi/pools/pool0/', all), undefined, 'exact strings only');
});

test('mountinfo: mountsUnder and containingMount', () => {
  const all = parseMountinfo(SAMPLE);
  assert.deepEqual(
    mountsUnder('/var/lib/kubelet', all).map((m) => m.id),
    [51, 52],
  );
  assert.deepEqual(
    mountsUnder('/var/lib/kube', all).map((m) => m.id),
    [],
    'a prefix of a name is not a parent',
  );
  assert.equal(mountsUnder('/', all).length, all.length);

  const inPool = containingMount(`/var/lib/famfs-csi/pools/pool0/csi/${ID}/data`, all)!;
  assert.equal(inPool.mount.id, 50);
  assert.equal(inPool.fsPath, `/csi/${ID}/data`);
  const target = containingMount('/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv one/mount', all)!;
  assert.equal(target.mount.id, 52);
  assert.equal(target.fsPath, `/csi/${ID}`);
  const below = containingMount('/var/lib/kubelet/plugins/kubernetes.io/csi/famfs.csi.io/abc/globalmount/data', all)!;
  assert.equal(below.fsPath, `/csi/${ID}/data`);
  const plain = containingMount('/etc/hostname', all)!;
  assert.deepEqual([plain.mount.id, plain.fsPath], [27, '/etc/hostname']);
  assert.equal(containingMount('/proc', all)!.fsPath, '/');
});

test('mountinfo: reads the live table of this process', () => {
  const live = readMountinfo();
  assert.ok(live.length > 0);
  assert.ok(findMount('/', live), 'the root is always a mount point');
  assert.ok(live.some((m) => m.fsType === 'proc'));
});
