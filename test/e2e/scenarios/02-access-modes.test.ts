import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pod, pvc } from '../manifests.js';

scenario('RWO: one pod writes and reads its volume', (c) => {
  c.apply([pvc('rwo', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'] }), pod('app', { image: c.env.image, claim: 'rwo' })]);
  c.waitRunning('app');
  assert.ok(c.poolNodes.includes(c.nodeOf('app')), 'scheduled on a node that sees the pool');
  c.sh('app', 'printf famfs-rwo | dd of=/data/data conv=notrunc status=none');
  assert.equal(c.sh('app', 'head -c 9 /data/data'), 'famfs-rwo');
});

scenario('ROX: readers on two nodes read a zero-filled volume and cannot write it', (c) => {
  const nodes = c.poolNodes.slice(0, 2);
  c.apply([
    pvc('rox', { storageClass: c.env.storageClass, accessModes: ['ReadOnlyMany'] }),
    ...nodes.map((n, i) => pod(`reader-${i}`, { image: c.env.image, claim: 'rox', node: n, readOnly: true })),
  ]);
  nodes.forEach((_, i) => c.waitRunning(`reader-${i}`));
  for (let i = 0; i < nodes.length; i++) {
    assert.equal(c.sh(`reader-${i}`, 'head -c 4096 /data/data | od -An -tx1 | tr -d " \\n" | tr -d 0').trim(), '', 'a new volume reads as zeros');
    const w = c.k.exec(c.ns, `reader-${i}`, undefined, ['sh', '-c', 'printf x | dd of=/data/data conv=notrunc status=none']);
    assert.notEqual(w.status, 0, 'writing a read-only volume fails');
    assert.match(w.stderr, /Read-only file system/i);
  }
});
