import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pvc, storageClass } from '../manifests.js';
import { eventually } from '../kubectl.js';

scenario('bad StorageClass parameters: the claim stays Pending with an Event naming the parameter', async (c) => {
  c.k.apply(c.ns, storageClass('famfs-e2e-bad', { pool: c.env.pool, colour: 'blue' }));
  c.apply(pvc('bad', { storageClass: 'famfs-e2e-bad', accessModes: ['ReadWriteOnce'] }));
  const event = await eventually('a ProvisioningFailed Event on the claim', c.env.timeoutSeconds, () =>
    c.events('PersistentVolumeClaim', 'bad').find((e) => e.reason === 'ProvisioningFailed'),
  );
  assert.equal(event.type, 'Warning');
  assert.match(event.message, /colour/, 'the Event names the bad parameter');
  assert.match(event.message, /InvalidArgument|INVALID_ARGUMENT/i);
  assert.equal(c.k.run(['get', 'pvc', 'bad', '--namespace', c.ns, '-o', 'jsonpath={.status.phase}']).stdout, 'Pending');
});
