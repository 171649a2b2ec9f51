/**
 * The famfs kernel log source (src/famfs/health/kmsg.ts): record and line parsing on samples in
 * the kernel's format, the reader tailing a file, the per-pool error source, and the real
 * /dev/kmsg when this host lets us read and write it.
 */
import { after, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KmsgErrorSource } from '../../src/famfs/health/kmsg.js';
import { KmsgReader } from '../../src/famfs/health/kmsgReader.js';
import { parseFamfsKernelLine, parseKmsgRecord, unescapeKmsg } from '../../src/famfs/health/kmsgRecord.js';
import { bootTimeMs, processStartSinceBootMs, statStartTicks } from '../../src/famfs/health/procTimes.js';

const dir = mkdtempSync(join(tmpdir(), 'famfs-csi-kmsg-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A record as the kernel writes it: prefix (facility*8+level), seq, usec since boot, flags. */
function rec(seq: number, tsUsec: number, message: string, level = 3, more: string[] = []): string {
  return [`${level},${seq},${tsUsec},-;${message}`, ...more.map((m) => ` ${m}`)].join('\n') + '\n';
}

/** A fresh log file with `text` and a reader on it, closed when the test ends. */
function logFile(t: TestContext, text = '', problems: string[] = []): { path: string; reader: KmsgReader } {
  const path = join(dir, `kmsg-${++files}`);
  writeFileSync(path, text);
  const reader = new KmsgReader({ path, onProblem: (m) => problems.push(m) });
  t.after(() => reader.close());
  return { path, reader };
}

const DAXDEV_ERR = 'famfs_set_daxdev_err: memory error on daxdev dax0.0 (0)';

describe('parseKmsgRecord', () => {
  test('a famfs pr_err record', () => {
    assert.deepEqual(parseKmsgRecord(`3,1234,5678901234,-;${DAXDEV_ERR}`), { level: 3, facility: 0, seq: 1234, tsUsec: 5678901234, message: DAXDEV_ERR, fields: {} });
  });

  test('facility and level come from the prefix; continuation lines and header fields become fields', () => {
    const r = parseKmsgRecord('30,7,100,-,caller=T42;systemd[1]: started\n SUBSYSTEM=acpi\n DEVICE=+acpi:LNXCPU:00\n');
    assert.deepEqual(r, { level: 6, facility: 3, seq: 7, tsUsec: 100, message: 'systemd[1]: started', fields: { caller: 'T42', SUBSYSTEM: 'acpi', DEVICE: '+acpi:LNXCPU:00' } });
  });

  test('\\xNN escapes are decoded, UTF-8 included; a lone backslash stays', () => {
    assert.equal(parseKmsgRecord('6,1,2,-;tab\\x09end \\x5cx41 caf\\xc3\\xa9')!.message, 'tab\tend \\x41 café');
    assert.equal(unescapeKmsg('a\\xZZ\\'), 'a\\xZZ\\');
    assert.equal(parseKmsgRecord('6,1,2,-;x\n KEY=a\\x0ab')!.fields.KEY, 'a\nb');
  });

  test('old-style continuation flags and an empty message are records', () => {
    assert.equal(parseKmsgRecord('4,9,10,c;part one')!.seq, 9);
    assert.equal(parseKmsgRecord('4,10,11,+;')!.message, '');
  });

  test('garbage is null, never an exception', () => {
    for (const bad of [
      '',
      '\n',
      'hello world',
      ';no header',
      '3,1234;short header',
      '3,x,5,-;not a number',
      '-3,1,5,-;negative',
      '3,1,5,zz;bad flags',
      '3,1,5.5,-;fraction',
      ' 3,1,5,-;leading space',
      '3,99999999999999999999,5,-;seq past 2^53',
      '3,1,18446744073709551615,-;timestamp past 2^53',
      '3,1,2,-;two records\n4,2,3,-;glued',
      '[    1.234567] famfs_set_daxdev_err: memory error on daxdev dax0.0 (0)',
    ]) {
      assert.equal(parseKmsgRecord(bad), null, JSON.stringify(bad));
    }
  });

  test('the largest exact numbers are kept', () => {
    const r = parseKmsgRecord(`191,${Number.MAX_SAFE_INTEGER},9007199254740991,-;x`)!;
    assert.deepEqual([r.facility, r.level, r.seq, r.tsUsec], [23, 7, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
  });
});

describe('parseFamfsKernelLine', () => {
  test('the famfs lines', () => {
    assert.deepEqual(parseFamfsKernelLine(DAXDEV_ERR), { kind: 'daxdev-error', daxdev: 'dax0.0', index: 0 });
    assert.deepEqual(parseFamfsKernelLine('famfs_set_daxdev_err: memory error on daxdev /dev/dax12.3 (7)'), { kind: 'daxdev-error', daxdev: '/dev/dax12.3', index: 7 });
    assert.deepEqual(parseFamfsKernelLine('famfs_set_daxdev_err: memory err on unrecognized daxdev'), { kind: 'unrecognized-daxdev' });
    assert.deepEqual(parseFamfsKernelLine('memory err on unrecognized daxdev'), { kind: 'unrecognized-daxdev' });
    assert.deepEqual(parseFamfsKernelLine('famfs_dax_notify_failure: memory error on unrecognized daxdev'), { kind: 'unrecognized-daxdev' });
    assert.deepEqual(parseFamfsKernelLine('famfs_fileofs_to_daxofs: daxdev=0 error'), { kind: 'access-error', function: 'famfs_fileofs_to_daxofs', index: 0 });
    assert.deepEqual(parseFamfsKernelLine('famfs_interleave_fileofs_to_daxofs: daxdev=1 error'), { kind: 'access-error', function: 'famfs_interleave_fileofs_to_daxofs', index: 1 });
    assert.deepEqual(parseFamfsKernelLine('famfs_file_bad: i_size overwritten from 2097152 to 4096'), { kind: 'file-bad', from: 2097152, to: 4096 });
  });

  test('module prefixes and surrounding blanks are tolerated', () => {
    assert.deepEqual(parseFamfsKernelLine(`famfs: ${DAXDEV_ERR}`), { kind: 'daxdev-error', daxdev: 'dax0.0', index: 0 });
    assert.deepEqual(parseFamfsKernelLine(`fuse: famfs: ${DAXDEV_ERR}\n`), { kind: 'daxdev-error', daxdev: 'dax0.0', index: 0 });
    assert.deepEqual(parseFamfsKernelLine('[famfs] famfs_fileofs_to_daxofs: daxdev=0 error'), { kind: 'access-error', function: 'famfs_fileofs_to_daxofs', index: 0 });
    assert.deepEqual(parseFamfsKernelLine('  famfs: famfs_file_bad: i_size overwritten from -1 to 0 '), { kind: 'file-bad', from: -1, to: 0 });
  });

  test('a daxdev name with spaces or parentheses', () => {
    assert.deepEqual(parseFamfsKernelLine('famfs_set_daxdev_err: memory error on daxdev my dev (x) (3)'), { kind: 'daxdev-error', daxdev: 'my dev (x)', index: 3 });
    assert.deepEqual(parseFamfsKernelLine('famfs_set_daxdev_err: memory error on daxdev (null) (0)'), { kind: 'daxdev-error', daxdev: '(null)', index: 0 });
  });

  test('other lines are null', () => {
    for (const line of [
      '',
      'usb 1-1: new high-speed USB device number 2 using xhci_hcd',
      'EXT4-fs (vda): mounted filesystem r/w with ordered data mode. Quota mode: none.',
      'Memory failure: 0x2080000: recovery action for dax page: Recovered',
      'famfs_fileofs_to_daxofs: daxdev=0 invalid',
      'famfs_fileofs_to_daxofs: err_out',
      'famfs_set_daxdev_err: memory error on daxdev dax0.0',
      'famfs_set_daxdev_err: memory error on daxdev dax0.0 (99999999999999999999)',
      'famfs_fileofs_to_daxofs: daxdev=0 error and more',
      'famfs_file_bad: i_size overwritten from a to b',
      'famfs_file_bad: i_size overwritten from 99999999999999999999 to 0',
      'some text famfs_set_daxdev_err: memory error on daxdev dax0.0 (0)',
    ]) {
      assert.equal(parseFamfsKernelLine(line), null, line);
    }
  });
});

describe('times', () => {
  test('statStartTicks takes field 22, after the last ")" of comm', () => {
    const tail = 'S 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 863151 3133440 412 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    assert.equal(statStartTicks(`1234 (cat) ${tail}`), 863151);
    assert.equal(statStartTicks(`1234 (a b) c) d) ${tail}`), 863151);
    assert.equal(statStartTicks(`1234 ()) ${tail}`), 863151);
    assert.equal(statStartTicks('1234 (cat) S 1 2'), undefined);
    assert.equal(statStartTicks('no parentheses'), undefined);
    assert.equal(statStartTicks(''), undefined);
  });

  test('processStartSinceBootMs of this process lies between boot and now', () => {
    const start = processStartSinceBootMs(process.pid);
    assert.ok(start !== undefined && start >= 0);
    const uptimeMs = Date.now() - bootTimeMs();
    assert.ok(start <= uptimeMs + 1000, `started ${start} ms after boot, but the uptime is ${uptimeMs} ms`);
    assert.ok(uptimeMs - start < 3_600_000, 'this test process started within the hour');
  });

  test('processStartSinceBootMs of a process that is not there, or of a comm with ") " in it', () => {
    assert.equal(processStartSinceBootMs(0x7ffffffe), undefined);
    const proc = join(dir, 'proc');
    const tail = 'S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0';
    mkdirSync(join(proc, '42'), { recursive: true });
    writeFileSync(join(proc, '42', 'stat'), `42 (evil) 1 2 3) ${tail}\n`);
    assert.equal(processStartSinceBootMs(42, proc), 2500);
    writeFileSync(join(proc, 'uptime'), '12.50 40.00\n');
    const boot = bootTimeMs(proc);
    assert.ok(Math.abs(Date.now() - 12_500 - boot) < 1000);
  });
});

describe('KmsgReader on a file', () => {
  test('keeps the famfs lines among noise, garbage and empty lines', (t) => {
    const text = [
      rec(1, 1_000_000, 'Linux version 6.18.0 (builder@host)', 5),
      rec(2, 1_100_000, 'usb 1-1: new high-speed USB device number 2 using xhci_hcd', 6, ['SUBSYSTEM=usb', 'DEVICE=c189:1']),
      'garbage line\n',
      '\n',
      rec(3, 2_000_000, DAXDEV_ERR, 3, ['SUBSYSTEM=dax']),
      rec(4, 2_100_000, 'famfs_fileofs_to_daxofs: daxdev=0 error'),
      '3,5,2200000\n',
      rec(6, 2_300_000, 'EXT4-fs (vda): mounted filesystem', 6),
      rec(7, 2_400_000, 'famfs_file_bad: i_size overwritten from 4096 to 0', 4),
      rec(8, 2_500_000, 'memory err on unrecognized daxdev'),
    ].join('');
    const { reader } = logFile(t, text);
    assert.equal(reader.available, true);
    const fresh = reader.poll();
    assert.deepEqual(fresh.map((e) => [e.seq, e.event.kind]), [[3, 'daxdev-error'], [4, 'access-error'], [7, 'file-bad'], [8, 'unrecognized-daxdev']]);
    assert.equal(fresh[0]!.line, `3,3,2000000,-;${DAXDEV_ERR}`);
    assert.equal(fresh[0]!.tsUsec, 2_000_000);
    assert.equal(fresh[0]!.level, 3);
    assert.deepEqual(reader.stats, { records: 7, famfsEvents: 4, garbage: 2, overwritten: 0 });
    assert.deepEqual(reader.poll(), [], 'nothing new');
    assert.equal(reader.events().length, 4);
  });

  test('follows appends, a partial last line waiting for the rest', (t) => {
    const { path, reader } = logFile(t);
    assert.deepEqual(reader.poll(), []);
    const line = rec(10, 5_000_000, DAXDEV_ERR, 3, ['SUBSYSTEM=dax']);
    appendFileSync(path, line.slice(0, 20));
    assert.deepEqual(reader.poll(), []);
    appendFileSync(path, line.slice(20, line.indexOf('\n')));
    assert.deepEqual(reader.poll(), [], 'the line has no end yet');
    appendFileSync(path, line.slice(line.indexOf('\n')) + rec(11, 5_100_000, 'famfs_fileofs_to_daxofs: daxdev=0 err'));
    assert.deepEqual(reader.poll().map((e) => e.seq), [10]);
    appendFileSync(path, 'or\n');
    assert.deepEqual(reader.poll(), [], '"famfs_fileofs_to_daxofs: daxdev=0 err" was a complete record, not famfs');
    appendFileSync(path, rec(12, 5_200_000, 'famfs_fileofs_to_daxofs: daxdev=0 error'));
    assert.deepEqual(reader.poll().map((e) => e.seq), [12]);
  });

  test('a record seen twice (the file rewritten) counts once; a shorter file is read again', (t) => {
    const { path, reader } = logFile(t, rec(1, 10, DAXDEV_ERR) + rec(2, 20, 'noise'));
    assert.equal(reader.poll().length, 1);
    truncateSync(path, 0);
    writeFileSync(path, rec(1, 10, DAXDEV_ERR));
    assert.deepEqual(reader.poll(), []);
    appendFileSync(path, rec(3, 30, DAXDEV_ERR));
    assert.deepEqual(reader.poll().map((e) => e.seq), [3]);
  });

  test('memory stays bounded: the first and the latest events per daxdev, a cap on daxdevs', (t) => {
    let text = '';
    for (let i = 1; i <= 100; i++) text += rec(i, i * 1000, DAXDEV_ERR);
    for (let i = 101; i <= 200; i++) text += rec(i, i * 1000, `famfs_set_daxdev_err: memory error on daxdev dax${i}.0 (0)`);
    const path = join(dir, `kmsg-${++files}`);
    writeFileSync(path, text);
    const reader = new KmsgReader({ path, maxPerKey: 4, maxKeys: 10 });
    t.after(() => reader.close());
    assert.equal(reader.poll().length, 200);
    const events = reader.events();
    assert.equal(events.length, 10, 'ten daxdevs, one line each: dax0.0 was the least recently seen and went');
    assert.deepEqual(events.map((e) => e.seq), [191, 192, 193, 194, 195, 196, 197, 198, 199, 200]);
    const again = new KmsgReader({ path, maxPerKey: 4, maxKeys: 200 });
    t.after(() => again.close());
    again.poll();
    const dax00 = again.events().filter((e) => e.event.kind === 'daxdev-error' && e.event.daxdev === 'dax0.0');
    assert.deepEqual(dax00.map((e) => e.seq), [1, 98, 99, 100], 'the first line and the latest three');
  });

  test('a path that cannot be opened: available is false, the problem is told once, poll does not throw', (t) => {
    const problems: string[] = [];
    const reader = new KmsgReader({ path: join(dir, 'missing', 'kmsg'), onProblem: (m) => problems.push(m) });
    t.after(() => reader.close());
    assert.equal(reader.available, false);
    assert.deepEqual(reader.poll(), []);
    assert.deepEqual(reader.poll(), []);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /cannot open .*missing\/kmsg \(ENOENT\)/);
  });

  test('a directory: the read fails, the problem is told once', (t) => {
    const problems: string[] = [];
    const reader = new KmsgReader({ path: dir, onProblem: (m) => problems.push(m) });
    t.after(() => reader.close());
    assert.deepEqual(reader.poll(), []);
    assert.deepEqual(reader.poll(), []);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /EISDIR/);
  });

  test('start() polls on a timer, stop() ends it', async (t) => {
    const { path, reader } = logFile(t);
    reader.start(10);
    t.after(() => reader.stop());
    appendFileSync(path, rec(5, 50, DAXDEV_ERR));
    const deadline = Date.now() + 2000;
    while (reader.events().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(reader.events().length, 1);
    reader.stop();
    appendFileSync(path, rec(6, 60, DAXDEV_ERR));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(reader.events().length, 1, 'no polls after stop()');
    reader.close();
    assert.equal(reader.available, false);
    assert.deepEqual(reader.poll(), [], 'closed for good');
  });
});

describe('KmsgErrorSource', () => {
  const BOOT = Date.parse('2026-01-01T00:00:00.000Z');

  function source(t: TestContext, text: string, opts: { device?: string; since?: () => number | undefined; onlyPoolOnHost?: () => boolean } = {}) {
    const { path, reader } = logFile(t, text);
    return { path, reader, src: new KmsgErrorSource({ reader, device: opts.device ?? '/dev/dax0.0', since: opts.since, onlyPoolOnHost: opts.onlyPoolOnHost, bootTimeMs: () => BOOT }) };
  }

  test('a daxdev error on the pool device is a whole-device memory error', (t) => {
    const { src } = source(t, rec(1, 1000, 'noise') + rec(1234, 5_678_901_234, DAXDEV_ERR));
    assert.equal(src.name, 'kmsg');
    assert.deepEqual(src.poll(), [
      {
        device: '/dev/dax0.0',
        range: null,
        kind: 'memory-error',
        source: 'kmsg',
        firstSeen: new Date(BOOT + 5_678_901).toISOString(),
        detail: `${DAXDEV_ERR} [kernel seq 1234]`,
      },
    ]);
  });

  test('another daxdev, or an index-only line when other pools share the host, is not this pool', (t) => {
    const other = rec(1, 1000, 'famfs_set_daxdev_err: memory error on daxdev dax1.0 (0)') + rec(2, 2000, 'famfs_fileofs_to_daxofs: daxdev=0 error');
    assert.deepEqual(source(t, other).src.poll(), []);
    assert.deepEqual(source(t, other, { onlyPoolOnHost: () => false }).src.poll(), []);
    const only = source(t, other, { onlyPoolOnHost: () => true }).src.poll();
    assert.equal(only.length, 1);
    assert.match(only[0]!.detail!, /daxdev=0 error \[kernel seq 2\]/);
    assert.deepEqual(source(t, rec(3, 3000, 'famfs_interleave_fileofs_to_daxofs: daxdev=1 error'), { onlyPoolOnHost: () => true }).src.poll(), [], 'index 1 is not a pool device');
    assert.deepEqual(source(t, rec(4, 4000, 'famfs_file_bad: i_size overwritten from 1 to 2') + rec(5, 5000, 'memory err on unrecognized daxdev'), { onlyPoolOnHost: () => true }).src.poll(), []);
  });

  test('the kernel name matches by basename, the configured path or its realpath', (t) => {
    assert.equal(source(t, rec(1, 1000, 'famfs_set_daxdev_err: memory error on daxdev /dev/dax0.0 (0)')).src.poll().length, 1);
    const link = join(dir, 'pool-link');
    symlinkSync('/dev/dax7.1', link);
    t.after(() => rmSync(link));
    assert.equal(source(t, rec(1, 1000, 'famfs_set_daxdev_err: memory error on daxdev dax7.1 (0)'), { device: link }).src.poll().length, 0, 'a dangling link has no realpath');
    const target = join(dir, 'dax7.1');
    writeFileSync(target, '');
    t.after(() => rmSync(target));
    const linked = source(t, rec(1, 1000, 'famfs_set_daxdev_err: memory error on daxdev dax7.1 (0)'), { device: join(dir, 'pool-link2') });
    symlinkSync(target, join(dir, 'pool-link2'));
    t.after(() => rmSync(join(dir, 'pool-link2')));
    const errors = linked.src.poll();
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.device, join(dir, 'pool-link2'), 'the device as configured');
  });

  test('since: lines from before this mount no longer apply; firstSeen is the earliest line that does', (t) => {
    let since: number | undefined = 10_000;
    const { path, src } = source(t, rec(1, 5_000_000, DAXDEV_ERR), { since: () => since });
    assert.deepEqual(src.poll(), [], 'logged at 5 s, the mount started at 10 s');
    appendFileSync(path, rec(2, 12_000_000, DAXDEV_ERR));
    const first = src.poll();
    assert.equal(first.length, 1);
    assert.equal(first[0]!.firstSeen, new Date(BOOT + 12_000).toISOString());
    appendFileSync(path, rec(3, 13_000_000, DAXDEV_ERR));
    assert.deepEqual(src.poll(), first, 'a later line of the same error changes nothing');
    since = undefined;
    assert.equal(src.poll()[0]!.firstSeen, new Date(BOOT + 5_000).toISOString(), 'no known mount start: every line counts');
    since = 20_000;
    assert.deepEqual(src.poll(), [], 'remounted at 20 s');
  });

  test('firstSeen is computed once from the boot time', (t) => {
    const { reader } = logFile(t, rec(1, 1_500_000, DAXDEV_ERR));
    let boot = BOOT;
    const src = new KmsgErrorSource({ reader, device: '/dev/dax0.0', bootTimeMs: () => boot++ });
    const a = src.poll();
    const b = src.poll();
    assert.deepEqual(a, b);
    assert.equal(a[0]!.firstSeen, '2026-01-01T00:00:01.500Z');
  });

  test('node names the host that saw the error', (t) => {
    const { reader } = logFile(t, rec(1, 1000, DAXDEV_ERR));
    const src = new KmsgErrorSource({ reader, device: '/dev/dax0.0', node: 'worker-1', bootTimeMs: () => BOOT });
    assert.equal(src.poll()[0]!.node, 'worker-1');
  });
});

/** Why /dev/kmsg cannot be used for the live test, or undefined when it can. */
function kmsgUnusable(): string | undefined {
  for (const [flags, what] of [
    [constants.O_RDONLY | constants.O_NONBLOCK, 'read'],
    [constants.O_WRONLY, 'written'],
  ] as const) {
    try {
      closeSync(openSync('/dev/kmsg', flags));
    } catch (e) {
      return `/dev/kmsg cannot be ${what} here (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
  }
  return undefined;
}

test('the real /dev/kmsg: a famfs line written to the kernel log is read back as a memory error', async (t) => {
  const why = kmsgUnusable();
  if (why) {
    if (process.env.CI === 'true') assert.fail(`${why}; CI must be able to read the kernel log`);
    t.skip(why);
    return;
  }
  const name = `famfs-csi-test-${randomBytes(6).toString('hex')}`;
  const problems: string[] = [];
  const reader = new KmsgReader({ onProblem: (m) => problems.push(m) });
  t.after(() => reader.close());
  assert.equal(reader.available, true);
  const message = `famfs_set_daxdev_err: memory error on daxdev ${name} (0)`;
  writeFileSync('/dev/kmsg', `<3>${message}\n`);
  const deadline = Date.now() + 5000;
  let seen;
  while (!seen && Date.now() < deadline) {
    seen = reader.poll().find((e) => e.message === message);
    if (!seen) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(seen, `the line written to /dev/kmsg was not read back in 5 s (${JSON.stringify(reader.stats)}; problems: ${problems.join('; ')})`);
  assert.deepEqual(seen.event, { kind: 'daxdev-error', daxdev: name, index: 0 });
  assert.equal(seen.level, 3);
  assert.deepEqual(problems, []);

  const src = new KmsgErrorSource({ reader, device: `/dev/${name}`, since: () => processStartSinceBootMs(process.pid) });
  const errors = src.poll();
  assert.equal(errors.length, 1, 'the line was logged after this process started');
  assert.equal(errors[0]!.device, `/dev/${name}`);
  assert.equal(errors[0]!.range, null);
  assert.equal(errors[0]!.detail, `${message} [kernel seq ${seen.seq}]`);
  const lag = Math.abs(Date.now() - Date.parse(errors[0]!.firstSeen));
  assert.ok(lag < 60_000, `firstSeen ${errors[0]!.firstSeen} is ${lag} ms from now`);
  assert.deepEqual(new KmsgErrorSource({ reader, device: `/dev/${name}-other` }).poll(), []);
});
