/**
 * pmem bad blocks (src/famfs/health/badblocks.ts): the sysfs list format, sector to device
 * offset mapping, and discovery and polling on a fake sysfs tree shaped like a real one.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadblocksSource, badblocksToDeviceRanges, discoverBadblocks, parseBadblocks } from '../../src/famfs/health/badblocks.js';
import { describeError } from '../../src/famfs/health/memoryError.js';

const dir = mkdtempSync(join(tmpdir(), 'famfs-csi-badblocks-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let trees = 0;

const GiB = 1024 ** 3;
const REGION_START = 0x2000000000;
const DAX_START = 0x2080000000; // 2 GiB into the region (after the namespace's info block and memmap)
const DAX_SIZE = 4 * GiB;

interface FakeSysfs {
  root: string;
  region: string;
  dax: string;
}

/**
 * A sysfs tree like a pmem devdax host's: bus/dax/devices/dax0.0 links to
 * devices/platform/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0.
 */
function fakeSysfs(badblocks: string, opts: { regionResource?: string; daxResource?: string; daxSize?: string } = {}): FakeSysfs {
  const root = join(dir, `sys${++trees}`);
  const region = join(root, 'devices', 'platform', 'ACPI0012:00', 'ndbus0', 'region0');
  const dax = join(region, 'dax0.0', 'dax0.0');
  mkdirSync(dax, { recursive: true });
  writeFileSync(join(region, 'badblocks'), badblocks);
  writeFileSync(join(region, 'resource'), `${opts.regionResource ?? `0x${REGION_START.toString(16)}`}\n`);
  writeFileSync(join(region, 'size'), '68719476736\n');
  writeFileSync(join(region, 'dax0.0', 'resource'), '0x2000000000\n'); // the nd_dax, not the device: has no badblocks
  writeFileSync(join(dax, 'resource'), `${opts.daxResource ?? `0x${DAX_START.toString(16)}`}\n`);
  writeFileSync(join(dax, 'size'), `${opts.daxSize ?? DAX_SIZE}\n`);
  mkdirSync(join(root, 'bus', 'dax', 'devices'), { recursive: true });
  symlinkSync('../../../devices/platform/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0', join(root, 'bus', 'dax', 'devices', 'dax0.0'));
  mkdirSync(join(root, 'bus', 'nd', 'devices'), { recursive: true });
  symlinkSync('../../../devices/platform/ACPI0012:00/ndbus0/region0', join(root, 'bus', 'nd', 'devices', 'region0'));
  return { root, region, dax };
}

/** Region sector of device byte `offset`. */
function sectorOf(offset: number): number {
  return (DAX_START - REGION_START + offset) / 512;
}

describe('parseBadblocks', () => {
  test('ranges one a line, as the kernel prints them', () => {
    assert.deepEqual(parseBadblocks('1024 8\n4194304 1\n'), {
      ranges: [
        { sector: 1024, count: 8 },
        { sector: 4194304, count: 1 },
      ],
      problems: [],
    });
  });

  test('an empty list, blank lines and surrounding blanks', () => {
    assert.deepEqual(parseBadblocks(''), { ranges: [], problems: [] });
    assert.deepEqual(parseBadblocks('\n\n'), { ranges: [], problems: [] });
    assert.deepEqual(parseBadblocks('  16\t8  \n\n'), { ranges: [{ sector: 16, count: 8 }], problems: [] });
  });

  test('garbage lines are problems naming the line, the good lines still count', () => {
    const { ranges, problems } = parseBadblocks(['0 8', 'hello', '12', '-4 8', '0x10 8', '5 0', '8 8 8', '99999999999999999999 1', '1.5 2', 'x'.repeat(500), '32 16'].join('\n'));
    assert.deepEqual(ranges, [
      { sector: 0, count: 8 },
      { sector: 32, count: 16 },
    ]);
    assert.equal(problems.length, 9);
    assert.equal(problems[0], 'line 2: "hello" is not "<first sector> <number of sectors>"');
    assert.equal(problems[4], 'line 6: "5 0" has no sectors');
    assert.equal(problems[6], 'line 8: "99999999999999999999 1" lies past the largest byte offset handled');
    assert.ok(problems[8]!.length < 150, 'a long line is shortened');
  });
});

describe('badblocksToDeviceRanges', () => {
  const geo = { regionStart: REGION_START, deviceStart: DAX_START, deviceSize: DAX_SIZE };

  test('region sectors become device bytes', () => {
    assert.deepEqual(badblocksToDeviceRanges([{ sector: sectorOf(0x200000), count: 8 }], geo), [{ offset: 0x200000, length: 4096 }]);
    assert.deepEqual(badblocksToDeviceRanges([{ sector: 1024, count: 8 }], { regionStart: 0, deviceStart: 0, deviceSize: 1 << 20 }), [{ offset: 512 * 1024, length: 4096 }]);
  });

  test('ranges are clipped to the device and dropped outside it; the result is sorted, each range once', () => {
    const ranges = [
      { sector: sectorOf(DAX_SIZE - 1024), count: 8 }, // runs off the end
      { sector: sectorOf(0) - 4, count: 8 }, // starts before the device
      { sector: 0, count: 8 }, // region bytes before the device
      { sector: sectorOf(DAX_SIZE), count: 1 }, // just past the end
      { sector: sectorOf(4096), count: 1 },
      { sector: sectorOf(4096), count: 1 },
    ];
    assert.deepEqual(badblocksToDeviceRanges(ranges, geo), [
      { offset: 0, length: 2048 },
      { offset: 4096, length: 512 },
      { offset: DAX_SIZE - 1024, length: 1024 },
    ]);
    assert.deepEqual(badblocksToDeviceRanges([], geo), []);
  });
});

describe('discoverBadblocks', () => {
  test('walks up from the dax device to the nd region', () => {
    const sys = fakeSysfs('');
    assert.deepEqual(discoverBadblocks('/dev/dax0.0', sys.root), { file: join(sys.region, 'badblocks'), regionStart: REGION_START, deviceStart: DAX_START, deviceSize: DAX_SIZE });
  });

  test('a regular file, an unknown dax device, or a dax device on no nd region has no list', () => {
    const sys = fakeSysfs('');
    const file = join(dir, 'dax0.0');
    writeFileSync(file, '');
    assert.equal(discoverBadblocks(file, sys.root), undefined, 'an emulated pool file, even one named dax0.0');
    assert.equal(discoverBadblocks('/dev/dax9.0', sys.root), undefined);
    const cxl = join(dir, `sys${++trees}`);
    mkdirSync(join(cxl, 'devices', 'platform', 'ACPI0017:00', 'root0', 'decoder0.0', 'region0', 'dax_region0', 'dax0.0'), { recursive: true });
    writeFileSync(join(cxl, 'devices', 'platform', 'ACPI0017:00', 'root0', 'decoder0.0', 'region0', 'dax_region0', 'dax0.0', 'resource'), '0x1000000000\n');
    mkdirSync(join(cxl, 'bus', 'dax', 'devices'), { recursive: true });
    symlinkSync('../../../devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0/dax0.0', join(cxl, 'bus', 'dax', 'devices', 'dax0.0'));
    assert.equal(discoverBadblocks('/dev/dax0.0', cxl), undefined, 'a CXL region has no badblocks');
  });

  test('a block pmem namespace lists its own sectors', () => {
    const root = join(dir, `sys${++trees}`);
    mkdirSync(join(root, 'block', 'pmem1'), { recursive: true });
    writeFileSync(join(root, 'block', 'pmem1', 'badblocks'), '8 8\n');
    writeFileSync(join(root, 'block', 'pmem1', 'size'), '2097152\n');
    assert.deepEqual(discoverBadblocks('/dev/pmem1', root), { file: join(root, 'block', 'pmem1', 'badblocks'), regionStart: 0, deviceStart: 0, deviceSize: GiB });
  });

  test('malformed sysfs numbers are errors naming the file and value', () => {
    const sys = fakeSysfs('', { regionResource: 'banana' });
    assert.throws(() => discoverBadblocks('/dev/dax0.0', sys.root), (e: Error) => e.message === `${join(sys.region, 'resource')}: "banana" is not an address or size`);
    const zero = fakeSysfs('', { regionResource: '0', daxResource: '0x0' });
    assert.deepEqual(discoverBadblocks('/dev/dax0.0', zero.root)?.regionStart, 0);
  });
});

describe('BadblocksSource', () => {
  function clock(start = '2026-03-01T00:00:00.000Z') {
    let t = Date.parse(start);
    return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
  }

  test('bad blocks become poison errors on the device, firstSeen stable across polls', () => {
    const sys = fakeSysfs(`${sectorOf(0x200000)} 8\n`);
    const c = clock();
    const src = new BadblocksSource({ device: '/dev/dax0.0', sysfsRoot: sys.root, pollMs: 0, now: c.now });
    assert.equal(src.name, 'badblocks');
    const first = src.poll();
    assert.deepEqual(first, [{ device: '/dev/dax0.0', range: { offset: 0x200000, length: 4096 }, kind: 'poison', source: 'badblocks', firstSeen: '2026-03-01T00:00:00.000Z', detail: join(sys.region, 'badblocks') }]);
    assert.match(describeError(first[0]!), /^poison on \/dev\/dax0\.0 bytes 0x200000-0x200fff \(4096 bytes\), reported by the pmem badblocks list/);
    c.advance(60_000);
    writeFileSync(join(sys.region, 'badblocks'), `${sectorOf(0x200000)} 8\n${sectorOf(0x400000)} 1\n`);
    const second = src.poll();
    assert.deepEqual(
      second.map((e) => [e.range!.offset, e.firstSeen]),
      [
        [0x200000, '2026-03-01T00:00:00.000Z'],
        [0x400000, '2026-03-01T00:01:00.000Z'],
      ],
    );
  });

  test('a range that disappears and comes back is seen anew', () => {
    const sys = fakeSysfs('0 8\n');
    const c = clock();
    const src = new BadblocksSource({ device: '/dev/dax0.0', sysfsRoot: sys.root, pollMs: 1000, now: c.now });
    writeFileSync(join(sys.region, 'badblocks'), `${sectorOf(0)} 8\n`);
    assert.equal(src.poll()[0]!.firstSeen, '2026-03-01T00:00:00.000Z');
    c.advance(1000);
    writeFileSync(join(sys.region, 'badblocks'), '');
    assert.deepEqual(src.poll(), [], 'cleared (e.g. ndctl clear-errors)');
    c.advance(1000);
    writeFileSync(join(sys.region, 'badblocks'), `${sectorOf(0)} 8\n`);
    assert.equal(src.poll()[0]!.firstSeen, '2026-03-01T00:00:02.000Z');
  });

  test('pollMs: sysfs is read again only after pollMs; the cached answer in between', () => {
    const sys = fakeSysfs('');
    const c = clock();
    const src = new BadblocksSource({ device: '/dev/dax0.0', sysfsRoot: sys.root, now: c.now });
    assert.deepEqual(src.poll(), []);
    writeFileSync(join(sys.region, 'badblocks'), `${sectorOf(8192)} 16\n`);
    c.advance(9_999);
    assert.deepEqual(src.poll(), [], 'the default pollMs is 10 s');
    c.advance(1);
    assert.equal(src.poll().length, 1);
    c.advance(-60_000);
    writeFileSync(join(sys.region, 'badblocks'), '');
    assert.deepEqual(src.poll(), [], 'a clock that went back reads again');
  });

  test('garbage lines are told once through onProblem; the good lines still count', () => {
    const sys = fakeSysfs(`junk\n${sectorOf(0)} 1\n`);
    const problems: string[] = [];
    const src = new BadblocksSource({ device: '/dev/dax0.0', sysfsRoot: sys.root, pollMs: 0, onProblem: (m) => problems.push(m) });
    assert.equal(src.poll().length, 1);
    assert.equal(src.poll().length, 1);
    assert.deepEqual(problems, [`${join(sys.region, 'badblocks')} line 1: "junk" is not "<first sector> <number of sectors>"`]);
  });

  test('an unreadable list keeps the last answer and is told once', () => {
    const sys = fakeSysfs(`${sectorOf(0)} 1\n`);
    const problems: string[] = [];
    const src = new BadblocksSource({ device: '/dev/dax0.0', sysfsRoot: sys.root, pollMs: 0, onProblem: (m) => problems.push(m) });
    const before = src.poll();
    assert.equal(before.length, 1);
    rmSync(join(sys.region, 'badblocks'));
    mkdirSync(join(sys.region, 'badblocks')); // still "there", but not readable as a file
    assert.deepEqual(src.poll(), before);
    assert.deepEqual(src.poll(), before);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /cannot read .*region0\/badblocks: EISDIR/);
  });

  test('a device with no list (an emulated pool, no sysfs entry) has no errors and no problems', () => {
    const problems: string[] = [];
    const pool = join(dir, 'pool.img');
    writeFileSync(pool, '');
    for (const device of [pool, '/dev/dax5.0']) {
      const src = new BadblocksSource({ device, sysfsRoot: fakeSysfs('0 8\n').root, onProblem: (m) => problems.push(m) });
      assert.deepEqual(src.poll(), []);
    }
    assert.deepEqual(problems, []);
  });
});
