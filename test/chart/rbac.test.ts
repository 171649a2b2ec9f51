import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderChart } from './helm.js';
import type { K8sObject } from './helm.js';
import { podSpec, workload } from './workloads.js';

// RBAC: every binding resolves, each component gets what it needs and nothing broader.

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
type Role = K8sObject & { rules: Rule[] };
type Binding = K8sObject & { roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> };

const objects = renderChart({ namespace: 'storage' });
const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole') as Role[];
const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') as Binding[];

/** Every (group, resource, verb) the service account is granted, as "group/resource:verb" with scope. */
function grants(serviceAccount: string): Set<string> {
  const out = new Set<string>();
  for (const b of bindings.filter((x) => x.subjects.some((s) => s.name === serviceAccount))) {
    const role = roles.find((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name)!;
    const scope = b.kind === 'ClusterRoleBinding' ? 'cluster' : 'namespace';
    for (const rule of role.rules) for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) out.add(`${scope} ${g || 'core'}/${r}:${v}`);
  }
  return out;
}

test('every binding names a rendered role and service account in the release namespace', () => {
  const accounts = new Set(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name));
  for (const b of bindings) {
    assert.ok(roles.some((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name), `${b.metadata.name} -> ${b.roleRef.kind}/${b.roleRef.name}`);
    for (const s of b.subjects) {
      assert.ok(accounts.has(s.name), `${b.metadata.name}: ${s.name}`);
      assert.equal(s.namespace, 'storage');
    }
    if (b.kind === 'RoleBinding') assert.equal(b.metadata.namespace, 'storage');
  }
  for (const [kind, suffix] of [['Deployment', '-controller'], ['DaemonSet', '-node'], ['DaemonSet', '-pool-servers']] as const) {
    assert.ok(accounts.has(podSpec(workload(objects, kind, suffix)).serviceAccountName!), suffix);
  }
});

test('no wildcard, no secrets, no cluster-wide configmaps', () => {
  for (const r of roles) {
    for (const rule of r.rules) {
      for (const x of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) assert.notEqual(x, '*', r.metadata.name);
      assert.ok(!rule.resources.includes('secrets'), `${r.metadata.name} grants secrets`);
      if (r.kind === 'ClusterRole') assert.ok(!rule.resources.includes('configmaps'), `${r.metadata.name}: configmaps only in the namespace`);
    }
  }
});

test('the controller pod has what the provisioner, the health monitor and the plugin need', () => {
  const g = grants('famfs-csi-controller');
  const need = [
    ...['get', 'list', 'watch', 'create', 'delete'].map((v) => `cluster core/persistentvolumes:${v}`),
    ...['get', 'list', 'watch', 'update'].map((v) => `cluster core/persistentvolumeclaims:${v}`),
    ...['get', 'list', 'watch'].flatMap((v) => [`cluster storage.k8s.io/storageclasses:${v}`, `cluster storage.k8s.io/csinodes:${v}`, `cluster core/nodes:${v}`, `cluster core/pods:${v}`]),
    ...['get', 'list', 'watch', 'create', 'update', 'patch'].map((v) => `cluster core/events:${v}`),
    ...['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'].map((v) => `namespace storage.k8s.io/csistoragecapacities:${v}`),
    ...['get', 'list', 'watch', 'create', 'update', 'delete'].map((v) => `namespace coordination.k8s.io/leases:${v}`),
    ...['get', 'list', 'watch'].map((v) => `namespace core/configmaps:${v}`),
    'namespace core/pods:get',
    'namespace apps/replicasets:get',
  ];
  for (const n of need) assert.ok(g.has(n), `controller lacks ${n}`);
  assert.ok(![...g].some((x) => x.includes('configmaps:create') || x.includes('configmaps:update')), 'the controller only reads health reports');
});

test('the node plugin may read pods and its node, post Events and write its health report, nothing more', () => {
  const g = [...grants('famfs-csi-node')].sort();
  assert.deepEqual(g, [
    'cluster core/events:create',
    'cluster core/events:get',
    'cluster core/events:patch',
    'cluster core/nodes:get',
    'cluster core/pods:get',
    'cluster core/pods:list',
    'namespace core/configmaps:create',
    'namespace core/configmaps:get',
    'namespace core/configmaps:patch',
    'namespace core/configmaps:update',
  ]);
});

test('the pool servers have no API access at all', () => {
  assert.equal(grants('famfs-csi-pool-servers').size, 0);
  const sa = objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'famfs-csi-pool-servers') as K8sObject & { automountServiceAccountToken?: boolean };
  assert.equal(sa.automountServiceAccountToken, false);
});
