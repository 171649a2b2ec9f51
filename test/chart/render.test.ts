import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHART_DIR, helm, renderChart } from './helm.js';
import { schemaErrors } from './k8sSchema.js';
import { VALUE_SETS } from './fixtures.js';

// helm lint and helm template of the chart with every value set, and every rendered object
// checked against Kubernetes' OpenAPI schemas (test/chart/k8sSchema.ts). No cluster needed.

test('helm lint --strict passes with every value set', () => {
  for (const [name, files] of Object.entries(VALUE_SETS)) {
    const r = helm(['lint', '--strict', CHART_DIR, ...files.flatMap((f) => ['--values', f])]);
    assert.equal(r.status, 0, `helm lint (${name}) failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, name);
  }
});

for (const [name, files] of Object.entries(VALUE_SETS)) {
  test(`helm template (${name}): every object validates against the Kubernetes OpenAPI schemas`, () => {
    const objects = renderChart({ valueFiles: files });
    assert.ok(objects.length > 10, `${name}: only ${objects.length} objects rendered`);
    const errors = objects.flatMap(schemaErrors);
    assert.deepEqual(errors, [], `${name}:\n${errors.join('\n')}`);
    const seen = new Set<string>();
    for (const o of objects) {
      const key = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      assert.ok(!seen.has(key), `${name}: ${key} rendered twice`);
      seen.add(key);
      assert.ok(o.metadata.labels?.['app.kubernetes.io/instance'], `${name}: ${key} has no instance label`);
    }
  });
}

test('helm template renders the same objects for the chart defaults', () => {
  const kinds = renderChart()
    .map((o) => o.kind)
    .sort();
  const count = (k: string) => kinds.filter((x) => x === k).length;
  assert.equal(count('CSIDriver'), 1);
  assert.equal(count('Deployment'), 1);
  assert.equal(count('DaemonSet'), 2, 'node plugin and pool servers');
  assert.equal(count('ConfigMap'), 1);
  assert.equal(count('StorageClass'), 1);
  assert.equal(count('ServiceAccount'), 3);
  assert.equal(count('PodDisruptionBudget'), 0);
  assert.equal(count('ServiceMonitor'), 0);
});

test('the schema check catches a misspelt field and a wrong type (it fails honestly)', () => {
  const ds = renderChart().find((o) => o.kind === 'DaemonSet')!;
  const spec = (ds.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec;
  const c = spec.containers[0]!;
  (c.volumeMounts as Array<Record<string, unknown>>)[0]!.mountPropogation = 'Bidirectional';
  c.image = 42;
  const errors = schemaErrors(ds).join('\n');
  assert.match(errors, /unknown field "mountPropogation"/);
  assert.match(errors, /image must be string/);
});

test('NOTES.txt renders (helm install --dry-run=client, no cluster), also without StorageClasses', () => {
  for (const set of [[], ['storageClasses=null', 'poolServers.enabled=false']]) {
    const r = helm(['install', 'famfs-csi', CHART_DIR, '--namespace', 'famfs-csi', '--dry-run=client', ...set.flatMap((s) => ['--set', s])]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /NOTES:\nfamfs-csi .* is installed in namespace famfs-csi/);
  }
});
