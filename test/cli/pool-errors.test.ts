/**
 * `famfs-csi pool inject-error | clear-errors | errors` (src/cli/poolErrors.ts), run as the real
 * CLI against emulated pools: offsets in every accepted form, whole-device errors, kinds, JSON
 * output, file offsets of volumes (simple and interleaved) turned into device ranges, pools
 * looked up in a configuration file, and the usage errors.
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { injectError } from '../../src/famfs/health/poisonList.js';
import { scratchDir, tmpPool } from '../helpers/tmpPool.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MiB = 1024 * 1024;
const ID = '0123456789abcdef0123456789abcdef';
const ID2 = 'fedcba9876543210fedcba9876543210';

interface Range {
  offset: number;
  length: number;
}
interface Entry {
  range: Range | null;
  kind: string;
  firstSeen: string;
  by: string;
}
interface FmapJson {
  kind: 'simple' | 'interleaved';
  extents: ({ offset: number; length: number } & { chunkSize: number; strips: { offset: number; length: number }[] })[];
}

function run(args: string[], env: Record<string, string> = {}) {
  // FAMFS_CSI_CONFIG is cleared unless a test sets it, so a developer's environment cannot leak in.
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, FAMFS_CSI_CONFIG: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, FAMFS_CSI_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs CLI invocations that do not change the pool a few at a time (each start of the CLI takes
 * a second or more on a busy machine) and checks each exits 2 with its message.
 */
async function expectUsageAll(cases: [string[], RegExp, Record<string, string>?][], concurrency = 4): Promise<void> {
  const queue = [...cases];
  const failures: string[] = [];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [args, message, env] = c;
      const r = await runAsync(args, env);
      if (r.code !== 2) failures.push(`famfs-csi ${args.join(' ')} exited ${r.code} (want 2): ${r.stderr}`);
      else if (!message.test(r.stderr)) failures.push(`famfs-csi ${args.join(' ')}: ${JSON.stringify(r.stderr)} does not match ${message}`);
      else if (r.stdout !== '') failures.push(`famfs-csi ${args.join(' ')} printed ${JSON.stringify(r.stdout)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  assert.deepEqual(failures, []);
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = run(args, env);
  assert.equal(r.code, 0, `famfs-csi ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function json<T>(args: string[], env: Record<string, string> = {}): T {
  return JSON.parse(ok([...args, '--json'], env)) as T;
}

function listed(dev: string): Entry[] {
  return json<{ errors: Entry[] }>(['pool', 'errors', dev]).errors;
}

function ranges(entries: Entry[]): (Range | null)[] {
  return entries.map((e) => e.range);
}

/** A formatted emulated pool (tmpPool, 256 MiB unless told), removed after the test. */
async function pool(t: TestContext, size = 256 * MiB): Promise<string> {
  const p = await tmpPool({ size });
  t.after(() => p.cleanup());
  return p.path;
}

/** Creates the volume file csi/<id>/data and returns its fmap. */
function volume(dev: string, id: string, args: string[]): FmapJson {
  ok(['pool', 'mkdir', dev, `csi/${id}`, '-p']);
  return json<{ fmap: FmapJson }>(['pool', 'creat', dev, `csi/${id}/data`, ...args]).fmap;
}

function configFile(t: TestContext, dev: string, extra = ''): string {
  const s = scratchDir('famfs-csi-config-');
  t.after(s.cleanup);
  const file = join(s.dir, 'config.yaml');
  writeFileSync(file, `pools: [{name: pool0, device: ${dev}}${extra}]\n`);
  return file;
}

function expectUsage(args: string[], message: RegExp, env: Record<string, string> = {}): void {
  const r = run(args, env);
  assert.equal(r.code, 2, `famfs-csi ${args.join(' ')} exited ${r.code} (want 2): ${r.stderr}`);
  assert.match(r.stderr, message, args.join(' '));
  assert.equal(r.stdout, '');
}

describe('pool inject-error: device offsets', () => {
  test('decimal, 0x hex and sizes with units', async (t) => {
    const dev = await pool(t);
    const human = ok(['pool', 'inject-error', dev, '--offset', '4096', '--length', '4096']);
    assert.match(human, new RegExp(`^injected poison on ${dev.replace(/\./g, '\\.')} bytes 0x1000-0x1fff \\(4096 bytes\\) \\(first seen \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\n$`));

    const cases: [string, string, Range][] = [
      ['0x20000', '0x1000', { offset: 0x20000, length: 0x1000 }],
      ['0XA000', '0X200', { offset: 0xa000, length: 0x200 }],
      ['1M', '4K', { offset: MiB, length: 4096 }],
      ['2MiB', '8k', { offset: 2 * MiB, length: 8192 }],
      ['4194304', '1', { offset: 4 * MiB, length: 1 }],
      ['0', '256M', { offset: 0, length: 256 * MiB }],
    ];
    for (const [offset, length, want] of cases) {
      const out = json<{ device: string; list: string; injected: Entry[] }>(['pool', 'inject-error', dev, '--offset', offset, '--length', length]);
      assert.equal(out.device, dev);
      assert.equal(out.list, `${dev}.famfs-errors.json`);
      assert.equal(out.injected.length, 1);
      assert.deepEqual(out.injected[0]!.range, want, `--offset ${offset} --length ${length}`);
      assert.equal(out.injected[0]!.kind, 'poison');
      assert.ok(!Number.isNaN(Date.parse(out.injected[0]!.firstSeen)));
      assert.equal(typeof out.injected[0]!.by, 'string');
    }
    assert.deepEqual(ranges(listed(dev)), [{ offset: 4096, length: 4096 }, ...cases.map((c) => c[2])]);
  });

  test('--whole-device and --kind', async (t) => {
    const dev = await pool(t, 64 * MiB);
    const whole = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--whole-device']).injected;
    assert.deepEqual(
      whole.map((e) => [e.range, e.kind]),
      [[null, 'poison']],
    );
    assert.match(ok(['pool', 'inject-error', dev, '--whole-device', '--kind', 'offline']), /^injected offline on .* the whole device \(first seen /);
    json(['pool', 'inject-error', dev, '--offset', '0', '--length', '4K', '--kind', 'timeout']);
    const poison = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--offset', '0', '--length', '4K', '--kind', 'poison']).injected[0]!;
    // The same range and kind again (written another way) is the same entry, with its first time.
    const again = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--offset', '0x0', '--length', '4096']).injected[0]!;
    assert.deepEqual(again, poison);
    assert.deepEqual(
      listed(dev).map((e) => [e.range, e.kind]),
      [
        [null, 'poison'],
        [null, 'offline'],
        [{ offset: 0, length: 4096 }, 'timeout'],
        [{ offset: 0, length: 4096 }, 'poison'],
      ],
    );
  });

  test('a device that is not an emulated pool, or is missing, fails with status 1', async (t) => {
    const r = run(['pool', 'inject-error', '/dev/null', '--whole-device']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/dev\/null is not an emulated pool \(a regular file\); errors can be injected into emulated pools only/);
    const s = scratchDir();
    t.after(s.cleanup);
    const missing = run(['pool', 'inject-error', join(s.dir, 'missing.dax'), '--whole-device']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot stat .*missing\.dax/);
  });
});

describe('pool inject-error: file offsets (--volume, --file)', () => {
  test('a simple volume: file offsets become device offsets', async (t) => {
    const dev = await pool(t);
    const fmap = volume(dev, ID, ['--size', '4M']);
    assert.equal(fmap.kind, 'simple');
    const base = fmap.extents[0]!.offset;

    const byVolume = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--volume', `pool0:${ID}`, '--offset', '1M', '--length', '4K']).injected;
    assert.deepEqual(ranges(byVolume), [{ offset: base + MiB, length: 4096 }]);
    const byFile = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--file', `/csi/${ID}/data`, '--offset', '0', '--length', '0x1000', '--kind', 'timeout']).injected;
    assert.deepEqual(
      byFile.map((e) => [e.range, e.kind]),
      [[{ offset: base, length: 4096 }, 'timeout']],
    );
    // Up to the last byte of the file.
    const last = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--file', `csi/${ID}/data`, '--offset', String(4 * MiB - 4096), '--length', '4K']).injected;
    assert.deepEqual(ranges(last), [{ offset: base + 4 * MiB - 4096, length: 4096 }]);
    const human = ok(['pool', 'inject-error', dev, '--volume', `pool0:${ID}`, '--offset', '2M', '--length', '1']);
    assert.equal(human.split('\n').filter(Boolean).length, 1);
    assert.match(human, new RegExp(`bytes 0x${(base + 2 * MiB).toString(16)}-0x${(base + 2 * MiB).toString(16)} \\(1 bytes\\)`));
    assert.equal(listed(dev).length, 4);
  });

  test('an interleaved volume: one entry per strip piece', async (t) => {
    const dev = await pool(t, 256 * MiB);
    const fmap = volume(dev, ID2, ['--size', '8M', '--nstrips', '2', '--chunk-size', '2M', '--relax-buckets']);
    assert.equal(fmap.kind, 'interleaved');
    const ie = fmap.extents[0]!;
    assert.equal(ie.chunkSize, 2 * MiB);
    assert.equal(ie.strips.length, 2);
    const [s0, s1] = ie.strips.map((s) => s.offset) as [number, number];

    // File [1M, 5M): the second half of chunk 0 (strip 0), chunk 1 (strip 1), the first half of chunk 2 (strip 0, second row).
    const out = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--volume', `pool0:${ID2}`, '--offset', '1M', '--length', '4M']).injected;
    const want = [
      { offset: s0 + MiB, length: MiB },
      { offset: s1, length: 2 * MiB },
      { offset: s0 + 2 * MiB, length: MiB },
    ];
    assert.deepEqual(ranges(out), want);
    assert.deepEqual(ranges(listed(dev)), want);
    const human = ok(['pool', 'inject-error', dev, '--file', `csi/${ID2}/data`, '--offset', '6M', '--length', '2M', '--kind', 'timeout']);
    assert.equal(human.trim().split('\n').length, 1, 'chunk 3 lies on one strip');
    assert.match(human, new RegExp(`^injected timeout on .* bytes 0x${(s1 + 2 * MiB).toString(16)}-0x${(s1 + 4 * MiB - 1).toString(16)} \\(2097152 bytes\\)`));

    // The whole file: four chunks, four pieces.
    const all = json<{ injected: Entry[] }>(['pool', 'inject-error', dev, '--volume', `pool0:${ID2}`, '--offset', '0', '--length', '8M', '--kind', 'offline']).injected;
    assert.deepEqual(ranges(all), [
      { offset: s0, length: 2 * MiB },
      { offset: s1, length: 2 * MiB },
      { offset: s0 + 2 * MiB, length: 2 * MiB },
      { offset: s1 + 2 * MiB, length: 2 * MiB },
    ]);
  });

  test('the range must lie inside the file; the file must exist', async (t) => {
    const dev = await pool(t, 64 * MiB);
    volume(dev, ID, ['--size', '4M']);
    expectUsage(['pool', 'inject-error', dev, '--volume', `pool0:${ID}`, '--offset', '4M', '--length', '1'], /--offset\/--length: 4194304\+1 ends past the end of the file \(4194304 bytes\)/);
    expectUsage(['pool', 'inject-error', dev, '--file', `csi/${ID}/data`, '--offset', '0x3ff000', '--length', '8K'], /--offset\/--length: 4190208\+8192 ends past the end of the file \(4194304 bytes\)/);

    const missing = run(['pool', 'inject-error', dev, '--volume', `pool0:${ID2}`, '--offset', '0', '--length', '1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`volume pool0:${ID2} is not a file in the pool on `));
    const dir = run(['pool', 'inject-error', dev, '--file', 'csi', '--offset', '0', '--length', '1']);
    assert.equal(dir.code, 1);
    assert.match(dir.stderr, /csi is not a file in the pool on /);
    assert.deepEqual(listed(dev), []);
  });
});

describe('pool inject-error | errors | clear-errors --pool NAME', () => {
  test('with --config FILE and with FAMFS_CSI_CONFIG', async (t) => {
    const dev = await pool(t, 64 * MiB);
    const fmap = volume(dev, ID, ['--size', '4M']);
    const config = configFile(t, dev, ', {name: pool1, device: /nonexistent/pool1.dax}');

    const out = json<{ device: string; injected: Entry[] }>(['pool', 'inject-error', '--pool', 'pool0', '--config', config, '--offset', '0', '--length', '4K']);
    assert.equal(out.device, dev);
    const viaEnv = json<{ injected: Entry[] }>(['pool', 'inject-error', '--pool', 'pool0', '--volume', `pool0:${ID}`, '--offset', '4K', '--length', '4K'], { FAMFS_CSI_CONFIG: config });
    assert.deepEqual(ranges(viaEnv.injected), [{ offset: fmap.extents[0]!.offset + 4096, length: 4096 }]);
    const short = json<{ injected: Entry[] }>(['pool', 'inject-error', '--pool', 'pool0', '-c', config, '--whole-device', '--kind', 'offline']);
    assert.equal(short.injected[0]!.range, null);

    const list = json<{ device: string; errors: Entry[] }>(['pool', 'errors', '--pool', 'pool0'], { FAMFS_CSI_CONFIG: config });
    assert.equal(list.device, dev);
    assert.equal(list.errors.length, 3);
    assert.match(ok(['pool', 'clear-errors', '--pool', 'pool0', '--config', config]), /^cleared 3 error\(s\) on /);
    assert.deepEqual(listed(dev), []);
  });

  test('usage errors of --pool and --volume', async (t) => {
    const dev = await pool(t, 64 * MiB);
    const config = configFile(t, dev);
    await expectUsageAll([
      [['pool', 'inject-error', '--pool', 'pool0', '--config', config, '--volume', `pool1:${ID}`, '--offset', '0', '--length', '1'], new RegExp(`--volume: "pool1:${ID}" belongs to pool pool1, not pool0`)],
      [['pool', 'inject-error', '--pool', 'pool0', '--whole-device'], /--pool: "pool0" needs a configuration to look it up in \(--config FILE or FAMFS_CSI_CONFIG\)/],
      [['pool', 'errors', '--pool', 'pool0'], /--pool: "pool0" needs a configuration/],
      [['pool', 'clear-errors', '--pool', 'pool0'], /--pool: "pool0" needs a configuration/],
      [['pool', 'inject-error', '--pool', 'nope', '--config', config, '--whole-device'], new RegExp(`--pool: "nope" is not in ${config.replace(/\./g, '\\.')} \\(pools: pool0\\)`)],
      [['pool', 'errors', '--pool', 'nope'], /--pool: "nope" is not in .* \(pools: pool0\)/, { FAMFS_CSI_CONFIG: config }],
      [['pool', 'inject-error', dev, '--pool', 'pool0', '--config', config, '--whole-device'], /pool inject-error: give either <device> or --pool, not both/],
    ]);

    const unreadable = run(['pool', 'errors', '--pool', 'pool0', '--config', join(config, '..', 'missing.yaml')]);
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stderr, /cannot read .*missing\.yaml/);
  });
});

describe('pool inject-error: usage errors exit 2 and name the option and value', () => {
  test('every case', async (t) => {
    const dev = await pool(t, 64 * MiB);
    const ie = ['pool', 'inject-error', dev];
    const cases: [string[], RegExp][] = [
      [[], /inject-error: give either --offset O --length L or --whole-device/],
      [['--whole-device', '--offset', '0', '--length', '4K'], /give either --offset O --length L or --whole-device/],
      [['--whole-device', '--length', '4K'], /give either --offset O --length L or --whole-device/],
      [['--offset', '0'], /inject-error: --offset and --length go together/],
      [['--length', '4K'], /inject-error: --offset and --length go together/],
      [['--offset', '0', '--length', '0'], /--length: must be more than 0 bytes/],
      [['--offset', 'lots', '--length', '1'], /--offset: "lots" is not a size/],
      [['--offset=-1', '--length', '1'], /--offset: "-1" is not a size/],
      [['--offset', '0xZZ', '--length', '1'], /--offset: "0xZZ" is not a size/],
      [['--offset', '1.5', '--length', '1'], /--offset: "1\.5" is not a size/],
      [['--offset', '0', '--length', '4Q'], /--length: "4Q" is not a size/],
      [['--offset', '0', '--length', '1', '--kind', 'memory-error'], /--kind: "memory-error" must be one of poison, timeout, offline/],
      [['--whole-device', '--kind', 'fire'], /--kind: "fire" must be one of poison, timeout, offline/],
      [['--whole-device', '--volume', `pool0:${ID}`], /--whole-device cannot be combined with --volume or --file/],
      [['--volume', `pool0:${ID}`, '--file', `csi/${ID}/data`, '--offset', '0', '--length', '1'], /give --volume or --file, not both/],
      [['--volume', 'pool0:xyz', '--offset', '0', '--length', '1'], /--volume: "pool0:xyz" is not a famfs-csi volume id \(<pool>:<32 hex digits>\)/],
      [['--volume', ID, '--offset', '0', '--length', '1'], new RegExp(`--volume: "${ID}" is not a famfs-csi volume id`)],
      [['--volume', `Bad_Pool:${ID}`, '--offset', '0', '--length', '1'], /--volume: "Bad_Pool:.*" is not a famfs-csi volume id/],
      [['--whole-device', '--bogus'], /bogus/],
    ];
    await expectUsageAll([
      ...cases.map(([args, message]): [string[], RegExp] => [[...ie, ...args], message]),
      [['pool', 'inject-error', '--whole-device'], /pool inject-error: missing <device> or --pool NAME/],
      [['pool', 'clear-errors'], /pool clear-errors: missing <device> or --pool NAME/],
      [['pool', 'errors'], /pool errors: missing <device> or --pool NAME/],
      [['pool', 'clear-errors', dev, '--offset', '0'], /clear-errors: --offset and --length go together/],
      [['pool', 'clear-errors', dev, '--offset', 'x', '--length', '1'], /--offset: "x" is not a size/],
      [['pool', 'errors', dev, '--bogus'], /bogus/],
    ]);
    assert.deepEqual(listed(dev), [], 'no usage error changed the list');
  });

  test('a device range past the end of the device is a usage error naming the options, and changes nothing', async (t) => {
    const dev = await pool(t, 64 * MiB);
    await expectUsageAll([
      [['pool', 'inject-error', dev, '--offset', '64M', '--length', '4K'], /--offset\/--length: 67108864\+4096 ends past the end of .*pool\.dax \(67108864 bytes\)/],
      [['pool', 'inject-error', dev, '--offset', '0x3fff000', '--length', '8K'], /--offset\/--length: 67104768\+8192 ends past the end of .*pool\.dax \(67108864 bytes\)/],
    ]);
    assert.deepEqual(listed(dev), []);
  });

  test(
    'a ranged error on a device that is not an emulated pool says so',
    () => {
      const r = run(['pool', 'inject-error', '/dev/null', '--offset', '0', '--length', '4K']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /\/dev\/null is not an emulated pool/);
    },
  );

  test('--help prints the usage', () => {
    for (const command of ['inject-error', 'clear-errors']) {
      const r = run(['pool', command, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /inject-error \(<device> \| --pool NAME\) \(--offset O --length L \| --whole-device\)/);
      assert.match(r.stdout, /clear-errors \(<device> \| --pool NAME\) \[--offset O --length L\]/);
    }
  });

  test('errors --help prints the usage', () => {
    const r = run(['pool', 'errors', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /errors \(<device> \| --pool NAME\)/);
  });
});

describe('pool clear-errors', () => {
  async function seeded(t: TestContext): Promise<string> {
    // Seeded in-process (the CLI's inject-error is tested above; each CLI start is slow).
    const dev = await pool(t, 64 * MiB);
    injectError(dev, { range: { offset: 0, length: 4096 }, kind: 'poison' });
    injectError(dev, { range: { offset: 8192, length: 4096 }, kind: 'timeout' });
    injectError(dev, { range: { offset: MiB, length: 100 }, kind: 'poison' });
    injectError(dev, { range: null, kind: 'offline' });
    return dev;
  }

  test('by range: the overlapping entries (and whole-device ones) go', async (t) => {
    const dev = await seeded(t);
    const out = json<{ device: string; cleared: Entry[] }>(['pool', 'clear-errors', dev, '--offset', '4K', '--length', '4097']);
    assert.equal(out.device, dev);
    assert.deepEqual(
      out.cleared.map((e) => [e.range, e.kind]),
      [
        [{ offset: 8192, length: 4096 }, 'timeout'],
        [null, 'offline'],
      ],
    );
    assert.deepEqual(ranges(listed(dev)), [
      { offset: 0, length: 4096 },
      { offset: MiB, length: 100 },
    ]);
    assert.equal(ok(['pool', 'clear-errors', dev, '--offset', '0x100063', '--length', '1']), `cleared 1 error(s) on ${dev}\n`);
    assert.equal(ok(['pool', 'clear-errors', dev, '--offset', '4K', '--length', '1M']), `cleared 0 error(s) on ${dev}\n`);
    assert.deepEqual(ranges(listed(dev)), [{ offset: 0, length: 4096 }]);
  });

  test('all', async (t) => {
    const dev = await seeded(t);
    assert.equal(ok(['pool', 'clear-errors', dev]), `cleared 4 error(s) on ${dev}\n`);
    assert.deepEqual(listed(dev), []);
    assert.deepEqual(json<{ cleared: Entry[] }>(['pool', 'clear-errors', dev]).cleared, []);
  });

  test('options clear-errors and errors do not use are refused, not ignored', async (t) => {
    const dev = await pool(t, 64 * MiB);
    injectError(dev, { range: { offset: 0, length: 4096 }, kind: 'poison' });
    await expectUsageAll([
      [['pool', 'clear-errors', dev, '--volume', `pool0:${ID}`, '--offset', '0', '--length', '4K'], /pool clear-errors: --volume does not apply here/],
      [['pool', 'clear-errors', dev, '--file', `csi/${ID}/data`], /pool clear-errors: --file does not apply here/],
      [['pool', 'clear-errors', dev, '--kind', 'timeout'], /pool clear-errors: --kind does not apply here/],
      [['pool', 'clear-errors', dev, '--whole-device'], /pool clear-errors: --whole-device does not apply here/],
      [['pool', 'errors', dev, '--offset', '0', '--length', '4K'], /pool errors: --offset does not apply here/],
      [['pool', 'errors', dev, '--kind', 'poison'], /pool errors: --kind does not apply here/],
    ]);
    assert.equal(listed(dev).length, 1, 'nothing was cleared');
  });

  test('a zero-length range is a usage error and keeps whole-device errors', async (t) => {
    const dev = await pool(t, 64 * MiB);
    injectError(dev, { range: null, kind: 'poison' });
    expectUsage(['pool', 'clear-errors', dev, '--offset', '0', '--length', '0'], /--length: must be more than 0 bytes/);
    assert.equal(listed(dev).length, 1);
  });
});

describe('pool errors', () => {
  test('an empty list', async (t) => {
    const dev = await pool(t, 64 * MiB);
    assert.equal(ok(['pool', 'errors', dev]), `${dev}: no memory errors\n`);
    assert.deepEqual(json(['pool', 'errors', dev]), { device: dev, list: `${dev}.famfs-errors.json`, errors: [] });
  });

  test('a table of kind, offset, length, first seen and host', async (t) => {
    const dev = await pool(t, 64 * MiB);
    const a = injectError(dev, { range: { offset: 0x12000, length: 4096 }, kind: 'timeout' });
    const b = injectError(dev, { range: null, kind: 'offline' });
    const lines = ok(['pool', 'errors', dev]).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^KIND\s+OFFSET\s+LENGTH\s+FIRST SEEN\s+BY$/);
    assert.match(lines[1]!, new RegExp(`^timeout\\s+0x12000\\s+4096\\s+${a.firstSeen.replace(/\./g, '\\.')}\\s+${a.by}$`));
    assert.match(lines[2]!, new RegExp(`^offline\\s+whole device\\s+-\\s+${b.firstSeen.replace(/\./g, '\\.')}\\s+${b.by}$`));
    assert.deepEqual(json<{ errors: Entry[] }>(['pool', 'errors', dev]).errors, [a, b]);
  });

  test('a corrupt list fails with status 1 and names the file', async (t) => {
    const dev = await pool(t, 64 * MiB);
    writeFileSync(`${dev}.famfs-errors.json`, '{"version": 1, "errors": [{"kind": "poison"}]}');
    const r = run(['pool', 'errors', dev]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /poison list .*pool\.dax\.famfs-errors\.json: errors\[0\]\.firstSeen: undefined is not a time/);
  });
});
