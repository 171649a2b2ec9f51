import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pod, pvc } from '../manifests.js';
import { eventually } from '../kubectl.js';
import { poolLs, volumeDirs } from '../leaks.js';

scenario('delete: deleting the claim gives its space back and leaves no file or mount', async (c) => {
  const free = poolLs(c.k, c.env).pool.freeBytes;
  c.apply([pvc('scratch', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'], size: '64Mi' }), pod('app', { image: c.env.image, claim: 'scratch' })]);
  c.waitRunning('app');
  const dir = `csi/${c.volumeHandle('scratch').split(':')[1]}`;
  const during = poolLs(c.k, c.env);
  assert.ok(volumeDirs(during).includes(dir), `${dir} exists in the pool`);
  assert.equal(during.entries.find((e) => e.path === `${dir}/data`)?.size, 64 * 1024 * 1024);
  assert.equal(during.pool.freeBytes, free - 64 * 1024 * 1024, 'the volume took 64 MiB');

  c.k.run(['delete', 'pod', 'app', '--namespace', c.ns, '--wait=true']);
  c.k.run(['delete', 'pvc', 'scratch', '--namespace', c.ns, '--wait=true']);
  await eventually('the volume to leave the pool and its space to return', c.env.timeoutSeconds, () => {
    const ls = poolLs(c.k, c.env);
    return !volumeDirs(ls).includes(dir) && ls.pool.freeBytes === free ? true : undefined;
  });
  // The scenario's leak check then confirms that no node keeps a mount of it.
});
