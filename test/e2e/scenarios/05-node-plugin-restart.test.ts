import assert from 'node:assert/strict';
import { scenario } from '../scenario.js';
import { pod, pvc } from '../manifests.js';
import { eventually } from '../kubectl.js';
import { nodePluginPods } from '../leaks.js';

scenario('restart: a pod keeps reading and writing its volume while the node plugin restarts', async (c) => {
  c.apply([pvc('kept', { storageClass: c.env.storageClass, accessModes: ['ReadWriteOnce'] }), pod('app', { image: c.env.image, claim: 'kept' })]);
  c.waitRunning('app');
  const node = c.nodeOf('app');
  c.sh('app', 'printf before-restart | dd of=/data/data conv=notrunc status=none');

  const plugin = nodePluginPods(c.k, c.env).find((p) => p.node === node)!;
  const serversSelector = `app.kubernetes.io/instance=${c.env.release},app.kubernetes.io/component=pool-servers`;
  const serversBefore = c.k.run(['get', 'pods', '--namespace', c.env.namespace, '-l', serversSelector, '--field-selector', `spec.nodeName=${node}`, '-o', 'jsonpath={.items[*].metadata.uid}']).stdout;

  c.k.run(['delete', 'pod', plugin.name, '--namespace', c.env.namespace, '--wait=true']);
  assert.equal(c.sh('app', 'head -c 14 /data/data'), 'before-restart', 'readable while the plugin is gone');
  await eventually(`a new node plugin on ${node}`, c.env.timeoutSeconds, () => {
    const p = nodePluginPods(c.k, c.env).find((x) => x.node === node && x.name !== plugin.name);
    return p ? p : undefined;
  });
  c.k.run(['rollout', 'status', 'daemonset', '--namespace', c.env.namespace, '-l', `app.kubernetes.io/instance=${c.env.release},app.kubernetes.io/component=node`, `--timeout=${c.env.timeoutSeconds}s`]);

  c.sh('app', 'printf after--restart | dd of=/data/data conv=notrunc status=none');
  assert.equal(c.sh('app', 'head -c 14 /data/data'), 'after--restart', 'still writable after the restart');
  const serversAfter = c.k.run(['get', 'pods', '--namespace', c.env.namespace, '-l', serversSelector, '--field-selector', `spec.nodeName=${node}`, '-o', 'jsonpath={.items[*].metadata.uid}']).stdout;
  assert.equal(serversAfter, serversBefore, 'the pool-server pod was not restarted');
});
