import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pod, pvc } from '../manifests.js';
import { eventually } from '../kubectl.js';
import { nodePluginPods } from '../leaks.js';

scenario('health: an injected dax error shows on the PVC and the pod, fails reads, and clears', async (c) => {
  c.apply([pvc('fragile', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'] }), pod('app', { image: c.env.image, claim: 'fragile' })]);
  c.waitRunning('app');
  c.sh('app', 'printf healthy | dd of=/data/data conv=notrunc status=none');
  const volume = c.volumeHandle('fragile');
  const plugin = nodePluginPods(c.k, c.env).find((p) => p.node === c.nodeOf('app'))!.name;
  const famfs = (...args: string[]) => {
    const r = c.k.exec(c.env.namespace, plugin, 'famfs-csi', ['famfs-csi', 'pool', ...args]);
    assert.equal(r.status, 0, `famfs-csi pool ${args.join(' ')}: ${r.stderr}`);
  };
  const read = () => c.k.exec(c.ns, 'app', undefined, ['dd', 'if=/data/data', 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct', 'status=none']);
  const reasons = (kind: string, name: string) => c.events(kind, name).map((e) => e.reason);

  famfs('inject-error', '--pool', c.env.pool, '--volume', volume, '--offset', '0', '--length', '4096', '--kind', 'poison');
  try {
    await eventually('reads of the poisoned range to fail', c.env.timeoutSeconds, () => (read().status !== 0 ? true : undefined));
    assert.match(read().stderr, /Input\/output error|EIO/i);
    await eventually('DaxMemoryError and VolumeConditionAbnormal on the PVC', c.env.timeoutSeconds, () => {
      const r = reasons('PersistentVolumeClaim', 'fragile');
      return r.includes('DaxMemoryError') && r.includes('VolumeConditionAbnormal') ? true : undefined;
    });
    await eventually('a health Event on the pod', c.env.timeoutSeconds, () =>
      reasons('Pod', 'app').some((r) => r === 'DaxMemoryError' || r === 'VolumeConditionAbnormal') ? true : undefined,
    );
    const warning = c.events('PersistentVolumeClaim', 'fragile').find((e) => e.reason === 'DaxMemoryError')!;
    assert.equal(warning.type, 'Warning');
  } finally {
    famfs('clear-errors', '--pool', c.env.pool);
  }
  await eventually('reads to work again', c.env.timeoutSeconds, () => (read().status === 0 ? true : undefined));
  assert.equal(c.sh('app', 'head -c 7 /data/data'), 'healthy', 'the bytes are intact after the error cleared');
  await eventually('DaxMemoryRecovered and VolumeConditionNormal on the PVC', c.env.timeoutSeconds, () => {
    const r = reasons('PersistentVolumeClaim', 'fragile');
    return r.includes('DaxMemoryRecovered') && r.includes('VolumeConditionNormal') ? true : undefined;
  });
});
