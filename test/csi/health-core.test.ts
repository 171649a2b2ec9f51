/**
 * The CSI side of memory errors: a volume's condition (src/csi/health/condition.ts), node reports
 * (src/csi/health/reports.ts), the poll loop (src/csi/health/monitor.ts), Events on transitions
 * (src/csi/health/transitions.ts) and the report channel setting (src/csi/health/setup.ts).
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fmap } from '../../src/famfs/fmap.js';
import { errorKey } from '../../src/famfs/health/memoryError.js';
import type { ErrorSource, MemoryError, MemoryErrorSource } from '../../src/famfs/health/memoryError.js';
import { HEALTHY_MESSAGE, volumeHealth } from '../../src/csi/health/condition.js';
import type { VolumeHealth } from '../../src/csi/health/condition.js';
import { DirectoryReportChannel, REPORT_EXPIRY_MS, REPORT_REFRESH_MS, decodeReport, encodeReport, isFresh } from '../../src/csi/health/reports.js';
import type { NodeHealthReport } from '../../src/csi/health/reports.js';
import { HealthMonitor } from '../../src/csi/health/monitor.js';
import { withDeadline } from '../../src/csi/health/deadline.js';
import { REASON_ABNORMAL, REASON_RECOVERED, TARGET_WAIT_MS, VolumeEventEmitter } from '../../src/csi/health/transitions.js';
import { eventRecorder, parseReportsSpec, reportChannel } from '../../src/csi/health/setup.js';
import { LogEventRecorder } from '../../src/csi/kube/events.js';
import type { EventRecorder, EventSpec, EventTarget } from '../../src/csi/kube/events.js';
import { createLogger } from '../../src/csi/logger.js';

const T0 = '2026-01-02T03:04:05.000Z';
const T1 = '2026-01-02T03:04:06.000Z';
const MiB = 1024 * 1024;

function err(over: Partial<MemoryError> = {}): MemoryError {
  return { device: '/dev/dax0.0', range: { offset: 0x1000, length: 0x1000 }, kind: 'poison', firstSeen: T0, source: 'emulated', ...over };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'famfs-csi-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// condition.ts
// ---------------------------------------------------------------------------------------------

describe('volumeHealth', () => {
  // A 4 MiB volume at device offset 10 MiB.
  const fmap: Fmap = { kind: 'simple', extents: [{ devIndex: 0, offset: 10 * MiB, length: 4 * MiB }] };
  const size = 4 * MiB;

  test('healthy: no errors, or none under the volume', () => {
    const none = volumeHealth(fmap, size, []);
    assert.deepEqual(none, { abnormal: false, message: HEALTHY_MESSAGE, key: '', damage: [] });
    const elsewhere = volumeHealth(fmap, size, [err({ range: { offset: 0, length: 10 * MiB } }), err({ range: { offset: 14 * MiB, length: 4096 } })]);
    assert.equal(elsewhere.abnormal, false);
    assert.equal(elsewhere.message, 'volume is healthy: no memory errors under it');
    assert.equal(elsewhere.key, '');
  });

  test('the message names device, hex byte range, kind, source, node, first seen, detail and the volume bytes', () => {
    const e = err({ range: { offset: 10 * MiB + 0x1000, length: 0x1000 }, source: 'badblocks', node: 'worker-1', detail: '/sys/devices/region0/badblocks' });
    const h = volumeHealth(fmap, size, [e]);
    assert.equal(h.abnormal, true);
    assert.equal(
      h.message,
      `dax memory error under this volume: poison on /dev/dax0.0 bytes 0xa01000-0xa01fff (4096 bytes), reported by the pmem badblocks list on node worker-1, first seen ${T0} (/sys/devices/region0/badblocks); affects volume bytes 0x1000-0x1fff`,
    );
    assert.deepEqual(h.damage, [{ error: e, fileRanges: [{ offset: 0x1000, length: 0x1000 }] }]);
  });

  test('a whole-device error: the whole device, the whole volume', () => {
    const e = err({ range: null, kind: 'offline', source: 'probe', node: 'worker-2' });
    const h = volumeHealth(fmap, size, [e]);
    assert.equal(h.message, `dax memory error under this volume: offline on /dev/dax0.0 the whole device, reported by the device probe on node worker-2, first seen ${T0}; affects the whole volume`);
  });

  test('a ranged error covering all of the volume also reads "the whole volume"', () => {
    const h = volumeHealth(fmap, size, [err({ range: { offset: 9 * MiB, length: 6 * MiB } })]);
    assert.match(h.message, /bytes 0x900000-0xefffff \(6291456 bytes\), reported by the emulated poison list, first seen .*; affects the whole volume$/);
  });

  test('more than 3 volume ranges: the first 3 and how many more', () => {
    // chunk 1 MiB over two strips; an error on all of strip 0 hits volume MiB 0, 2, 4, 6.
    const striped: Fmap = {
      kind: 'interleaved',
      extents: [
        {
          chunkSize: MiB,
          strips: [
            { devIndex: 0, offset: 32 * MiB, length: 4 * MiB },
            { devIndex: 0, offset: 64 * MiB, length: 4 * MiB },
          ],
        },
      ],
    };
    const h = volumeHealth(striped, 8 * MiB, [err({ range: { offset: 32 * MiB, length: 4 * MiB } })]);
    assert.match(h.message, /; affects volume bytes 0x0-0xfffff, 0x200000-0x2fffff, 0x400000-0x4fffff and 1 more ranges$/);
    assert.equal(h.damage[0]!.fileRanges.length, 4);
  });

  test('more than 4 errors: 4 listed, then "and N more errors"', () => {
    const errors = Array.from({ length: 6 }, (_, i) => err({ range: { offset: 10 * MiB + i * 8192, length: 4096 } }));
    const h = volumeHealth(fmap, size, errors);
    assert.equal(h.message.split(' | ').length, 4);
    assert.match(h.message, /; and 2 more errors$/);
    for (let i = 0; i < 4; i++) assert.ok(h.message.includes(`affects volume bytes 0x${(i * 8192).toString(16)}-`), `error ${i} listed`);
    assert.ok(!h.message.includes(`0x${(4 * 8192).toString(16)}-`), 'the fifth error is not listed');
    assert.equal(h.damage.length, 6);
    assert.equal(h.key.split('|').length, 6, 'the key covers every error, listed or not');

    const four = volumeHealth(fmap, size, errors.slice(0, 4));
    assert.equal(four.message.split(' | ').length, 4);
    assert.doesNotMatch(four.message, /more errors/);
  });

  test('key: stable, independent of the order, blind to errors off the volume', () => {
    const a = err({ range: { offset: 10 * MiB, length: 1 }, source: 'badblocks', node: 'n1' });
    const b = err({ range: null, source: 'kmsg', kind: 'memory-error', node: 'n2' });
    const c = err({ range: { offset: 11 * MiB, length: 1 }, firstSeen: T1 });
    const off = err({ range: { offset: 0, length: 4096 } });
    const k = volumeHealth(fmap, size, [a, b, c]).key;
    assert.equal(k, [`${errorKey(a)}@n1`, `${errorKey(b)}@n2`, `${errorKey(c)}@`].sort().join('|'));
    assert.equal(volumeHealth(fmap, size, [a, b, c]).key, k);
    assert.equal(volumeHealth(fmap, size, [c, b, a]).key, k);
    assert.equal(volumeHealth(fmap, size, [b, off, c, a]).key, k);
  });

  test('key: changes with the set of errors and with the node that saw one', () => {
    const a = err({ range: { offset: 10 * MiB, length: 1 }, source: 'badblocks', node: 'n1' });
    const k = volumeHealth(fmap, size, [a]).key;
    assert.notEqual(volumeHealth(fmap, size, [{ ...a, node: 'n2' }]).key, k);
    assert.notEqual(volumeHealth(fmap, size, [{ ...a, firstSeen: T1 }]).key, k);
    assert.notEqual(volumeHealth(fmap, size, [a, err({ range: null })]).key, k);
    // The same error seen by two nodes is two entries.
    assert.equal(volumeHealth(fmap, size, [a, { ...a, node: 'n2' }]).key.split('|').length, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// reports.ts
// ---------------------------------------------------------------------------------------------

function report(over: Partial<NodeHealthReport> = {}): NodeHealthReport {
  return {
    node: 'worker-1',
    updatedAt: T0,
    pools: {
      pool0: [err({ node: 'worker-1', detail: 'injected on x' }), err({ range: null, kind: 'offline', source: 'probe' })],
      pool1: [],
      'pool-2': [err({ device: '/dev/dax1.0', kind: 'unreadable', source: 'kmsg', range: { offset: 2 ** 40, length: 2 ** 21 } })],
    },
    ...over,
  };
}

describe('reports: encode / decode', () => {
  test('round trip', () => {
    const r = report();
    assert.deepEqual(decodeReport(encodeReport(r)), r);
    const empty: NodeHealthReport = { node: 'n', updatedAt: T0, pools: {} };
    assert.deepEqual(decodeReport(encodeReport(empty)), empty);
  });

  test('unknown fields are dropped; a detail or node that is not a string is dropped', () => {
    const text = JSON.stringify({ node: 'n', updatedAt: T0, extra: 1, pools: { p: [{ ...err(), detail: 5, node: null, other: 'x' }] } });
    assert.deepEqual(decodeReport(text), { node: 'n', updatedAt: T0, pools: { p: [err()] } });
  });

  const good = () => JSON.parse(encodeReport(report())) as Record<string, unknown> & { pools: Record<string, Record<string, unknown>[]> };
  const withError = (change: (e: Record<string, unknown>) => void): string => {
    const r = good();
    change(r.pools.pool0![0]!);
    return JSON.stringify(r);
  };
  const bad: [string, string][] = [
    ['not JSON', '{"node":'],
    ['empty', ''],
    ['null', 'null'],
    ['a string', '"report"'],
    ['an array', '[]'],
    ['node missing', JSON.stringify({ ...good(), node: undefined })],
    ['node empty', JSON.stringify({ ...good(), node: '' })],
    ['node a number', JSON.stringify({ ...good(), node: 7 })],
    ['updatedAt missing', JSON.stringify({ ...good(), updatedAt: undefined })],
    ['updatedAt not a time', JSON.stringify({ ...good(), updatedAt: 'soon' })],
    ['updatedAt a number', JSON.stringify({ ...good(), updatedAt: Date.now() })],
    ['pools missing', JSON.stringify({ ...good(), pools: undefined })],
    ['pools null', JSON.stringify({ ...good(), pools: null })],
    ['pools a string', JSON.stringify({ ...good(), pools: 'pool0' })],
    ['a pool not a list', JSON.stringify({ ...good(), pools: { pool0: {} } })],
    ['a pool null', JSON.stringify({ ...good(), pools: { pool0: null } })],
    ['an error null', JSON.stringify({ ...good(), pools: { pool0: [null] } })],
    ['an error a string', JSON.stringify({ ...good(), pools: { pool0: ['poison'] } })],
    ['device missing', withError((e) => delete e.device)],
    ['device a number', withError((e) => (e.device = 0))],
    ['firstSeen missing', withError((e) => delete e.firstSeen)],
    ['kind unknown', withError((e) => (e.kind = 'fire'))],
    ['kind missing', withError((e) => delete e.kind)],
    ['source unknown', withError((e) => (e.source = 'rumour'))],
    ['source missing', withError((e) => delete e.source)],
    ['range missing', withError((e) => delete e.range)],
    ['range a number', withError((e) => (e.range = 4096))],
    ['range offset negative', withError((e) => (e.range = { offset: -1, length: 1 }))],
    ['range offset fractional', withError((e) => (e.range = { offset: 0.5, length: 1 }))],
    ['range offset a string', withError((e) => (e.range = { offset: '0', length: 1 }))],
    ['range length zero', withError((e) => (e.range = { offset: 0, length: 0 }))],
    ['range length missing', withError((e) => (e.range = { offset: 0 }))],
    ['range length too large', withError((e) => (e.range = { offset: 0, length: 2 ** 60 }))],
  ];
  for (const [what, text] of bad) {
    test(`malformed: ${what} → undefined`, () => {
      assert.equal(decodeReport(text), undefined);
    });
  }

  test('one bad error spoils the whole report (not just its pool)', () => {
    const r = good();
    r.pools['pool-2']![0]!.kind = 'bogus';
    assert.equal(decodeReport(JSON.stringify(r)), undefined);
  });
});

describe('reports: isFresh', () => {
  test('fresh up to REPORT_EXPIRY_MS old, inclusive', () => {
    assert.equal(REPORT_EXPIRY_MS, 3 * REPORT_REFRESH_MS);
    const now = Date.parse(T0);
    assert.equal(isFresh(report(), now), true);
    assert.equal(isFresh(report(), now + REPORT_EXPIRY_MS), true);
    assert.equal(isFresh(report(), now + REPORT_EXPIRY_MS + 1), false);
    assert.equal(isFresh(report(), now - 60_000), true, 'a report from a clock ahead of ours is fresh');
    assert.equal(isFresh(report({ updatedAt: new Date().toISOString() })), true);
    assert.equal(isFresh(report({ updatedAt: '2000-01-01T00:00:00.000Z' })), false);
  });
});

describe('DirectoryReportChannel', () => {
  test('publish creates the directory (never its parents); readAll returns what was published', async (t) => {
    const parent = join(tempDir(t), 'a');
    const dir = join(parent, 'health');
    const ch = new DirectoryReportChannel(dir);
    await assert.rejects(ch.publish(report()), /ENOENT/, 'a removed parent is not re-created');
    mkdirSync(parent);
    assert.equal(ch.description, `directory ${dir}`);
    assert.deepEqual(await ch.readAll(), [], 'no directory yet: no reports');
    const r = report();
    await ch.publish(r);
    assert.deepEqual(await ch.readAll(), [r]);
    assert.deepEqual(readdirSync(dir), ['worker-1.json']);
  });

  test('a node that publishes again replaces its report', async (t) => {
    const dir = tempDir(t);
    const ch = new DirectoryReportChannel(dir);
    await ch.publish(report());
    const second = report({ updatedAt: T1, pools: {} });
    await ch.publish(second);
    assert.deepEqual(await ch.readAll(), [second]);
    assert.deepEqual(readdirSync(dir), ['worker-1.json'], 'no temporary file left behind');
  });

  test('odd node names: one file each, inside the directory, with the name kept in the report', async (t) => {
    const dir = tempDir(t);
    const ch = new DirectoryReportChannel(dir);
    const names = ['../../escape', 'node with spaces', 'nœud-ü', 'a/b/c', '.hidden', 'UPPER.case_1-2', '..'];
    for (const node of names) await ch.publish(report({ node }));
    const files = readdirSync(dir).sort();
    assert.equal(files.length, names.length);
    for (const f of files) assert.match(f, /^[A-Za-z0-9._-]+\.json$/);
    assert.ok(files.includes('UPPER.case_1-2.json'));
    assert.ok(files.includes('.._.._escape.json'));
    const got = await ch.readAll();
    assert.deepEqual(got.map((r) => r.node).sort(), [...names].sort());
    // Nothing was written outside the directory.
    assert.deepEqual(readdirSync(join(dir, '..')).filter((n) => n.startsWith('escape')), []);
  });

  test('readAll skips garbage, other files, directories and malformed reports', async (t) => {
    const dir = tempDir(t);
    const ch = new DirectoryReportChannel(dir);
    await ch.publish(report({ node: 'good' }));
    writeFileSync(join(dir, 'garbage.json'), '\x00\x01 not json');
    writeFileSync(join(dir, 'empty.json'), '');
    writeFileSync(join(dir, 'bad-node.json'), JSON.stringify({ ...report(), node: '' }));
    writeFileSync(join(dir, 'notes.txt'), encodeReport(report({ node: 'txt' })));
    writeFileSync(join(dir, 'half.json.123.tmp'), encodeReport(report({ node: 'tmp' })));
    mkdirSync(join(dir, 'subdir.json'));
    const got = await ch.readAll();
    assert.deepEqual(
      got.map((r) => r.node),
      ['good'],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// monitor.ts
// ---------------------------------------------------------------------------------------------

class FakeSource implements ErrorSource {
  polls = 0;
  closed = 0;
  failure: Error | undefined;

  constructor(
    readonly name: MemoryErrorSource,
    public errors: MemoryError[] = [],
  ) {}

  poll(): MemoryError[] {
    this.polls++;
    if (this.failure) throw this.failure;
    return this.errors;
  }

  close(): void {
    this.closed++;
  }
}

function quietLogger() {
  return createLogger({ silent: true });
}

describe('HealthMonitor', () => {
  test('reports a pool only when its set of errors changes; listeners likewise', () => {
    const src = new FakeSource('emulated');
    const m = new HealthMonitor({ pools: [{ pool: 'p0', device: '/d0', sources: [src] }], logger: quietLogger(), node: 'node-a' });
    const heard: [string, MemoryError[]][] = [];
    m.onChange((pool, errors) => heard.push([pool, errors]));

    assert.deepEqual(m.poll(), ['p0'], 'the first poll sets the baseline');
    assert.deepEqual(heard, [['p0', []]]);
    assert.deepEqual(m.poll(), []);
    assert.equal(heard.length, 1);

    const a = err({ range: { offset: 8192, length: 1 } });
    const b = err({ range: { offset: 0, length: 1 } });
    src.errors = [a, b];
    assert.deepEqual(m.poll(), ['p0']);
    assert.deepEqual(heard.at(-1), ['p0', [b, a]], 'sorted');
    assert.deepEqual(m.errors('p0'), [b, a]);

    src.errors = [b, a]; // same set, other order
    assert.deepEqual(m.poll(), []);
    src.errors = [{ ...a }, { ...b }]; // same content, new objects
    assert.deepEqual(m.poll(), []);
    assert.equal(heard.length, 2);

    src.errors = [a, { ...b, firstSeen: T1 }];
    assert.deepEqual(m.poll(), ['p0']);
    src.errors = [a, { ...b, firstSeen: T1, detail: 'now with detail' }];
    assert.deepEqual(m.poll(), ['p0'], 'any change of content counts');
    src.errors = [];
    assert.deepEqual(m.poll(), ['p0']);
    assert.deepEqual(heard.at(-1), ['p0', []]);
    assert.equal(heard.length, 5);
    assert.equal(src.polls, 8);
  });

  test('several pools: only the changed one is reported; all() and errors()', () => {
    const s0 = new FakeSource('emulated');
    const s1 = new FakeSource('probe');
    const m = new HealthMonitor({
      pools: [
        { pool: 'p0', device: '/d0', sources: [s0] },
        { pool: 'p1', device: '/d1', sources: [s1] },
      ],
      logger: quietLogger(),
      node: 'node-a',
    });
    assert.deepEqual(m.pools, ['p0', 'p1']);
    assert.deepEqual(m.all(), { p0: [], p1: [] }, 'before any poll');
    m.poll();
    s1.errors = [err({ device: '/d1', range: null, source: 'probe', kind: 'offline' })];
    assert.deepEqual(m.poll(), ['p1']);
    assert.deepEqual(m.all(), { p0: [], p1: [{ ...s1.errors[0]!, node: 'node-a' }] });
    assert.deepEqual(m.errors('nope'), []);
  });

  test('errors only this host sees are stamped with the node; the shared emulated list is not', () => {
    const emulated = new FakeSource('emulated', [err()]);
    const kmsg = new FakeSource('kmsg', [err({ range: null, source: 'kmsg', kind: 'memory-error' })]);
    const probe = new FakeSource('probe', [err({ range: null, source: 'probe', kind: 'unreadable', node: 'someone-else' })]);
    const badblocks = new FakeSource('badblocks', [err({ source: 'badblocks', range: { offset: 0x2000, length: 512 } })]);
    const m = new HealthMonitor({ pools: [{ pool: 'p0', device: '/dev/dax0.0', sources: [emulated, kmsg, probe, badblocks] }], logger: quietLogger(), node: 'node-a' });
    m.poll();
    const got = m.errors('p0');
    assert.equal(got.length, 4);
    for (const e of got) {
      if (e.source === 'emulated') assert.equal('node' in e, false);
      else assert.equal(e.node, 'node-a', `${e.source} error`);
    }
    assert.equal(probe.errors[0]!.node, 'someone-else', "the source's objects are not changed");
    assert.equal('node' in kmsg.errors[0]!, false);
  });

  test('a source that throws is logged and keeps its last answer (a failure is not a recovery); the others still count', (t) => {
    const logger = quietLogger();
    const warn = t.mock.method(logger, 'warn');
    const good = new FakeSource('emulated', [err()]);
    const broken = new FakeSource('badblocks', [err({ source: 'badblocks' })]);
    broken.failure = new Error('sysfs went away');
    const m = new HealthMonitor({ pools: [{ pool: 'p0', device: '/d0', sources: [broken, good] }], logger, node: 'node-a' });
    assert.deepEqual(m.poll(), ['p0']);
    assert.deepEqual(m.errors('p0'), [err()]);
    assert.equal(warn.mock.callCount(), 1);
    assert.deepEqual(warn.mock.calls[0]!.arguments, ['memory error source failed; keeping its last answer', { pool: 'p0', source: 'badblocks', error: 'sysfs went away' }]);
    assert.equal(good.polls, 1, 'the next source was still polled');

    // Recovered: its errors appear.
    broken.failure = undefined;
    assert.deepEqual(m.poll(), ['p0']);
    assert.equal(m.errors('p0').length, 2);

    // Failing again: its last answer stays, nothing changes.
    broken.failure = new Error('sysfs went away again');
    assert.deepEqual(m.poll(), []);
    assert.equal(m.errors('p0').length, 2);
  });

  test('logs errors when they appear and when they clear', (t) => {
    const logger = quietLogger();
    const error = t.mock.method(logger, 'error');
    const info = t.mock.method(logger, 'info');
    const src = new FakeSource('emulated');
    const m = new HealthMonitor({ pools: [{ pool: 'p0', device: '/d0', sources: [src] }], logger, node: 'n' });
    m.poll();
    assert.equal(error.mock.callCount() + info.mock.callCount(), 0, 'a healthy start logs nothing');
    src.errors = [err()];
    m.poll();
    assert.equal(error.mock.callCount(), 1);
    assert.deepEqual(error.mock.calls[0]!.arguments, ['memory errors on pool', { pool: 'p0', device: '/d0', errors: [err()] }]);
    m.poll();
    assert.equal(error.mock.callCount(), 1);
    src.errors = [];
    m.poll();
    assert.equal(info.mock.callCount(), 1);
    assert.deepEqual(info.mock.calls[0]!.arguments, ['memory errors on pool cleared', { pool: 'p0', device: '/d0' }]);
  });

  test('start polls at once and then on the timer; stop ends polling and closes the sources', async () => {
    const a = new FakeSource('emulated');
    const b = new FakeSource('probe');
    const m = new HealthMonitor({ pools: [{ pool: 'p0', device: '/d0', sources: [a, b] }], logger: quietLogger(), node: 'n', intervalMs: 10 });
    assert.equal(m.intervalMs, 10);
    m.start();
    assert.equal(a.polls, 1, 'first poll on start');
    const deadline = Date.now() + 5000;
    while (a.polls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(a.polls >= 3, `polled ${a.polls} times in 5 s at a 10 ms period`);
    m.stop();
    const polls = a.polls;
    assert.equal(a.closed, 1);
    assert.equal(b.closed, 1);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(a.polls, polls, 'no polls after stop');
    assert.equal(new HealthMonitor({ pools: [], logger: quietLogger(), node: 'n' }).intervalMs, 2000);
  });
});

// ---------------------------------------------------------------------------------------------
// transitions.ts
// ---------------------------------------------------------------------------------------------

interface Recorded {
  target: EventTarget;
  ev: EventSpec;
  result: 'created' | 'exists' | 'failed';
}

/** Records in memory; names events by target, reason and key like the real recorders; can fail or block. */
class FakeRecorder implements EventRecorder {
  readonly calls: Recorded[] = [];
  private readonly names = new Set<string>();
  failures = 0;
  gate: Promise<void> | undefined;

  async record(target: EventTarget, ev: EventSpec): Promise<'created' | 'exists'> {
    if (this.gate) await this.gate;
    if (this.failures > 0) {
      this.failures--;
      this.calls.push({ target, ev: { ...ev }, result: 'failed' });
      throw new Error('the API server is down');
    }
    const name = `${target.uid}|${ev.reason}|${ev.key}`;
    const result = this.names.has(name) ? 'exists' : 'created';
    this.names.add(name);
    this.calls.push({ target, ev: { ...ev }, result });
    return result;
  }

  get created(): EventSpec[] {
    return this.calls.filter((c) => c.result === 'created').map((c) => c.ev);
  }
}

function pvc(name: string): EventTarget {
  return { kind: 'PersistentVolumeClaim', namespace: 'ns', name, uid: `uid-${name}` };
}

function abnormal(key: string, message = `errors ${key}`): VolumeHealth {
  return { abnormal: true, message, key, damage: [] };
}

function emitter(recorder: EventRecorder, targetsOf: (id: string) => Promise<EventTarget[] | undefined> = async (id) => [pvc(id)]) {
  return new VolumeEventEmitter(recorder, targetsOf, quietLogger());
}

describe('VolumeEventEmitter', () => {
  test('objects not known yet (no PV bound) are looked up again; the event is recorded once they appear, and given up after TARGET_WAIT_MS', async (t) => {
    const rec = new FakeRecorder();
    let known = false;
    const em = emitter(rec, async (id) => (known ? [pvc(id)] : undefined));
    await em.update(new Map([['v', abnormal('K1')]]));
    await em.update(new Map([['v', abnormal('K1')]]));
    assert.equal(rec.calls.length, 0);
    assert.equal(em.backlog, 1);
    known = true;
    await em.update(new Map([['v', abnormal('K1')]]));
    assert.deepEqual(rec.created.map((e) => [e.type, e.key]), [['Warning', 'K1']]);
    assert.equal(em.backlog, 0);

    known = false;
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    await em.update(new Map());
    assert.equal(em.backlog, 1);
    t.mock.timers.tick(TARGET_WAIT_MS + 1);
    await em.update(new Map());
    assert.equal(em.backlog, 0, 'given up');
    assert.equal(rec.calls.length, 1);
  });

  test('one Warning per transition, not per update', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec);
    const now = new Map([['vol-1', abnormal('K1', 'dax memory error under this volume: ...')]]);
    for (let i = 0; i < 4; i++) await em.update(now);
    assert.equal(rec.calls.length, 1);
    assert.deepEqual(rec.calls[0], { target: pvc('vol-1'), ev: { type: 'Warning', reason: REASON_ABNORMAL, message: 'dax memory error under this volume: ...', key: 'K1' }, result: 'created' });
    assert.equal(REASON_ABNORMAL, 'DaxMemoryError');
    assert.equal(em.backlog, 0);
    // A new map object with the same content is still no transition.
    await em.update(new Map([['vol-1', abnormal('K1', 'another message, same key')]]));
    assert.equal(rec.calls.length, 1);
  });

  test('a changed key is a new Warning', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec);
    await em.update(new Map([['v', abnormal('K1')]]));
    await em.update(new Map([['v', abnormal('K2')]]));
    await em.update(new Map([['v', abnormal('K2')]]));
    assert.deepEqual(
      rec.created.map((e) => [e.type, e.key]),
      [
        ['Warning', 'K1'],
        ['Warning', 'K2'],
      ],
    );
  });

  test('recovery is a Normal event keyed <old key>/recovered, once', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec);
    await em.update(new Map([['v', abnormal('K1')]]));
    await em.update(new Map());
    await em.update(new Map());
    assert.equal(rec.calls.length, 2);
    assert.deepEqual(rec.calls[1]!.ev, {
      type: 'Normal',
      reason: REASON_RECOVERED,
      message: 'the memory under volume v is healthy again (the errors reported earlier were cleared)',
      key: 'K1/recovered',
    });
    assert.equal(REASON_RECOVERED, 'DaxMemoryRecovered');
    // Abnormal again: a Warning again.
    await em.update(new Map([['v', abnormal('K3')]]));
    assert.deepEqual(rec.calls.at(-1)!.ev.key, 'K3');
  });

  test('healthy volumes never make events', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec);
    await em.update(new Map());
    await em.update(new Map());
    assert.equal(rec.calls.length, 0);
  });

  test('volumes are independent', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec);
    await em.update(new Map([['a', abnormal('A')]]));
    await em.update(
      new Map([
        ['a', abnormal('A')],
        ['b', abnormal('B')],
      ]),
    );
    await em.update(new Map([['b', abnormal('B')]]));
    assert.deepEqual(
      rec.calls.map((c) => [c.target.name, c.ev.type, c.ev.key]),
      [
        ['a', 'Warning', 'A'],
        ['b', 'Warning', 'B'],
        ['a', 'Normal', 'A/recovered'],
      ],
    );
  });

  test('a recorder that fails is retried on the next update, then succeeds exactly once', async () => {
    const rec = new FakeRecorder();
    rec.failures = 2;
    const em = emitter(rec);
    const now = new Map([['v', abnormal('K1')]]);
    await em.update(now);
    assert.equal(em.backlog, 1);
    await em.update(now);
    assert.equal(em.backlog, 1);
    await em.update(now);
    assert.equal(em.backlog, 0);
    await em.update(now);
    await em.update(now);
    assert.deepEqual(
      rec.calls.map((c) => c.result),
      ['failed', 'failed', 'created'],
    );
    assert.equal(rec.created.length, 1);
  });

  test('a failing targetsOf is retried too', async () => {
    const rec = new FakeRecorder();
    let fail = true;
    const em = emitter(rec, async (id) => {
      if (fail) throw new Error('cannot list PVs');
      return [pvc(id)];
    });
    await em.update(new Map([['v', abnormal('K')]]));
    assert.equal(em.backlog, 1);
    assert.equal(rec.calls.length, 0);
    fail = false;
    await em.update(new Map([['v', abnormal('K')]]));
    assert.equal(em.backlog, 0);
    assert.equal(rec.created.length, 1);
  });

  test('several targets: each gets the event; a partial failure retries all, the recorded ones report "exists"', async () => {
    const rec = new FakeRecorder();
    const targets = [pvc('claim'), { kind: 'Pod' as const, namespace: 'ns', name: 'pod-1', uid: 'uid-pod-1' }, { kind: 'Pod' as const, namespace: 'ns', name: 'pod-2', uid: 'uid-pod-2' }];
    const em = emitter(rec, async () => targets);
    await em.update(new Map([['v', abnormal('K')]]));
    assert.deepEqual(
      rec.calls.map((c) => [c.target.name, c.ev.key, c.result]),
      [
        ['claim', 'K', 'created'],
        ['pod-1', 'K', 'created'],
        ['pod-2', 'K', 'created'],
      ],
    );

    const rec2 = new FakeRecorder();
    const em2 = emitter(rec2, async () => targets);
    const flaky = rec2.record.bind(rec2);
    let n = 0;
    rec2.record = async (t, ev) => {
      if (++n === 2) throw new Error('pod-1 failed once');
      return flaky(t, ev);
    };
    await em2.update(new Map([['v', abnormal('K')]]));
    assert.equal(em2.backlog, 1);
    await em2.update(new Map([['v', abnormal('K')]]));
    assert.equal(em2.backlog, 0);
    assert.deepEqual(
      rec2.calls.map((c) => [c.target.name, c.result]),
      [
        ['claim', 'created'],
        ['claim', 'exists'],
        ['pod-1', 'created'],
        ['pod-2', 'created'],
      ],
    );
  });

  test('no targets (no claim for the volume): nothing is recorded and nothing stays pending', async () => {
    const rec = new FakeRecorder();
    const em = emitter(rec, async () => []);
    await em.update(new Map([['v', abnormal('K')]]));
    assert.equal(rec.calls.length, 0);
    assert.equal(em.backlog, 0);
  });

  test('a pending Warning superseded by recovery: only the Normal is recorded', async () => {
    const rec = new FakeRecorder();
    rec.failures = 1;
    const em = emitter(rec);
    await em.update(new Map([['v', abnormal('K1')]]));
    assert.equal(em.backlog, 1);
    rec.failures = 1;
    await em.update(new Map());
    assert.equal(em.backlog, 1, 'still one transition pending: the Normal replaced the Warning');
    await em.update(new Map());
    assert.equal(em.backlog, 0);
    assert.deepEqual(
      rec.created.map((e) => [e.type, e.key]),
      [['Normal', 'K1/recovered']],
    );
  });

  test('a pending Warning superseded by another key: only the new Warning is recorded', async () => {
    const rec = new FakeRecorder();
    rec.failures = 1;
    const em = emitter(rec);
    await em.update(new Map([['v', abnormal('K1')]]));
    await em.update(new Map([['v', abnormal('K2')]]));
    assert.deepEqual(
      rec.calls.map((c) => [c.ev.key, c.result]),
      [
        ['K1', 'failed'],
        ['K2', 'created'],
      ],
    );
    assert.equal(em.backlog, 0);
  });

  test('a transition queued while a round is running is kept and delivered by the next round', async () => {
    const rec = new FakeRecorder();
    let open!: () => void;
    rec.gate = new Promise<void>((r) => (open = r));
    const em = emitter(rec);
    const first = em.update(new Map([['v', abnormal('K1')]]));
    const second = em.update(new Map([['v', abnormal('K2')]])); // while K1 is being recorded
    assert.equal(second, first, 'one round at a time');
    rec.gate = undefined;
    open();
    await first;
    assert.deepEqual(
      rec.created.map((e) => e.key),
      ['K1'],
    );
    assert.equal(em.backlog, 1, 'K2 was queued during the round and is not lost');
    await em.update(new Map([['v', abnormal('K2')]]));
    assert.deepEqual(
      rec.created.map((e) => e.key),
      ['K1', 'K2'],
    );
    assert.equal(em.backlog, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// setup.ts
// ---------------------------------------------------------------------------------------------

describe('parseReportsSpec', () => {
  test('accepted', () => {
    assert.deepEqual(parseReportsSpec('kubernetes'), { kind: 'kubernetes' });
    assert.deepEqual(parseReportsSpec('off'), { kind: 'off' });
    assert.deepEqual(parseReportsSpec('dir:/var/lib/famfs-csi/health'), { kind: 'dir', dir: '/var/lib/famfs-csi/health' });
    assert.deepEqual(parseReportsSpec('dir:/'), { kind: 'dir', dir: '/' });
    assert.deepEqual(parseReportsSpec('dir:/with:colon'), { kind: 'dir', dir: '/with:colon' });
  });

  const rejected: [string, RegExp][] = [
    ['', /health reports: "" must be kubernetes, dir:\/absolute\/path or off/],
    ['dir:', /"dir:" must be kubernetes, dir:\/absolute\/path or off/],
    ['dir', /"dir" must be/],
    ['dir:relative/path', /"dir:relative\/path": the directory must be an absolute path/],
    ['dir:./x', /the directory must be an absolute path/],
    ['Kubernetes', /"Kubernetes" must be/],
    ['OFF', /"OFF" must be/],
    [' off', /" off" must be/],
    ['configmaps', /"configmaps" must be/],
    ['file:/x', /"file:\/x" must be/],
    ['/abs/path', /"\/abs\/path" must be/],
  ];
  for (const [spec, pattern] of rejected) {
    test(`rejected: ${JSON.stringify(spec)}`, () => {
      assert.throws(() => parseReportsSpec(spec), pattern);
    });
  }
});

describe('reportChannel / eventRecorder without Kubernetes', () => {
  test('default: a directory under the state directory; dir: and off as given; kubernetes needs a connection', () => {
    const logger = quietLogger();
    assert.equal(reportChannel({}, undefined, '/state')?.description, 'directory /state/health');
    assert.equal(reportChannel({ reports: 'dir:/elsewhere' }, undefined, '/state')?.description, 'directory /elsewhere');
    assert.equal(reportChannel({ reports: 'off' }, undefined, '/state'), undefined);
    assert.throws(() => reportChannel({ reports: 'kubernetes' }, undefined, '/state'), /"kubernetes" needs a connection to Kubernetes/);
    assert.throws(() => reportChannel({ reports: 'dir:x' }, undefined, '/state'), /absolute path/);
    assert.ok(eventRecorder(undefined, 'famfs-csi-node', 'n1', logger) instanceof LogEventRecorder);
  });
});

describe('withDeadline', () => {
  test('passes a prompt answer through and turns a hung call into an error naming it', async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 'quick'), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error('refused')), 'failing'), /refused/);
    const keepAlive = setTimeout(() => undefined, 1000); // the deadline's own timer does not hold the process
    await assert.rejects(withDeadline(new Promise(() => undefined), 'listing PVs', 20), /listing PVs: no answer within 20 ms/);
    clearTimeout(keepAlive);
  });
});
