import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { Metrics } from '../../src/csi/metrics.js';
import type { PoolMetrics } from '../../src/csi/metrics.js';
import { parseListenAddress, startMetricsServer } from '../../src/csi/metricsServer.js';
import type { MetricsServer } from '../../src/csi/metricsServer.js';
import { createLogger } from '../../src/csi/logger.js';
import type { Logger } from '../../src/csi/logger.js';
import { KeyedLocks } from '../../src/csi/locks.js';
import { serviceImplementation } from '../../src/csi/rpc.js';
import { invalidArgument } from '../../src/csi/errors.js';

const logger = createLogger({ silent: true });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into samples (enough for prom-client's output). */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const v = m[3]!;
    samples.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return { samples, types };
}

/** The samples of `name` whose labels include `match`. */
function find(samples: Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, match: Record<string, string> = {}): number | undefined {
  const f = find(samples, name, match);
  assert.ok(f.length <= 1, `${name} ${JSON.stringify(match)} matches ${f.length} samples`);
  return f[0]?.value;
}

async function serve(t: { after(fn: () => unknown): void }, metrics: Metrics): Promise<MetricsServer> {
  const server = await startMetricsServer('127.0.0.1:0', metrics, logger);
  t.after(() => server.close());
  return server;
}

async function scrape(server: MetricsServer): Promise<{ samples: Sample[]; types: Map<string, string>; text: string }> {
  const res = await fetch(server.url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { ...parse(text), text };
}

const pool = (name: string, extra: Partial<PoolMetrics> = {}): PoolMetrics => ({
  pool: name,
  sizeBytes: 246 * 1024 * 1024,
  freeBytes: 200 * 1024 * 1024,
  largestFreeBytes: 150 * 1024 * 1024,
  volumes: 3,
  logEntriesUsed: 7,
  logEntriesFree: 15_413,
  ...extra,
});

test('every metric family appears with its labels and values', async (t) => {
  const metrics = new Metrics('controller', { node: 'worker-1' });
  const server = await serve(t, metrics);
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  assert.equal(server.url, `http://127.0.0.1:${server.port}/metrics`);

  metrics.observeRpc('Controller', 'CreateVolume', 'OK', 0.002);
  metrics.observeRpc('Controller', 'CreateVolume', 'OK', 0.004);
  metrics.observeRpc('Controller', 'CreateVolume', 'INVALID_ARGUMENT', 0.0001);
  metrics.observeAllocation('p0', 12.5);
  metrics.observeAllocation('p0', 0.0002);
  metrics.setPoolSource(() => [pool('p0'), pool('p1', { volumes: 0, freeBytes: 246 * 1024 * 1024 })]);
  metrics.setHealthSource(() => ({
    errors: [
      { pool: 'p0', kind: 'uncorrectable', source: 'ras', count: 2 },
      { pool: 'p1', kind: 'poison', source: 'badblocks', count: 1 },
    ],
    abnormal: [{ pool: 'p0', count: 1 }],
  }));

  const { samples, types } = await scrape(server);

  // Pool gauges.
  const gauges: [string, keyof PoolMetrics][] = [
    ['famfs_csi_pool_size_bytes', 'sizeBytes'],
    ['famfs_csi_pool_free_bytes', 'freeBytes'],
    ['famfs_csi_pool_largest_free_run_bytes', 'largestFreeBytes'],
    ['famfs_csi_pool_volumes', 'volumes'],
    ['famfs_csi_pool_log_entries_used', 'logEntriesUsed'],
    ['famfs_csi_pool_log_entries_free', 'logEntriesFree'],
  ];
  for (const [name] of gauges) assert.equal(types.get(name), 'gauge', name);
  for (const [name, field] of gauges) {
    assert.equal(value(samples, name, { pool: 'p0' }), pool('p0')[field], name);
    assert.equal(find(samples, name).length, 2, name);
  }
  assert.equal(value(samples, 'famfs_csi_pool_volumes', { pool: 'p1' }), 0);
  assert.equal(value(samples, 'famfs_csi_pool_free_bytes', { pool: 'p1' }), 246 * 1024 * 1024);

  // Health gauges.
  assert.equal(types.get('famfs_csi_memory_errors'), 'gauge');
  assert.equal(value(samples, 'famfs_csi_memory_errors', { pool: 'p0', kind: 'uncorrectable', source: 'ras' }), 2);
  assert.equal(value(samples, 'famfs_csi_memory_errors', { pool: 'p1', kind: 'poison', source: 'badblocks' }), 1);
  assert.equal(types.get('famfs_csi_volumes_abnormal'), 'gauge');
  assert.equal(value(samples, 'famfs_csi_volumes_abnormal', { pool: 'p0' }), 1);

  // RPC histogram: buckets from 100 µs to 60 s.
  assert.equal(types.get('famfs_csi_rpc_duration_seconds'), 'histogram');
  const ok = { service: 'Controller', method: 'CreateVolume', code: 'OK' };
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_count', ok), 2);
  assert.ok(Math.abs(value(samples, 'famfs_csi_rpc_duration_seconds_sum', ok)! - 0.006) < 1e-9);
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_count', { ...ok, code: 'INVALID_ARGUMENT' }), 1);
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_bucket', { ...ok, code: 'INVALID_ARGUMENT', le: '0.0001' }), 1);
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_bucket', { ...ok, le: '0.001' }), 0);
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_bucket', { ...ok, le: '0.005' }), 2);
  const les = find(samples, 'famfs_csi_rpc_duration_seconds_bucket', ok).map((s) => (s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)));
  assert.equal(Math.min(...les), 0.0001);
  assert.ok(les.includes(60));
  assert.equal(Math.max(...les), Infinity);

  // Allocation histogram.
  assert.equal(types.get('famfs_csi_allocation_duration_seconds'), 'histogram');
  assert.equal(value(samples, 'famfs_csi_allocation_duration_seconds_count', { pool: 'p0' }), 2);
  assert.equal(value(samples, 'famfs_csi_allocation_duration_seconds_bucket', { pool: 'p0', le: '0.00025' }), 1);
  assert.equal(value(samples, 'famfs_csi_allocation_duration_seconds_bucket', { pool: 'p0', le: '10' }), 1);
  assert.equal(value(samples, 'famfs_csi_allocation_duration_seconds_bucket', { pool: 'p0', le: '20' }), 2);
  assert.ok(find(samples, 'famfs_csi_allocation_duration_seconds_bucket', { pool: 'p0', le: '60' }).length === 1);

  // Collect errors start at 0; default process metrics carry the prefix.
  assert.equal(types.get('famfs_csi_metrics_collect_errors_total'), 'counter');
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'pools' }), 0);
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'health' }), 0);
  assert.ok(types.has('famfs_csi_process_cpu_seconds_total'));
  assert.ok(types.has('famfs_csi_nodejs_heap_size_used_bytes'));
  assert.ok(![...types.keys()].some((n) => !n.startsWith('famfs_csi_')), 'every family is prefixed');

  // Default labels on every series.
  for (const s of samples) {
    assert.equal(s.labels.component, 'controller', `${s.name} has component`);
    assert.equal(s.labels.node, 'worker-1', `${s.name} has node`);
  }
});

test('pools and errors that vanished disappear at the next scrape; sources are read once per scrape', async (t) => {
  const metrics = new Metrics('node');
  const server = await serve(t, metrics);
  let pools = [pool('p0'), pool('p1')];
  let errors = [{ pool: 'p1', kind: 'poison', source: 'badblocks', count: 3 }];
  let poolCalls = 0;
  let healthCalls = 0;
  metrics.setPoolSource(() => {
    poolCalls++;
    return pools;
  });
  metrics.setHealthSource(() => {
    healthCalls++;
    return { errors, abnormal: [{ pool: 'p1', count: 2 }] };
  });

  let { samples } = await scrape(server);
  assert.equal(poolCalls, 1);
  assert.equal(healthCalls, 1);
  assert.equal(find(samples, 'famfs_csi_pool_size_bytes').length, 2);
  assert.equal(value(samples, 'famfs_csi_memory_errors', { pool: 'p1' }), 3);
  assert.equal(samples[0]!.labels.component, 'node');

  pools = [pool('p0', { volumes: 9 })];
  errors = [];
  ({ samples } = await scrape(server));
  assert.equal(poolCalls, 2);
  assert.equal(healthCalls, 2);
  for (const name of ['famfs_csi_pool_size_bytes', 'famfs_csi_pool_volumes', 'famfs_csi_pool_log_entries_free']) {
    assert.deepEqual(
      find(samples, name).map((s) => s.labels.pool),
      ['p0'],
      name,
    );
  }
  assert.equal(value(samples, 'famfs_csi_pool_volumes', { pool: 'p0' }), 9);
  assert.equal(find(samples, 'famfs_csi_memory_errors').length, 0);
  assert.equal(value(samples, 'famfs_csi_volumes_abnormal', { pool: 'p1' }), 2);

  // text() gives the same as the server.
  const text = await metrics.text();
  assert.match(text, /^famfs_csi_pool_volumes\{pool="p0",component="node"\} 9$/m);
});

test('a throwing or invalid source does not break the scrape and is counted', async (t) => {
  const metrics = new Metrics('controller');
  const server = await serve(t, metrics);
  metrics.observeRpc('Identity', 'Probe', 'OK', 0.001);
  metrics.setPoolSource(() => {
    throw new Error('pool table locked');
  });
  metrics.setHealthSource(() => ({ errors: [{ pool: 'p0', kind: 'ce', source: 'ras', count: 1 }], abnormal: [] }));

  let { samples } = await scrape(server);
  assert.equal(find(samples, 'famfs_csi_pool_size_bytes').length, 0);
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'pools' }), 1, 'counted once per scrape, in this scrape');
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'health' }), 0);
  assert.equal(value(samples, 'famfs_csi_memory_errors', { pool: 'p0', kind: 'ce', source: 'ras' }), 1, 'other families still served');
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_count', { method: 'Probe' }), 1);

  metrics.setHealthSource(() => {
    throw new TypeError('boom');
  });
  ({ samples } = await scrape(server));
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'pools' }), 2);
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'health' }), 1);
  assert.equal(find(samples, 'famfs_csi_memory_errors').length, 0);
  assert.equal(find(samples, 'famfs_csi_volumes_abnormal').length, 0);

  // Garbage: not an array / a bad entry. Good entries stay, the bad one is counted.
  metrics.setPoolSource(() => [pool('ok'), { ...pool('bad'), freeBytes: Number.NaN }, null as unknown as PoolMetrics]);
  metrics.setHealthSource(() => 'nonsense' as unknown as { errors: []; abnormal: [] });
  ({ samples } = await scrape(server));
  assert.deepEqual(
    find(samples, 'famfs_csi_pool_free_bytes').map((s) => s.labels.pool),
    ['ok'],
  );
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'pools' }), 3);
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'health' }), 2);

  // Recovery.
  metrics.setPoolSource(() => [pool('p0')]);
  metrics.setHealthSource(() => ({ errors: [], abnormal: [] }));
  ({ samples } = await scrape(server));
  assert.equal(value(samples, 'famfs_csi_pool_size_bytes', { pool: 'p0' }), pool('p0').sizeBytes);
  assert.equal(value(samples, 'famfs_csi_metrics_collect_errors_total', { source: 'pools' }), 3);
});

test('observations with non-finite durations are ignored, negative ones clamp to 0', async () => {
  const metrics = new Metrics('node');
  metrics.observeRpc('Node', 'NodePublishVolume', 'OK', Number.NaN);
  metrics.observeAllocation('p0', Infinity);
  metrics.observeRpc('Node', 'NodePublishVolume', 'OK', -1);
  const { samples } = parse(await metrics.text());
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_count', { method: 'NodePublishVolume' }), 1);
  assert.equal(value(samples, 'famfs_csi_rpc_duration_seconds_sum', { method: 'NodePublishVolume' }), 0);
  assert.equal(find(samples, 'famfs_csi_allocation_duration_seconds_count').length, 0);
});

test('several Metrics in one process use their own registries', async () => {
  const a = new Metrics('controller');
  const b = new Metrics('node', { node: 'n1' });
  a.observeRpc('Controller', 'DeleteVolume', 'OK', 0.01);
  const sb = parse(await b.text()).samples;
  assert.equal(find(sb, 'famfs_csi_rpc_duration_seconds_count').length, 0);
  const sa = parse(await a.text()).samples;
  assert.equal(value(sa, 'famfs_csi_rpc_duration_seconds_count', { method: 'DeleteVolume' }), 1);
  assert.notEqual(a.registry, b.registry);
});

test('/healthz answers ok, other paths and methods 404, bad requests do not crash the server', async (t) => {
  const metrics = new Metrics('node');
  const server = await serve(t, metrics);
  const base = `http://127.0.0.1:${server.port}`;

  let res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok');

  for (const path of ['/', '/metricsx', '/metrics/extra', '/favicon.ico', '/%zz']) {
    res = await fetch(`${base}${path}`);
    assert.equal(res.status, 404, path);
    await res.text();
  }
  res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 404);
  await res.text();

  // A query string is fine; HEAD has no body.
  res = await fetch(`${base}/metrics?debug=1`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /famfs_csi_rpc_duration_seconds/);
  res = await fetch(`${base}/metrics`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '');

  // Malformed HTTP on a raw socket gets 400 (or a closed socket), and the server lives on.
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = connect(server.port, '127.0.0.1', () => sock.write('GARBAGE \x00\x01 nonsense\r\n\r\n'));
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
  });
  assert.ok(reply === '' || /^HTTP\/1\.1 400/.test(reply), reply);
  res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  await res.text();
});

test('a scrape that fails is a 500, not a crash', async (t) => {
  const metrics = new Metrics('node');
  const server = await serve(t, metrics);
  metrics.text = () => Promise.reject(new Error('registry broken'));
  const res = await fetch(server.url);
  assert.equal(res.status, 500);
  await res.text();
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
});

test('close() stops the server and is idempotent', async () => {
  const metrics = new Metrics('node');
  const server = await startMetricsServer('127.0.0.1:0', metrics, logger);
  const res = await fetch(server.url); // leaves a keep-alive connection open
  assert.equal(res.status, 200);
  await res.text();
  await server.close();
  await server.close();
  await assert.rejects(fetch(server.url));
});

test('listen addresses: accepted forms', () => {
  assert.deepEqual(parseListenAddress(':9810'), { host: undefined, port: 9810 });
  assert.deepEqual(parseListenAddress('0.0.0.0:9810'), { host: '0.0.0.0', port: 9810 });
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:9810'), { host: '::1', port: 9810 });
  assert.deepEqual(parseListenAddress('[::]:65535'), { host: '::', port: 65535 });
  assert.deepEqual(parseListenAddress('localhost:8080'), { host: 'localhost', port: 8080 });
  assert.deepEqual(parseListenAddress('metrics.example-1.local:1'), { host: 'metrics.example-1.local', port: 1 });
});

test('listen addresses: bad ones are rejected with an error naming the value', async () => {
  for (const bad of ['', '9810', ':', ':abc', ':65536', ':99999999', ':-1', '1.2.3.4', '::1:9810', '[::1]', '[::1:9810', '[1.2.3.4]:80', '[zz]:80', 'a b:80', 'host_name:80', 'http://x:80', '127.0.0.1:80/metrics', ':9810 x']) {
    assert.throws(() => parseListenAddress(bad), (e: Error) => e.message.includes(JSON.stringify(bad)), bad);
    await assert.rejects(startMetricsServer(bad, new Metrics('node'), logger), (e: Error) => e.message.includes(JSON.stringify(bad)), bad);
  }
});

test('a port in use is an error naming the address', async (t) => {
  const metrics = new Metrics('node');
  const server = await serve(t, metrics);
  const address = `127.0.0.1:${server.port}`;
  await assert.rejects(startMetricsServer(address, metrics, logger), (e: Error) => e.message.includes(JSON.stringify(address)) && /EADDRINUSE/.test(e.message));
});

test('a wildcard address serves on every interface and reports a loopback url', async (t) => {
  const metrics = new Metrics('node');
  const server = await startMetricsServer(':0', metrics, logger);
  t.after(() => server.close());
  assert.match(server.url, /^http:\/\/(127\.0\.0\.1|\[::1\]):\d+\/metrics$/);
  const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  assert.equal(res.status, 200);
  await res.text();
});

test('the listening line is logged with the url', async (t) => {
  const lines: { message: string; url?: string }[] = [];
  const record = (message: string, meta: { url?: string } = {}) => {
    lines.push({ message, ...meta });
  };
  const recording = { info: record, warn: record, error: record, debug: record } as unknown as Logger;
  const server = await startMetricsServer('127.0.0.1:0', new Metrics('node'), recording);
  t.after(() => server.close());
  assert.ok(
    lines.some((l) => l.url === server.url && /listening/.test(l.message)),
    JSON.stringify(lines),
  );
});

/** Calls one wrapped unary handler the way grpc-js does. */
function call(impl: grpc.UntypedServiceImplementation, method: string, request: Record<string, unknown>): Promise<{ err: grpc.ServiceError | null; res: unknown }> {
  return new Promise((resolve) => {
    const fn = impl[method] as unknown as (c: { request: Record<string, unknown> }, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;
    fn({ request }, (err, res) => resolve({ err, res }));
  });
}

test('rpc wrapper: every call is observed by service, method and status code', async () => {
  const metrics = new Metrics('controller');
  const observed: string[] = [];
  const impl = serviceImplementation(
    'Controller',
    {
      CreateVolume: {
        handler: async (req: { name?: string }) => {
          if (!req.name) throw invalidArgument('name is required');
          return { volume: { volume_id: `p0:${req.name}` } };
        },
        lockKey: (req: { name?: string }) => (req.name ? `name:${req.name}` : undefined),
      },
      ControllerGetCapabilities: { handler: async () => ({ capabilities: [] }) },
      Broken: {
        handler: () => {
          throw new Error('synchronous bug');
        },
      },
    },
    { logger, locks: new KeyedLocks(1000), metrics, observe: (m, c) => observed.push(`${m}:${c}`) },
  );

  assert.equal((await call(impl, 'CreateVolume', { name: 'v1' })).err, null);
  assert.equal((await call(impl, 'CreateVolume', { name: 'v2' })).err, null);
  const bad = await call(impl, 'CreateVolume', {});
  assert.equal(bad.err?.code, 3);
  assert.equal((await call(impl, 'ControllerGetCapabilities', {})).err, null);
  const broken = await call(impl, 'Broken', {});
  assert.equal(broken.err?.code, 13);
  assert.deepEqual(observed, ['CreateVolume:OK', 'CreateVolume:OK', 'CreateVolume:INVALID_ARGUMENT', 'ControllerGetCapabilities:OK', 'Broken:INTERNAL']);

  const { samples } = parse(await metrics.text());
  const n = (method: string, code: string) => value(samples, 'famfs_csi_rpc_duration_seconds_count', { service: 'Controller', method, code });
  assert.equal(n('CreateVolume', 'OK'), 2);
  assert.equal(n('CreateVolume', 'INVALID_ARGUMENT'), 1);
  assert.equal(n('ControllerGetCapabilities', 'OK'), 1);
  assert.equal(n('Broken', 'INTERNAL'), 1);
  const sum = value(samples, 'famfs_csi_rpc_duration_seconds_sum', { service: 'Controller', method: 'CreateVolume', code: 'OK' })!;
  assert.ok(sum > 0 && sum < 5, `sum ${sum}`);
});

test('rpc wrapper: a throwing metrics hook never keeps the reply from being sent', async () => {
  const metrics = new Metrics('node');
  metrics.observeRpc = () => {
    throw new Error('metrics broken');
  };
  const impl = serviceImplementation('Node', { NodeGetInfo: { handler: async () => ({ node_id: 'n1' }) } }, { logger, locks: new KeyedLocks(1000), metrics });
  const { err, res } = await call(impl, 'NodeGetInfo', {});
  assert.equal(err, null);
  assert.deepEqual(res, { node_id: 'n1' });
});

test('rpc wrapper: without metrics nothing changes', async () => {
  const impl = serviceImplementation('Identity', { Probe: { handler: async () => ({}) } }, { logger, locks: new KeyedLocks(1000) });
  assert.equal((await call(impl, 'Probe', {})).err, null);
});
