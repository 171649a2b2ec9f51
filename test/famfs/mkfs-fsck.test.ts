/**
 * mkfs (superblock fields as famfs writes them, log initialisation, refusals, kill) and fsck
 * (clean summary, every error class, the next_seqnum warning).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { scratchDir, testPool as pool, rawLog } from '../helpers/tmpPool.js';
import {
  FM_ALL_HOSTS_RW,
  LOG_ENTRY_SIZE,
  LOG_HEADER_SIZE,
  LOG_OFFSET,
  MiB,
  Pool,
  SUPERBLOCK_STRUCT_SIZE,
  checkSuperblock,
  createEmulatedDevice,
  fsck,
  killFilesystem,
  mkfs,
  openDaxDevice,
} from '../../src/famfs/index.js';
import type { DaxDevice } from '../../src/famfs/index.js';

const AU = 2 * MiB;
const LOG_LEN = 8 * MiB;
const SMALL = 64 * MiB;

type T = { after(fn: () => void): void };

/** An unformatted emulated device of `size` bytes, closed and removed after the test. */
function rawDevice(t: T, size: number): { path: string; dev: DaxDevice } {
  const scratch = scratchDir();
  const path = join(scratch.dir, 'pool.dax');
  createEmulatedDevice(path, size);
  const dev = openDaxDevice(path);
  t.after(() => {
    dev.close();
    scratch.cleanup();
  });
  return { path, dev };
}

function hostUuid(): string {
  return readFileSync(process.env.FAMFS_SYSTEM_UUID_FILE!, 'latin1').replace(/\0.*$/s, '').trim();
}

function uuidAt(buf: Buffer, off: number): string {
  const h = buf.toString('hex', off, off + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const u64 = (buf: Buffer, off: number) => Number(buf.readBigUInt64LE(off));

/** Re-computes the superblock CRC after a deliberate edit (a "valid" but crafted superblock). */
function resealSuperblock(sb: Buffer): void {
  sb.writeBigUInt64LE(BigInt(crc32(sb.subarray(0, 96))), 96);
}

// ------------------------------------------------------------------------------------------------
// mkfs

for (const version of [48, 47] as const) {
  test(`mkfs writes the superblock fields as famfs does (version ${version})`, async (t) => {
    const { path, dev } = rawDevice(t, SMALL);
    const result = await mkfs(dev, { logLength: LOG_LEN, ...(version === 47 ? { version } : {}) });
    const sb = dev.map(0, SUPERBLOCK_STRUCT_SIZE);
    assert.equal(u64(sb, 0), 0x87b282ff, 'ts_magic');
    assert.equal(u64(sb, 8), version, 'ts_version');
    assert.equal(u64(sb, 16), 0x200000, 'ts_log_offset');
    assert.equal(u64(sb, 24), LOG_LEN, 'ts_log_len');
    assert.equal(u64(sb, 32), 0x200000, 'ts_alloc_unit');
    assert.equal(sb.readUInt32LE(40), 2, 'ts_omf_ver_major');
    assert.equal(sb.readUInt32LE(44), version === 48 ? 2 : 1, 'ts_omf_ver_minor');
    assert.equal(uuidAt(sb, 48), result.uuid, 'ts_uuid');
    assert.equal(uuidAt(sb, 64), result.devUuid, 'ts_dev_uuid');
    assert.notEqual(result.uuid, result.devUuid);
    assert.equal(uuidAt(sb, 80), hostUuid(), 'ts_system_uuid is the host identity file');
    assert.equal(result.systemUuid, hostUuid());
    assert.equal(u64(sb, 96), crc32(sb.subarray(0, 96)), 'ts_crc = crc32 of [0, 96)');
    assert.equal(sb.readUInt32LE(104), 0, 'ts_sb_flags');
    assert.equal(u64(sb, 112), SMALL, 'dd_size = device size');
    assert.equal(sb.toString('latin1', 136, 136 + path.length), path, 'dd_daxdev = path');
    assert.equal(sb[136 + path.length], 0);
    assert.deepEqual(result, { uuid: result.uuid, devUuid: result.devUuid, systemUuid: hostUuid(), version, logLength: LOG_LEN, deviceSize: SMALL });

    const verdict = checkSuperblock(sb);
    assert.ok(verdict.ok);
    assert.equal(verdict.superblock.omfMajor, 2);
    assert.equal(verdict.superblock.devicePath, path);

    const p = Pool.open(path);
    try {
      assert.equal(p.stats().omf, version === 48 ? '2.2' : '2.1');
      assert.equal(p.isMaster(), true);
      await p.mkdir('d');
      await p.createFile('d/f', MiB);
    } finally {
      p.close();
    }
    assert.equal(fsck(dev).ok, true);
  });
}

test('mkfs zeroes the log (junk first) and initialises its header', async (t) => {
  const { dev } = rawDevice(t, SMALL);
  dev.map(0, SMALL).fill(0xee);
  await mkfs(dev, { logLength: 16 * MiB, systemUuid: '00112233-4455-6677-8899-aabbccddeeff' });
  const log = dev.map(LOG_OFFSET, 16 * MiB);
  assert.equal(u64(log, 0), 0xbadcafef00d, 'magic');
  assert.equal(u64(log, 8), 16 * MiB, 'len');
  assert.equal(u64(log, 16), 30839, 'last_index');
  assert.equal(u64(log, 24), crc32(log.subarray(0, 24)), 'crc over [0, 24)');
  assert.equal(u64(log, 32), 0, 'next_seqnum');
  assert.equal(u64(log, 40), 0, 'next_index');
  assert.ok(log.subarray(LOG_HEADER_SIZE).equals(Buffer.alloc(16 * MiB - LOG_HEADER_SIZE)), 'every entry slot is zero');
  assert.equal(uuidAt(dev.map(0, SUPERBLOCK_STRUCT_SIZE), 80), '00112233-4455-6677-8899-aabbccddeeff', 'an explicit master uuid');
  const report = fsck(dev);
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.equal(report.summary?.logEntriesUsed, 0);
  assert.equal(report.summary?.logEntriesTotal, 30840);
});

test('mkfs refuses an existing famfs without force (EXISTS) and re-formats with force', async (t) => {
  const tp = await pool(t);
  const before = checkSuperblock(tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE));
  assert.ok(before.ok);
  const p = Pool.open(tp.path);
  try {
    await p.mkdir('keep');
  } finally {
    p.close();
  }
  await assert.rejects(mkfs(tp.dev, { logLength: LOG_LEN }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'EXISTS');
    assert.match(e.message, /already has a famfs superblock \(version 48, uuid [0-9a-f-]{36}\).*force/);
    assert.ok(e.message.includes(before.superblock.uuid));
    return true;
  });
  // Refused: nothing changed.
  assert.deepEqual(checkSuperblock(tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE)), before);
  assert.equal(fsck(tp.dev).summary?.directories, 1);

  // A famfs superblock of another version counts too.
  const sb = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  sb.writeBigUInt64LE(49n, 8);
  resealSuperblock(sb);
  await assert.rejects(mkfs(tp.dev, { logLength: LOG_LEN }), { code: 'EXISTS' });

  const again = await mkfs(tp.dev, { logLength: LOG_LEN, force: true });
  assert.notEqual(again.uuid, before.superblock.uuid);
  const report = fsck(tp.dev);
  assert.equal(report.ok, true);
  assert.equal(report.summary?.directories, 0);
  assert.equal(report.summary?.logEntriesUsed, 0);
  assert.equal(report.summary?.uuid, again.uuid);
});

test('mkfs refuses a log length that is not a power of two or under 8 MiB (INVALID)', async (t) => {
  const { dev } = rawDevice(t, SMALL);
  for (const logLength of [12 * MiB, 4 * MiB, 8 * MiB - 4096, 8 * MiB + 4096, 0, -8 * MiB]) {
    await assert.rejects(mkfs(dev, { logLength }), {
      name: 'FamfsError',
      code: 'INVALID',
      message: new RegExp(`^log length ${logLength} must be a power of two of at least 8388608 bytes \\(8 MiB\\)$`),
    });
  }
  assert.equal(checkSuperblock(dev.map(0, SUPERBLOCK_STRUCT_SIZE)).ok, false, 'nothing was written');
});

test('mkfs refuses a device too small (TOO_SMALL) and states the limit', async (t) => {
  const { dev } = rawDevice(t, 10 * MiB);
  // superblock 2 MiB + log 8 MiB + one 2 MiB unit = 12 MiB.
  await assert.rejects(mkfs(dev, { logLength: LOG_LEN }), (e: Error & { code?: string; details?: Record<string, unknown> }) => {
    assert.equal(e.code, 'TOO_SMALL');
    assert.ok(e.message.includes('is 10485760 bytes; at least 12582912 bytes are needed'), e.message);
    assert.deepEqual(e.details, { size: 10 * MiB, minimum: 12 * MiB });
    return true;
  });
  const big = rawDevice(t, 64 * MiB);
  await assert.rejects(mkfs(big.dev, { logLength: 64 * MiB }), { code: 'TOO_SMALL', message: /at least 71303168 bytes/ });
  // Exactly the minimum works: one allocation unit of data.
  const exact = rawDevice(t, 12 * MiB);
  await mkfs(exact.dev, { logLength: LOG_LEN });
  const p = Pool.open(exact.path);
  try {
    assert.equal(p.stats().freeBytes, AU);
    await p.createFile('only', AU);
    await assert.rejects(p.createFile('more', 1), { code: 'NO_SPACE' });
  } finally {
    p.close();
  }
});

test('killFilesystem invalidates the superblock', async (t) => {
  const tp = await pool(t);
  killFilesystem(tp.dev);
  const verdict = checkSuperblock(tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE));
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.kind, 'no-superblock');
  assert.throws(() => Pool.open(tp.path), { name: 'FamfsError', code: 'NO_SUPERBLOCK' });
  const report = fsck(tp.dev);
  assert.equal(report.ok, false);
  assert.match(report.errors[0]!, /^superblock: no famfs superblock: magic is 0x0/);
  // A killed device can be formatted again without force.
  await mkfs(tp.dev, { logLength: LOG_LEN });
  assert.equal(fsck(tp.dev).ok, true);
});

// ------------------------------------------------------------------------------------------------
// fsck

test('fsck of a clean pool: summary of files, directories, tombstones, space and log', async (t) => {
  const tp = await pool(t, 256 * MiB);
  const p = Pool.open(tp.path);
  try {
    await p.mkdir('a/b', { parents: true });
    await p.createFile('a/f1', 3 * MiB);
    await p.createFile('a/b/f2', 5 * MiB);
    await p.createFile('g', MiB);
    await p.remove('g');
  } finally {
    p.close();
  }
  const sb = checkSuperblock(tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE));
  assert.ok(sb.ok);
  const report = fsck(tp.dev);
  assert.equal(report.ok, true, report.errors.join('\n'));
  assert.deepEqual(report.errors, []);
  assert.deepEqual(report.warnings, []);
  assert.equal(report.device, tp.path);
  // Units: 128, 5 reserved, a/f1 2 units (5-6), a/b/f2 3 units (7-9), g (10) deleted.
  assert.deepEqual(report.summary, {
    version: 48,
    omf: '2.2',
    uuid: sb.superblock.uuid,
    master: hostUuid(),
    deviceSize: 256 * MiB,
    superblockDeviceSize: 256 * MiB,
    logLength: LOG_LEN,
    logEntriesUsed: 6,
    logEntriesTotal: 15420,
    files: 2,
    directories: 2,
    tombstones: 1,
    collisions: 0,
    usedBytes: 5 * AU,
    freeBytes: (128 - 5 - 5) * AU,
    largestFreeRun: (128 - 10) * AU,
  });
  // fsck changes nothing: a second run gives the same report.
  assert.deepEqual(fsck(tp.dev), report);
});

test('fsck reports a corrupt superblock', async (t) => {
  const tp = await pool(t);
  const sb = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  const saved = Buffer.from(sb);

  sb[50] ^= 0xff; // inside ts_uuid: CRC mismatch
  let r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.equal(r.summary, null);
  assert.match(r.errors[0]!, /^superblock: superblock CRC mismatch: stored 0x[0-9a-f]+, computed 0x[0-9a-f]+ over bytes \[0,96\)$/);
  assert.throws(() => Pool.open(tp.path), { code: 'CORRUPT' });

  saved.copy(sb);
  sb.writeBigUInt64LE(49n, 8);
  resealSuperblock(sb);
  r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.match(r.errors[0]!, /^superblock: famfs superblock version 49 .* is not supported/);
  assert.throws(() => Pool.open(tp.path), { code: 'BAD_VERSION' });

  saved.copy(sb);
  sb.writeBigUInt64LE(4096n * 3n, 32); // alloc unit
  resealSuperblock(sb);
  r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.match(r.errors[0]!, /alloc unit 12288 is invalid/);

  saved.copy(sb);
  sb.writeBigUInt64LE(BigInt(4 * MiB), 16); // log offset
  resealSuperblock(sb);
  assert.match(fsck(tp.dev).errors[0]!, /log offset 0x400000 is invalid/);

  saved.copy(sb);
  assert.equal(fsck(tp.dev).ok, true);
});

test('fsck reports a corrupt log header', async (t) => {
  const tp = await pool(t);
  const log = tp.dev.map(LOG_OFFSET, LOG_HEADER_SIZE);
  const saved = Buffer.from(log);
  const cases: [(b: Buffer) => void, RegExp][] = [
    [(b) => (b[0] ^= 1), /^log header: log header magic is 0x/],
    [(b) => (b[9] ^= 1), /^log header: log header CRC mismatch/],
    [(b) => b.writeBigUInt64LE(15421n, 40), /^log header: log header next_index 15421 is beyond the log's 15420 entries$/],
  ];
  for (const [corrupt, message] of cases) {
    saved.copy(log);
    corrupt(log);
    const r = fsck(tp.dev);
    assert.equal(r.ok, false);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, message);
    assert.equal(r.summary, null);
    assert.throws(() => Pool.open(tp.path), { code: 'CORRUPT' });
  }
  // A header for another log length (valid CRC) disagrees with the superblock.
  saved.copy(log);
  log.writeBigUInt64LE(BigInt(16 * MiB), 8);
  log.writeBigUInt64LE(BigInt(crc32(log.subarray(0, 24))), 24);
  assert.match(fsck(tp.dev).errors[0]!, /^log header: log header length 16777216 differs from the superblock's log length 8388608$/);
  saved.copy(log);
  assert.equal(fsck(tp.dev).ok, true);
});

test('fsck reports a corrupt entry', async (t) => {
  const tp = await pool(t);
  const p = Pool.open(tp.path);
  try {
    await p.mkdir('d');
    await p.createFile('d/f', MiB);
    await p.mkdir('e');
  } finally {
    p.close();
  }
  const region = tp.dev.map(LOG_OFFSET, LOG_LEN);
  region[LOG_HEADER_SIZE + LOG_ENTRY_SIZE * 1 + 20] ^= 0x40; // entry 1's fm_size
  const r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!, /^log entry 1 \(replay stops here\): CRC mismatch/);
  assert.equal(r.summary?.directories, 1, 'entries after the corrupt one are not replayed');
  assert.equal(r.summary?.files, 0);
});

test('fsck reports an allocation collision', async (t) => {
  const tp = await pool(t);
  const p = Pool.open(tp.path);
  let offset: number;
  try {
    const f = await p.createFile('a', 3 * MiB);
    assert.equal(f.fmap.kind, 'simple');
    offset = f.fmap.kind === 'simple' ? f.fmap.extents[0]!.offset : 0;
  } finally {
    p.close();
  }
  rawLog(tp.dev).append({ type: 'file', relpath: 'b', size: AU, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: offset + AU, length: AU }] } });
  const r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.equal(r.summary?.collisions, 1);
  assert.deepEqual(r.errors, [`log entry 1: allocation collision: file "b" extent [${offset + AU}, ${offset + 2 * AU}) overlaps entry 0`]);
});

test('fsck reports extents beyond the device when the superblock claims a bigger device', async (t) => {
  const tp = await pool(t);
  // Craft a superblock whose dd_size is twice the real device, with a valid CRC.
  const sb = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  sb.writeBigUInt64LE(BigInt(2 * SMALL), 112);
  resealSuperblock(sb);
  assert.ok(checkSuperblock(sb).ok);
  // A file inside the claimed size but beyond the real device.
  rawLog(tp.dev).append({ type: 'file', relpath: 'far', size: AU, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: SMALL + 4 * AU, length: AU }] } });
  const r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.deepEqual(r.errors, [
    `superblock device size ${2 * SMALL} exceeds the device's ${SMALL} bytes`,
    `log entry 0: file "far": extent [${SMALL + 4 * AU}, ${SMALL + 5 * AU}) is beyond the device (${SMALL} bytes)`,
  ]);
  assert.equal(r.summary?.superblockDeviceSize, 2 * SMALL);
  assert.equal(r.summary?.deviceSize, SMALL);
  assert.equal(r.summary?.files, 0);
  // The allocator of a Pool never hands out space past the real device either.
  const p = Pool.open(tp.path);
  try {
    assert.equal(p.stats().freeBytes, SMALL - LOG_OFFSET - LOG_LEN);
  } finally {
    p.close();
  }
});

test('fsck warns (still ok) about a smaller dd_size and about next_seqnum != next_index', async (t) => {
  const tp = await pool(t);
  const p = Pool.open(tp.path);
  try {
    await p.mkdir('d');
  } finally {
    p.close();
  }
  const header = tp.dev.map(LOG_OFFSET, LOG_HEADER_SIZE);
  header.writeBigUInt64LE(2n, 32);
  let r = fsck(tp.dev);
  assert.equal(r.ok, true);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, ['log header next_seqnum 2 differs from next_index 1 (an append was cut short; the next append repairs it)']);

  header.writeBigUInt64LE(1n, 32);
  const sb = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  sb.writeBigUInt64LE(BigInt(SMALL - 4 * AU), 112);
  resealSuperblock(sb);
  r = fsck(tp.dev);
  assert.equal(r.ok, true);
  assert.deepEqual(r.warnings, [`superblock device size ${SMALL - 4 * AU} is smaller than the device's ${SMALL} bytes; the rest is unused`]);
  assert.equal(r.summary?.freeBytes, SMALL - 4 * AU - LOG_OFFSET - LOG_LEN);
});

test('fsck of a device too small for a superblock, or with a log beyond the device', async (t) => {
  const tp = await pool(t, 12 * MiB);
  const sb = tp.dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  sb.writeBigUInt64LE(BigInt(16 * MiB), 24); // log length beyond the 12 MiB device
  resealSuperblock(sb);
  const r = fsck(tp.dev);
  assert.equal(r.ok, false);
  assert.ok(r.errors.some((e) => /^log \[2097152, 18874368\) extends beyond the 12582912-byte device$/.test(e)), r.errors.join('\n'));
  assert.equal(r.summary, null);
  assert.throws(() => Pool.open(tp.path), { code: 'CORRUPT', message: /does not fit/ });
});
