import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pod, pvc } from '../manifests.js';
import { eventually } from '../kubectl.js';
import { poolLs } from '../leaks.js';
import { parseQuantity } from '../quantity.js';

scenario('topology: pods land only where the pool is, and the PV says so', async (c) => {
  const key = `famfs.csi.io/pool-${c.env.pool}`;
  c.apply([pvc('topo', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'] }), pod('anywhere', { image: c.env.image, claim: 'topo' })]);
  c.waitRunning('anywhere');
  assert.ok(c.poolNodes.includes(c.nodeOf('anywhere')), `pod ran on ${c.nodeOf('anywhere')}, not one of ${c.poolNodes.join(', ')}`);
  const pvName = c.k.run(['get', 'pvc', 'topo', '--namespace', c.ns, '-o', 'jsonpath={.spec.volumeName}']).stdout.trim();
  const affinity = c.k.run(['get', 'pv', pvName, '-o', 'jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[*].matchExpressions[*].key}']).stdout;
  assert.match(affinity, new RegExp(key.replace(/\./g, '\\.')), 'the PV is accessible where the pool is');

  // A node without the pool (kind's control plane here): a pod pinned there never starts.
  const all = c.k.run(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']).stdout.split(/\s+/).filter(Boolean);
  const without = all.find((n) => !c.poolNodes.includes(n));
  if (!without) {
    c.t.diagnostic('every node sees the pool: the negative half of the topology check is skipped');
    return;
  }
  c.apply([pvc('nowhere', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'] }), pod('pinned', { image: c.env.image, claim: 'nowhere', node: without, tolerateControlPlane: true })]);
  await eventually('a FailedScheduling event on the pinned pod', c.env.timeoutSeconds, () => (c.events('Pod', 'pinned').some((e) => e.reason === 'FailedScheduling') ? true : undefined));
  await new Promise((r) => setTimeout(r, 10_000));
  assert.equal(c.k.run(['get', 'pod', 'pinned', '--namespace', c.ns, '-o', 'jsonpath={.status.phase}']).stdout, 'Pending');
  assert.equal(c.k.run(['get', 'pvc', 'nowhere', '--namespace', c.ns, '-o', 'jsonpath={.status.phase}']).stdout, 'Pending');
});

scenario('capacity: CSIStorageCapacity matches famfs-csi pool ls', async (c) => {
  const key = `famfs.csi.io/pool-${c.env.pool}`;
  type Cap = { storageClassName: string; capacity?: string; maximumVolumeSize?: string; nodeTopology?: { matchLabels?: Record<string, string> } };
  const result = await eventually('a CSIStorageCapacity equal to the pool free space', c.env.timeoutSeconds, () => {
    const caps = c.k.json<{ items: Cap[] }>(['get', 'csistoragecapacities', '--namespace', c.env.namespace]).items;
    const cap = caps.find((x) => x.storageClassName === c.env.storageClass && x.nodeTopology?.matchLabels?.[key] === 'true');
    if (!cap?.capacity) return undefined;
    const ls = poolLs(c.k, c.env).pool;
    const got = { capacity: parseQuantity(cap.capacity), maximumVolumeSize: cap.maximumVolumeSize ? parseQuantity(cap.maximumVolumeSize) : undefined };
    return got.capacity === ls.freeBytes && got.maximumVolumeSize === ls.largestFreeRun ? { got, ls } : undefined;
  });
  assert.ok(result.got.capacity > 0);
});
