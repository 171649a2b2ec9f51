import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { mmapScript, pod, pvc } from '../manifests.js';

scenario('RWX: a writer on one worker and a reader on another see the same bytes', (c) => {
  assert.ok(c.poolNodes.length >= 2, `needs two nodes that see the pool, found ${c.poolNodes.join(', ') || 'none'}`);
  const [n1, n2] = c.poolNodes as [string, string];
  c.apply([
    pvc('shared', { storageClass: c.env.storageClass, accessModes: ['ReadWriteMany'], size: '8Mi' }),
    pod('writer', { image: c.env.image, claim: 'shared', node: n1 }),
    pod('reader', { image: c.env.image, claim: 'shared', node: n2 }),
  ]);
  c.waitRunning('writer');
  c.waitRunning('reader');
  assert.equal(c.nodeOf('writer'), n1);
  assert.equal(c.nodeOf('reader'), n2);

  // read/write: strict, per call, across nodes.
  const written = c.sh('writer', 'head -c 1048576 /dev/urandom > /tmp/src && dd if=/tmp/src of=/data/data bs=65536 conv=notrunc,fsync status=none && sha256sum < /tmp/src').split(' ')[0];
  const read = c.sh('reader', 'head -c 1048576 /data/data | sha256sum').split(' ')[0];
  assert.equal(read, written, 'the reader on the other node reads exactly the bytes written');
  assert.equal(c.sh('reader', 'stat -c %s /data/data').trim(), String(8 * 1024 * 1024), 'the volume file has the claim size');

  // mmap(MAP_SHARED): the writer maps, stores, unmaps and fsyncs; the reader maps afterwards.
  const message = `famfs mmap ${Date.now()}`;
  const w = c.k.exec(c.ns, 'writer', undefined, ['node', '-e', mmapScript('write', 4 * 1024 * 1024, message)]);
  if (w.status !== 0 && /EINVAL|ENODEV|Invalid argument|No such device/i.test(w.stderr)) {
    c.t.diagnostic(`mmap check skipped: this kernel refuses shared mappings of direct-I/O FUSE files (needs Linux >= 6.6): ${w.stderr.trim()}`);
    return;
  }
  assert.equal(w.status, 0, `mmap write failed: ${w.stderr}`);
  const r = c.k.exec(c.ns, 'reader', undefined, ['node', '-e', mmapScript('read', 4 * 1024 * 1024, message)]);
  assert.equal(r.status, 0, `mmap read failed: ${r.stderr}`);
  assert.equal(r.stdout, message, 'a mapping made after the writer synced sees its stores');
  assert.equal(c.sh('reader', `dd if=/data/data bs=1 skip=${4 * 1024 * 1024} count=${Buffer.byteLength(message)} status=none`), message, 'read(2) sees the mmap stores too');
});
