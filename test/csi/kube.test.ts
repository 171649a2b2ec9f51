import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger } from '../../src/csi/logger.js';
import type { Logger } from '../../src/csi/logger.js';
import { DRIVER_NAME } from '../../src/csi/identity.js';
import { connectKube } from '../../src/csi/kube/connect.js';
import type { Kube } from '../../src/csi/kube/connect.js';
import { KubeEventRecorder, LogEventRecorder, MAX_EVENT_MESSAGE, eventName } from '../../src/csi/kube/events.js';
import type { EventTarget } from '../../src/csi/kube/events.js';
import { ClaimLookup } from '../../src/csi/kube/lookup.js';
import { ConfigMapReportChannel, REPORT_LABELS, reportConfigMapName } from '../../src/csi/kube/configMapChannel.js';
import type { NodeHealthReport } from '../../src/csi/health/reports.js';
import { FakeKubeApi } from '../helpers/fakeKubeApi.js';
import type { KubeObject } from '../helpers/fakeKubeApi.js';

const quiet = createLogger({ silent: true });
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KUBE_ENV = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBECONFIG', 'POD_NAMESPACE'];

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'famfs-csi-kube-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Clears the variables connectKube reads for the test, and restores them after. */
function isolateEnv(t: TestContext): void {
  const saved = KUBE_ENV.map((k) => [k, process.env[k]] as const);
  for (const k of KUBE_ENV) delete process.env[k];
  t.after(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

async function fakeCluster(t: TestContext, namespace = 'famfs-system'): Promise<{ fake: FakeKubeApi; kube: Kube }> {
  isolateEnv(t);
  const fake = new FakeKubeApi();
  await fake.start();
  t.after(() => fake.stop());
  const kube = connectKube({ mode: 'on', kubeconfig: fake.kubeconfigFile(tempDir(t)), namespace }, quiet);
  assert.ok(kube);
  return { fake, kube };
}

function pvc(namespace: string, name: string): KubeObject {
  return { metadata: { name, namespace }, spec: { accessModes: ['ReadWriteMany'] } };
}

function pv(name: string, driver: string, handle: string, claimRef?: Record<string, string>): KubeObject {
  return { metadata: { name }, spec: { csi: { driver, volumeHandle: handle }, ...(claimRef ? { claimRef } : {}) } };
}

function pod(namespace: string, name: string, node: string): KubeObject {
  return { metadata: { name, namespace }, spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] } };
}

function report(node: string, updatedAt = new Date().toISOString()): NodeHealthReport {
  return {
    node,
    updatedAt,
    pools: { pool0: [{ device: '/dev/dax0.0', range: { offset: 4096, length: 4096 }, kind: 'poison', firstSeen: '2025-01-01T00:00:00.000Z', source: 'emulated' }] },
  };
}

function memoryLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const claim: EventTarget = { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: '11111111-2222-3333-4444-555555555555' };

test('events: a Warning on a PVC with every field, under a deterministic name', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const rec = new KubeEventRecorder(kube, { component: 'famfs-csi-controller', instance: 'ctl-host', logger: quiet });
  const r = await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'poison on /dev/dax0.0', key: 'k1' });
  assert.equal(r, 'created');
  assert.equal(fake.objects.events.length, 1);
  const ev = fake.objects.events[0]!;
  const name = eventName(claim, 'DaxMemoryError', 'k1');
  assert.match(name, /^data\.[0-9a-f]{16}$/);
  assert.equal(ev.metadata.name, name);
  assert.equal(ev.metadata.namespace, 'apps');
  assert.deepEqual(ev.involvedObject, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: claim.uid });
  assert.equal(ev.reason, 'DaxMemoryError');
  assert.equal(ev.message, 'poison on /dev/dax0.0');
  assert.equal(ev.type, 'Warning');
  assert.deepEqual(ev.source, { component: 'famfs-csi-controller', host: 'ctl-host' });
  assert.equal(ev.reportingComponent, `${DRIVER_NAME}/famfs-csi-controller`);
  assert.equal(ev.reportingInstance, 'ctl-host');
  assert.equal(ev.count, 1);
  assert.equal(typeof ev.firstTimestamp, 'string');
  assert.equal(ev.firstTimestamp, ev.lastTimestamp);
  assert.equal(ev.eventTime, undefined);
  assert.deepEqual(
    fake.requests.map((q) => `${q.method} ${q.path}`),
    ['POST /api/v1/namespaces/apps/events'],
  );
});

test('events: the same transition again (another poll, a restarted plugin) is "exists" and no second Event', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const ev = { type: 'Warning' as const, reason: 'DaxMemoryError', message: 'poison', key: 'k1' };
  const first = new KubeEventRecorder(kube, { component: 'famfs-csi-node', instance: 'n1', logger: quiet });
  assert.equal(await first.record(claim, ev), 'created');
  assert.equal(await first.record(claim, { ...ev, message: 'poison, polled again' }), 'exists');
  const restarted = new KubeEventRecorder(kube, { component: 'famfs-csi-node', instance: 'n1', logger: quiet });
  assert.equal(await restarted.record(claim, ev), 'exists');
  assert.equal(fake.objects.events.length, 1);

  assert.equal(await first.record(claim, { ...ev, key: 'k2' }), 'created');
  assert.equal(await first.record(claim, { type: 'Normal', reason: 'DaxMemoryRecovered', message: 'cleared', key: 'k2' }), 'created');
  const otherClaim = { ...claim, uid: '99999999-2222-3333-4444-555555555555' };
  assert.equal(await first.record(otherClaim, ev), 'created', 'a recreated PVC (new uid) gets its own event');
  assert.equal(fake.objects.events.length, 4);
  assert.equal(new Set(fake.objects.events.map((e) => e.metadata.name)).size, 4);
});

test('events: events on pods go to the pod namespace', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const rec = new KubeEventRecorder(kube, { component: 'famfs-csi-node', instance: 'worker-1', logger: quiet });
  const target: EventTarget = { kind: 'Pod', namespace: 'team-b', name: 'app-0', uid: 'pod-uid-1' };
  assert.equal(await rec.record(target, { type: 'Normal', reason: 'DaxMemoryRecovered', message: 'ok', key: 'k' }), 'created');
  const ev = fake.objects.events[0]!;
  assert.equal(ev.metadata.namespace, 'team-b');
  assert.deepEqual(ev.involvedObject, { apiVersion: 'v1', kind: 'Pod', namespace: 'team-b', name: 'app-0', uid: 'pod-uid-1' });
  assert.equal(ev.type, 'Normal');
});

test('events: a long message is cut to 1024 characters', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const rec = new KubeEventRecorder(kube, { component: 'famfs-csi-controller', instance: 'h', logger: quiet });
  await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'x'.repeat(5000), key: 'k' });
  const msg = fake.objects.events[0]!.message as string;
  assert.equal(msg.length, MAX_EVENT_MESSAGE);
  assert.ok(msg.endsWith('...'));
  await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'y'.repeat(MAX_EVENT_MESSAGE), key: 'k2' });
  assert.equal(fake.objects.events[1]!.message, 'y'.repeat(MAX_EVENT_MESSAGE), 'exactly 1024 is kept whole');
});

test('events: names stay valid DNS subdomains within 253 characters for long target names', () => {
  const long = { ...claim, name: `${'a'.repeat(230)}-${'b'.repeat(22)}` };
  const name = eventName(long, 'DaxMemoryError', 'k');
  assert.ok(name.length <= 253, `length ${name.length}`);
  assert.match(name, DNS_SUBDOMAIN);
  const dashCut = { ...claim, name: `${'a'.repeat(235)}-bbbb` };
  assert.match(eventName(dashCut, 'R', 'k'), /^a{235}\.[0-9a-f]{16}$/);
  assert.equal(eventName(claim, 'R', 'k'), eventName({ ...claim }, 'R', 'k'));
  assert.notEqual(eventName(claim, 'R', 'k'), eventName(claim, 'R2', 'k'));
});

test('events: an API error names the event, the object and the HTTP status', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const rec = new KubeEventRecorder(kube, { component: 'famfs-csi-controller', instance: 'h', logger: quiet });
  fake.failNext(1, 403, { method: 'POST' });
  const name = eventName(claim, 'DaxMemoryError', 'k');
  await assert.rejects(rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'm', key: 'k' }), (err: Error) => {
    assert.match(err.message, new RegExp(`event apps/${name.replace('.', '\\.')} \\(DaxMemoryError\\)`));
    assert.match(err.message, /PersistentVolumeClaim apps\/data/);
    assert.match(err.message, /HTTP 403 Forbidden: injected failure 403/);
    assert.doesNotMatch(err.message, /Headers/);
    return true;
  });
  assert.equal(fake.objects.events.length, 0);
  assert.equal(await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'm', key: 'k' }), 'created', 'a retry after the error succeeds');
});

test('events: a wrong token surfaces as HTTP 401', async (t) => {
  const { fake } = await fakeCluster(t);
  const dir = tempDir(t);
  const file = fake.kubeconfigFile(dir);
  const bad = join(dir, 'bad-kubeconfig');
  writeFileSync(bad, readFileSync(file, 'utf8').replace(fake.token, 'wrong'));
  const kube = connectKube({ mode: 'on', kubeconfig: bad }, quiet)!;
  const rec = new KubeEventRecorder(kube, { component: 'c', instance: 'h', logger: quiet });
  await assert.rejects(rec.record(claim, { type: 'Warning', reason: 'R', message: 'm', key: 'k' }), /HTTP 401/);
});

test('events: LogEventRecorder logs once per transition, warn for Warning and info for Normal', async () => {
  const { logger, lines } = memoryLogger();
  const rec = new LogEventRecorder({ component: 'famfs-csi-node', instance: 'n1', logger });
  assert.equal(await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'poison', key: 'k1' }), 'created');
  assert.equal(await rec.record(claim, { type: 'Warning', reason: 'DaxMemoryError', message: 'poison', key: 'k1' }), 'exists');
  assert.equal(await rec.record(claim, { type: 'Normal', reason: 'DaxMemoryRecovered', message: 'cleared', key: 'k1' }), 'created');
  const out = lines();
  assert.equal(out.length, 2);
  assert.equal(out[0]!.level, 'warn');
  assert.equal(out[0]!.reason, 'DaxMemoryError');
  assert.equal(out[0]!.event, `apps/${eventName(claim, 'DaxMemoryError', 'k1')}`);
  assert.deepEqual(out[0]!.involvedObject, { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: claim.uid });
  assert.equal(out[0]!.reportingComponent, `${DRIVER_NAME}/famfs-csi-node`);
  assert.equal(out[0]!.reportingInstance, 'n1');
  assert.match(String(out[0]!.message), /DaxMemoryError on PersistentVolumeClaim apps\/data: poison/);
  assert.equal(out[1]!.level, 'info');
  assert.equal(out[1]!.type, 'Normal');
});

test('lookup: the PVC of a volume, matched by driver and volume handle', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const data = fake.add('persistentvolumeclaims', pvc('apps', 'data'));
  fake.add('persistentvolumes', pv('pv-1', DRIVER_NAME, 'vol-1', { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: data.metadata.uid! }));
  // Same handle and a handle only another driver has: neither may be taken for ours.
  fake.add('persistentvolumes', pv('pv-other', 'other.csi.io', 'vol-1', { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'wrong', uid: 'u-wrong' }));
  fake.add('persistentvolumes', pv('pv-other-2', 'other.csi.io', 'vol-3', { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'wrong', uid: 'u-wrong' }));
  fake.add('persistentvolumes', pv('pv-2', DRIVER_NAME, 'vol-unbound'));
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME });
  assert.deepEqual(await lookup.claimOfVolume('vol-1'), { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: data.metadata.uid });
  assert.equal(await lookup.claimOfVolume('vol-unbound'), undefined);
  assert.equal(await lookup.claimOfVolume('vol-3'), undefined);
  assert.equal(await lookup.claimOfVolume('vol-missing'), undefined);
  assert.equal(fake.requestsTo('GET', '/api/v1/persistentvolumes').length, 1, 'one listing serves every lookup within cacheMs');
  assert.equal(fake.requestsTo('GET', '/api/v1/namespaces/apps/persistentvolumeclaims').length, 0, 'a claimRef with a uid needs no PVC read');
});

test('lookup: a volume created after the listing is found once cacheMs has passed', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME, cacheMs: 300 });
  assert.equal(await lookup.claimOfVolume('vol-new'), undefined);
  fake.add('persistentvolumes', pv('pv-new', DRIVER_NAME, 'vol-new', { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'late', uid: 'u-late' }));
  assert.equal(await lookup.claimOfVolume('vol-new'), undefined, 'a miss within cacheMs does not list again');
  assert.equal(fake.requestsTo('GET', '/api/v1/persistentvolumes').length, 1);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal((await lookup.claimOfVolume('vol-new'))?.name, 'late');
  assert.equal(fake.requestsTo('GET', '/api/v1/persistentvolumes').length, 2);
  const lists = await Promise.all([lookup.claimOfVolume('vol-new'), lookup.claimOfVolume('vol-x')]);
  assert.equal(lists[0]?.uid, 'u-late');
  assert.equal(fake.requestsTo('GET', '/api/v1/persistentvolumes').length, 2);
});

test('lookup: concurrent lookups share one listing', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  fake.add('persistentvolumes', pv('pv-1', DRIVER_NAME, 'vol-1', { namespace: 'apps', name: 'data', uid: 'u1' }));
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME });
  const found = await Promise.all([lookup.claimOfVolume('vol-1'), lookup.claimOfVolume('vol-1'), lookup.claimOfVolume('vol-2')]);
  assert.deepEqual(
    found.map((f) => f?.uid),
    ['u1', 'u1', undefined],
  );
  assert.equal(fake.requestsTo('GET', '/api/v1/persistentvolumes').length, 1);
});

test('lookup: a claimRef without a uid is completed from the PVC; a missing PVC gives undefined', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const data = fake.add('persistentvolumeclaims', pvc('apps', 'data'));
  fake.add('persistentvolumes', pv('pv-1', DRIVER_NAME, 'vol-1', { namespace: 'apps', name: 'data' }));
  fake.add('persistentvolumes', pv('pv-2', DRIVER_NAME, 'vol-2', { namespace: 'apps', name: 'gone' }));
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME });
  assert.deepEqual(await lookup.claimOfVolume('vol-1'), { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data', uid: data.metadata.uid });
  assert.equal(await lookup.claimOfVolume('vol-2'), undefined);
  assert.deepEqual(
    fake.requestsTo('GET', '/api/v1/namespaces/apps/persistentvolumeclaims/').map((r) => r.path),
    ['/api/v1/namespaces/apps/persistentvolumeclaims/data', '/api/v1/namespaces/apps/persistentvolumeclaims/gone'],
  );
});

test('lookup: a failed PV listing names the driver and the status, and the next call lists again', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  fake.add('persistentvolumes', pv('pv-1', DRIVER_NAME, 'vol-1', { namespace: 'apps', name: 'data', uid: 'u1' }));
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME });
  fake.failNext(1, 500, { path: '/api/v1/persistentvolumes' });
  await assert.rejects(lookup.claimOfVolume('vol-1'), /cannot list PersistentVolumes \(looking for driver famfs\.csi\.io\): HTTP 500 InternalError/);
  assert.equal((await lookup.claimOfVolume('vol-1'))?.uid, 'u1');
});

test('lookup: podsOnNode returns the listed pods on that node whose uid is wanted', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const a0 = fake.add('pods', pod('apps', 'a-0', 'node-a'));
  const a1 = fake.add('pods', pod('team-b', 'a-1', 'node-a'));
  fake.add('pods', pod('apps', 'a-2', 'node-a'));
  const b0 = fake.add('pods', pod('apps', 'b-0', 'node-b'));
  const lookup = new ClaimLookup(kube, { driver: DRIVER_NAME });
  const found = await lookup.podsOnNode('node-a', [a0.metadata.uid!, a1.metadata.uid!, b0.metadata.uid!, 'not-a-pod']);
  assert.deepEqual(
    found.sort((x, y) => x.name.localeCompare(y.name)),
    [
      { kind: 'Pod', namespace: 'apps', name: 'a-0', uid: a0.metadata.uid },
      { kind: 'Pod', namespace: 'team-b', name: 'a-1', uid: a1.metadata.uid },
    ],
  );
  const lists = fake.requestsTo('GET', '/api/v1/pods');
  assert.equal(lists.length, 1);
  assert.equal(lists[0]!.query.fieldSelector, 'spec.nodeName=node-a');
  assert.deepEqual(await lookup.podsOnNode('node-a', []), []);
  assert.equal(fake.requestsTo('GET', '/api/v1/pods').length, 1, 'no uids, no request');
});

test('configmaps: publish creates, publishes again replace, readAll round-trips', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const channel = new ConfigMapReportChannel(kube);
  assert.equal(channel.description, 'configmaps in namespace famfs-system');
  const r1 = report('worker-1');
  await channel.publish(r1);
  assert.deepEqual(
    fake.requests.map((q) => `${q.method} ${q.path}`),
    ['PUT /api/v1/namespaces/famfs-system/configmaps/famfs-csi-health-worker-1', 'POST /api/v1/namespaces/famfs-system/configmaps'],
  );
  const created = structuredClone(fake.objects.configmaps[0]!);
  assert.equal(created.metadata.name, 'famfs-csi-health-worker-1');
  assert.equal(created.metadata.namespace, 'famfs-system');
  assert.deepEqual(created.metadata.labels, { 'app.kubernetes.io/name': 'famfs-csi', 'app.kubernetes.io/component': 'health-report' });
  assert.deepEqual(JSON.parse((created.data as Record<string, string>)['report.json']!), r1);

  const r2 = { ...report('worker-1'), pools: {} };
  await channel.publish(r2);
  assert.equal(fake.objects.configmaps.length, 1);
  const updated = fake.objects.configmaps[0]!;
  assert.equal(updated.metadata.uid, created.metadata.uid, 'replaced, not recreated');
  assert.notEqual(updated.metadata.resourceVersion, created.metadata.resourceVersion);
  assert.deepEqual(JSON.parse((updated.data as Record<string, string>)['report.json']!), r2);

  const r3 = report('worker-2');
  await channel.publish(r3);
  const all = await channel.readAll();
  assert.deepEqual(
    all.sort((a, b) => a.node.localeCompare(b.node)),
    [r2, r3],
  );
  const list = fake.requestsTo('GET', '/api/v1/namespaces/famfs-system/configmaps');
  assert.equal(list.at(-1)!.query.labelSelector, 'app.kubernetes.io/name=famfs-csi,app.kubernetes.io/component=health-report');
});

test('configmaps: readAll skips bad reports and ConfigMaps that are not reports', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const channel = new ConfigMapReportChannel(kube, { namespace: 'other-ns' });
  await channel.publish(report('good'));
  fake.add('configmaps', { metadata: { name: 'famfs-csi-health-bad', namespace: 'other-ns', labels: { ...REPORT_LABELS } }, data: { 'report.json': '{"node": 1' } });
  fake.add('configmaps', { metadata: { name: 'famfs-csi-health-empty', namespace: 'other-ns', labels: { ...REPORT_LABELS } } });
  fake.add('configmaps', { metadata: { name: 'famfs-csi-health-wrong', namespace: 'other-ns', labels: { ...REPORT_LABELS } }, data: { 'report.json': JSON.stringify({ node: 'x', updatedAt: 'never', pools: {} }) } });
  fake.add('configmaps', { metadata: { name: 'unrelated', namespace: 'other-ns', labels: { 'app.kubernetes.io/component': 'other' } }, data: { 'report.json': JSON.stringify(report('unrelated')) } });
  fake.add('configmaps', { metadata: { name: 'elsewhere', namespace: 'famfs-system', labels: { ...REPORT_LABELS } }, data: { 'report.json': JSON.stringify(report('elsewhere')) } });
  const all = await channel.readAll();
  assert.deepEqual(
    all.map((r) => r.node),
    ['good'],
  );
});

test('configmaps: odd node names make valid, distinct ConfigMap names', async (t) => {
  assert.equal(reportConfigMapName('worker-1'), 'famfs-csi-health-worker-1');
  assert.equal(reportConfigMapName('node.example.com'), 'famfs-csi-health-node.example.com');
  const odd = ['Node_A', 'node-a', 'NODE-A', 'host:with/colon', 'trailing-', 'a..b', '-', 'x'.repeat(300), `${'y'.repeat(240)}.-z`];
  const names = odd.map(reportConfigMapName);
  for (const [i, n] of names.entries()) {
    assert.ok(n.length <= 253, `${odd[i]} → ${n.length} chars`);
    assert.match(n, DNS_SUBDOMAIN, `${odd[i]} → ${n}`);
    assert.ok(n.startsWith('famfs-csi-health'), n);
  }
  assert.equal(new Set(names).size, names.length);
  assert.match(reportConfigMapName('Node_A'), /^famfs-csi-health-node-a-[0-9a-f]{8}$/);

  const { fake, kube } = await fakeCluster(t);
  const channel = new ConfigMapReportChannel(kube);
  for (const node of ['Node_A', 'node-a', 'x'.repeat(300)]) await channel.publish(report(node));
  assert.equal(fake.objects.configmaps.length, 3);
  assert.deepEqual((await channel.readAll()).map((r) => r.node).sort(), ['Node_A', 'node-a', 'x'.repeat(300)].sort());
});

test('configmaps: a 409 from a concurrent writer is retried once; other errors name the ConfigMap', async (t) => {
  const { fake, kube } = await fakeCluster(t);
  const channel = new ConfigMapReportChannel(kube);
  fake.failNext(1, 409, { method: 'POST' });
  await channel.publish(report('w1'));
  assert.deepEqual(
    fake.requests.map((q) => q.method),
    ['PUT', 'POST', 'PUT', 'POST'],
  );
  assert.equal(fake.objects.configmaps.length, 1);

  fake.failNext(2, 409, { method: 'PUT' });
  await assert.rejects(channel.publish(report('w1')), /ConfigMap famfs-system\/famfs-csi-health-w1: HTTP 409 Conflict/);

  fake.failNext(1, 403);
  await assert.rejects(channel.publish(report('w1')), (err: Error) => {
    assert.match(err.message, /cannot publish the health report of node w1 to ConfigMap famfs-system\/famfs-csi-health-w1: HTTP 403 Forbidden/);
    return true;
  });
  fake.failNext(1, 403);
  await assert.rejects(channel.readAll(), /cannot list health report ConfigMaps in namespace famfs-system .*HTTP 403 Forbidden/);
});

test('connectKube: off never connects', (t) => {
  isolateEnv(t);
  process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
  assert.equal(connectKube({ mode: 'off', kubeconfig: '/nonexistent' }, quiet), undefined);
});

test('connectKube: auto without a cluster config runs without Kubernetes', (t) => {
  isolateEnv(t);
  assert.equal(connectKube({ mode: 'auto' }, quiet), undefined);
});

test('connectKube: on without a cluster config says what is missing', (t) => {
  isolateEnv(t);
  assert.throws(() => connectKube({ mode: 'on' }, quiet), (err: Error) => {
    assert.match(err.message, /KUBERNETES_SERVICE_HOST is not set/);
    assert.match(err.message, /no kubeconfig/);
    assert.match(err.message, /KUBECONFIG/);
    return true;
  });
});

test('connectKube: a kubeconfig that cannot be loaded is an error naming the file', (t) => {
  isolateEnv(t);
  assert.throws(() => connectKube({ mode: 'auto', kubeconfig: '/nonexistent/kubeconfig' }, quiet), /cannot load kubeconfig \/nonexistent\/kubeconfig/);
});

test('connectKube: in-cluster env without a port is an error naming the variable', (t) => {
  isolateEnv(t);
  process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
  assert.throws(() => connectKube({ mode: 'auto' }, quiet), /KUBERNETES_SERVICE_PORT is not/);
});

test('connectKube: in-cluster env builds the service URL', (t) => {
  isolateEnv(t);
  process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
  process.env.KUBERNETES_SERVICE_PORT = '443';
  const kube = connectKube({ mode: 'auto', namespace: 'ns1' }, quiet);
  assert.equal(kube?.server, 'https://10.96.0.1:443');
  assert.equal(kube?.namespace, 'ns1');
});

test('connectKube: kubeconfig from option or env KUBECONFIG; namespace from option, POD_NAMESPACE or default', async (t) => {
  isolateEnv(t);
  const fake = new FakeKubeApi();
  await fake.start();
  t.after(() => fake.stop());
  const file = fake.kubeconfigFile(tempDir(t));
  const viaOption = connectKube({ mode: 'on', kubeconfig: file, namespace: 'explicit' }, quiet);
  assert.equal(viaOption?.server, fake.url);
  assert.equal(viaOption?.namespace, 'explicit');

  process.env.KUBECONFIG = file;
  process.env.POD_NAMESPACE = 'from-env';
  const viaEnv = connectKube({ mode: 'auto' }, quiet);
  assert.equal(viaEnv?.server, fake.url);
  assert.equal(viaEnv?.namespace, 'from-env');
  delete process.env.POD_NAMESPACE;
  if (!existsSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace')) {
    assert.equal(connectKube({ mode: 'auto' }, quiet)?.namespace, 'default');
  }

  const pvs = await viaEnv!.core.listPersistentVolume();
  assert.deepEqual(pvs.items, []);
});
