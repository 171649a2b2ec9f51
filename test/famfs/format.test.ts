/**
 * Golden-byte tests of the famfs on-media format: superblock, log header and log entries.
 *
 * Expected buffers are built by hand from the struct tables in
 * /work/shared/reference/famfs-on-media-format.md §1.3, §1.7–§1.11 (explicit offsets, BigInt u64
 * writes, zlib.crc32), never with the encoders under test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import {
  ENTRY_CRC_OFFSET,
  LOG_ENTRY_SIZE,
  LOG_HEADER_SIZE,
  MAX_LOGGED_RELPATH_BYTES,
  MiB,
  checkSuperblock,
  decodeEntry,
  decodeLogHeader,
  decodeSuperblock,
  encodeEntry,
  encodeLogHeader,
  encodeSuperblock,
  entryCrc,
  killSuperblock,
  logHeaderCrc,
  logHeaderProblem,
  relpathProblem,
  setSystemUuid,
  superblockCrc,
} from '../../src/famfs/index.js';
import type { AddDaxdevEntry, DirEntry, FileEntry, LogEntry, NewLogEntry, NewSuperblock } from '../../src/famfs/index.js';

// ---- hand-written little-endian helpers (independent of src/famfs/bytes.ts) ----

function u64(buf: Buffer, off: number, v: number | bigint): void {
  buf.writeBigUInt64LE(BigInt(v), off);
}
function u32(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v, off);
}
function uuidBytes(s: string): Buffer {
  return Buffer.from(s.replace(/-/g, ''), 'hex');
}
function crcOf(buf: Buffer, start: number, end: number): number {
  return crc32(buf.subarray(start, end));
}
function storedU64(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}
/** Asserts every byte of buf[start, end) is zero, naming the first offending offset. */
function assertZero(buf: Buffer, start: number, end: number, what: string): void {
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0) assert.fail(`${what}: byte ${i} is 0x${buf[i]!.toString(16)}, expected 0`);
  }
}

const UUID_FS = '11111111-2222-3333-4444-555555555555';
const UUID_DEV = '66666666-7777-8888-9999-aaaaaaaaaaaa';
const UUID_SYS = 'bbbbbbbb-cccc-dddd-eeee-ffffffffffff';
const SUPER_MAGIC = 0x87b282ff;
const LOG_MAGIC = 0xbadcafef00dn;

/** struct famfs_superblock (200 bytes) by hand, CRC over [0, 96) stored as u64 at 96. */
function handSuperblock(o: {
  version: number;
  omfMajor: number;
  omfMinor: number;
  logLen?: number;
  allocUnit?: number;
  logOffset?: number;
  magic?: number;
  sbFlags?: number;
  ddSize?: number;
  ddUuid?: string;
  devicePath?: string;
}): Buffer {
  const b = Buffer.alloc(200);
  u64(b, 0, o.magic ?? SUPER_MAGIC);
  u64(b, 8, o.version);
  u64(b, 16, o.logOffset ?? 0x200000);
  u64(b, 24, o.logLen ?? 8 * MiB);
  u64(b, 32, o.allocUnit ?? 0x200000);
  u32(b, 40, o.omfMajor);
  u32(b, 44, o.omfMinor);
  uuidBytes(UUID_FS).copy(b, 48);
  uuidBytes(UUID_DEV).copy(b, 64);
  uuidBytes(UUID_SYS).copy(b, 80);
  u64(b, 96, crcOf(b, 0, 96));
  u32(b, 104, o.sbFlags ?? 0);
  u64(b, 112, o.ddSize ?? 0);
  if (o.ddUuid) uuidBytes(o.ddUuid).copy(b, 120);
  b.write(o.devicePath ?? '', 136, 64, 'utf8');
  return b;
}

function newSb(version: 47 | 48, extra: Partial<NewSuperblock> = {}): NewSuperblock {
  return { version, logLen: 8 * MiB, uuid: UUID_FS, devUuid: UUID_DEV, systemUuid: UUID_SYS, deviceSize: 0, devicePath: '', ...extra };
}

/** struct famfs_log header (48 bytes) by hand. */
function handLogHeader(len: number, lastIndex: number, nextSeqnum = 0, nextIndex = 0): Buffer {
  const b = Buffer.alloc(48);
  u64(b, 0, LOG_MAGIC);
  u64(b, 8, len);
  u64(b, 16, lastIndex);
  u64(b, 24, crcOf(b, 0, 24));
  u64(b, 32, nextSeqnum);
  u64(b, 40, nextIndex);
  return b;
}

function sealEntry(b: Buffer): Buffer {
  u64(b, 536, crcOf(b, 0, 536));
  return b;
}

/** Strips the decode-only fields so a decoded entry can be fed back to encodeEntry. */
function asNew(e: LogEntry): NewLogEntry {
  assert.notEqual(e.type, 'unknown');
  const o: Record<string, unknown> = { ...e };
  delete o.seqnum;
  delete o.crc;
  delete o.layout;
  return o as unknown as NewLogEntry;
}

describe('log header golden bytes', () => {
  test('8 MiB log: exact 24 CRC-covered bytes and CRC 0xa5875078', () => {
    const h = encodeLogHeader(8 * MiB);
    assert.equal(h.length, LOG_HEADER_SIZE);
    assert.equal(h.subarray(0, 24).toString('hex'), '0df0fecaad0b0000' + '0000800000000000' + '3b3c000000000000');
    assert.equal(logHeaderCrc(h), 0xa5875078);
    assert.equal(storedU64(h, 24), 0xa5875078n);
    assert.equal(storedU64(h, 32), 0n, 'next_seqnum starts at 0');
    assert.equal(storedU64(h, 40), 0n, 'next_index starts at 0');
    assert.deepEqual(h, handLogHeader(8 * MiB, 15419));
  });

  test('256 MiB log: last_index 493446 and CRC 0xe077f1d4', () => {
    const h = encodeLogHeader(256 * MiB);
    assert.equal(storedU64(h, 16), 493446n);
    assert.equal(logHeaderCrc(h), 0xe077f1d4);
    assert.equal(storedU64(h, 24), 0xe077f1d4n);
    assert.deepEqual(h, handLogHeader(256 * MiB, 493446));
  });

  test('CRC covers exactly bytes [0, 24)', () => {
    const h = handLogHeader(8 * MiB, 15419, 77, 66);
    const base = logHeaderCrc(h);
    assert.equal(base, 0xa5875078, 'next_seqnum / next_index are not covered');
    for (const i of [0, 7, 8, 15, 16, 23]) {
      const c = Buffer.from(h);
      c[i] ^= 1;
      assert.notEqual(logHeaderCrc(c), base, `byte ${i} must be covered`);
    }
    for (const i of [24, 31, 32, 40, 47]) {
      const c = Buffer.from(h);
      c[i] ^= 1;
      assert.equal(logHeaderCrc(c), base, `byte ${i} must not be covered`);
    }
  });

  test('decodeLogHeader reads a hand-built header field by field', () => {
    const b = handLogHeader(16 * MiB, 30839, 1234, 1233);
    assert.deepEqual(decodeLogHeader(b), {
      magic: 0xbadcafef00d,
      len: 16 * MiB,
      lastIndex: 30839,
      crc: crcOf(b, 0, 24),
      nextSeqnum: 1234,
      nextIndex: 1233,
    });
  });
});

describe('superblock golden bytes', () => {
  test('version 48 / OMF 2.2 CRC vector 0x6fd513c2, stored as u64 at offset 96', () => {
    const sb = encodeSuperblock(newSb(48));
    assert.equal(superblockCrc(sb), 0x6fd513c2);
    assert.equal(storedU64(sb, 96), 0x6fd513c2n);
    assert.equal(crcOf(handSuperblock({ version: 48, omfMajor: 2, omfMinor: 2 }), 0, 96), 0x6fd513c2, 'hand-built bytes agree with the vector');
  });

  test('version 47 / OMF 2.1 CRC vector 0x06113187', () => {
    const sb = encodeSuperblock(newSb(47));
    assert.equal(superblockCrc(sb), 0x06113187);
    assert.equal(storedU64(sb, 96), 0x06113187n);
    assert.equal(sb.readUInt32LE(40), 2);
    assert.equal(sb.readUInt32LE(44), 1);
  });

  test('encoder output is byte-identical to the hand-built struct (dd_size, dd_daxdev included)', () => {
    for (const version of [47, 48] as const) {
      const hand = handSuperblock({ version, omfMajor: 2, omfMinor: version === 48 ? 2 : 1, logLen: 64 * MiB, ddSize: 8 * 1024 * MiB + 6 * MiB, devicePath: '/dev/dax0.0' });
      const enc = encodeSuperblock(newSb(version, { logLen: 64 * MiB, deviceSize: 8 * 1024 * MiB + 6 * MiB, devicePath: '/dev/dax0.0' }));
      assert.equal(enc.length, 200);
      assert.deepEqual(enc, hand, `version ${version}`);
    }
  });

  test('decodeSuperblock reads a hand-built superblock field by field', () => {
    const b = handSuperblock({
      version: 48,
      omfMajor: 2,
      omfMinor: 2,
      logLen: 16 * MiB,
      sbFlags: 0x3,
      ddSize: 6 * 1024 * MiB, // > 2^32: exercises the u64 high word
      ddUuid: '01234567-89ab-cdef-0123-456789abcdef',
      devicePath: '/dev/dax1.0',
    });
    assert.deepEqual(decodeSuperblock(b), {
      magic: SUPER_MAGIC,
      version: 48,
      logOffset: 0x200000,
      logLen: 16 * MiB,
      allocUnit: 0x200000,
      omfMajor: 2,
      omfMinor: 2,
      uuid: UUID_FS,
      devUuid: UUID_DEV,
      systemUuid: UUID_SYS,
      crc: crcOf(b, 0, 96),
      sbFlags: 3,
      deviceSize: 6 * 1024 * MiB,
      deviceUuid: '01234567-89ab-cdef-0123-456789abcdef',
      devicePath: '/dev/dax1.0',
    });
    const v = checkSuperblock(b);
    assert.equal(v.ok, true);
  });

  test('a 64-byte device path has no NUL terminator and decodes in full; longer paths are cut to 64', () => {
    const p64 = '/dev/' + 'x'.repeat(59);
    assert.equal(p64.length, 64);
    const b = handSuperblock({ version: 48, omfMajor: 2, omfMinor: 2, devicePath: p64 });
    assert.equal(decodeSuperblock(b).devicePath, p64);
    const enc = encodeSuperblock(newSb(48, { devicePath: p64 + 'tail' }));
    assert.deepEqual(enc, b);
  });

  test('bytes after the CRC (sb_flags, ts_daxdev) are not CRC-covered', () => {
    const b = encodeSuperblock(newSb(48));
    b.writeUInt32LE(0xffffffff, 104);
    b.fill(0xaa, 112, 200);
    assert.equal(checkSuperblock(b).ok, true);
  });

  test('setSystemUuid rewrites ts_system_uuid and re-CRCs; killSuperblock zeroes the magic', () => {
    const b = encodeSuperblock(newSb(48));
    setSystemUuid(b, '00000000-0000-0000-0000-0000000000aa');
    assert.equal(b.subarray(80, 96).toString('hex'), '000000000000000000000000000000aa');
    assert.equal(storedU64(b, 96), BigInt(crcOf(b, 0, 96)));
    assert.equal(checkSuperblock(b).ok, true);
    killSuperblock(b);
    assert.equal(storedU64(b, 0), 0n);
    const v = checkSuperblock(b);
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.kind, 'no-superblock');
  });
});

describe('checkSuperblock rejections', () => {
  /** A valid v48 superblock with `patch` applied, re-CRCed unless `recrc` is false. */
  function patched(patch: (b: Buffer) => void, recrc = true): Buffer {
    const b = encodeSuperblock(newSb(48));
    patch(b);
    if (recrc) u64(b, 96, crcOf(b, 0, 96));
    return b;
  }
  function reject(b: Buffer): { kind: string; reason: string } {
    const v = checkSuperblock(b);
    if (v.ok) assert.fail('superblock was accepted');
    return { kind: v.kind, reason: v.reason };
  }

  test('accepts versions 47 and 48 and alloc unit 4096', () => {
    assert.equal(checkSuperblock(encodeSuperblock(newSb(47))).ok, true);
    assert.equal(checkSuperblock(encodeSuperblock(newSb(48))).ok, true);
    assert.equal(checkSuperblock(patched((b) => u64(b, 32, 4096))).ok, true);
  });

  test('wrong magic → no-superblock', () => {
    const r = reject(patched((b) => u64(b, 0, 0x87b282fe)));
    assert.equal(r.kind, 'no-superblock');
    assert.match(r.reason, /magic/);
    assert.match(r.reason, /87b282fe/);
    const zero = reject(Buffer.alloc(200));
    assert.equal(zero.kind, 'no-superblock');
    const ff = reject(patched((b) => b.fill(0xff, 0, 8)));
    assert.equal(ff.kind, 'no-superblock');
    assert.match(ff.reason, /ffffffffffffffff/, 'a magic above 2^53 is still printed exactly');
  });

  for (const version of [46, 49]) {
    test(`version ${version} → bad-version naming the version found`, () => {
      // famfs checks the version before the CRC: a stale CRC still yields bad-version.
      for (const recrc of [true, false]) {
        const r = reject(patched((b) => u64(b, 8, version), recrc));
        assert.equal(r.kind, 'bad-version');
        assert.match(r.reason, new RegExp(`\\b${version}\\b`));
      }
    });
  }

  test('CRC mismatch → corrupt', () => {
    const r = reject(patched((b) => (b[50] ^= 0x01), false));
    assert.equal(r.kind, 'corrupt');
    assert.match(r.reason, /CRC/);
    const r2 = reject(patched((b) => u64(b, 96, 0x6fd513c3), false));
    assert.equal(r2.kind, 'corrupt');
  });

  test('alloc unit 8192 → corrupt', () => {
    const r = reject(patched((b) => u64(b, 32, 8192)));
    assert.equal(r.kind, 'corrupt');
    assert.match(r.reason, /8192/);
  });

  test('OMF major 1 → bad-version', () => {
    const r = reject(patched((b) => u32(b, 40, 1)));
    assert.equal(r.kind, 'bad-version');
    assert.match(r.reason, /OMF 1\./);
  });

  test('log offset other than 0x200000 → corrupt', () => {
    const r = reject(patched((b) => u64(b, 16, 0x400000)));
    assert.equal(r.kind, 'corrupt');
    assert.match(r.reason, /log offset/);
    assert.match(r.reason, /0x400000/);
  });
});

describe('logHeaderProblem', () => {
  const LEN = 8 * MiB;
  const LAST = 15419;

  test('a valid header, including a full log (next_index = last_index + 1), has no problem', () => {
    assert.equal(logHeaderProblem(encodeLogHeader(LEN), LEN), null);
    assert.equal(logHeaderProblem(handLogHeader(LEN, LAST, 99, 98), LEN), null);
    assert.equal(logHeaderProblem(handLogHeader(LEN, LAST, LAST + 1, LAST + 1), LEN), null);
  });

  test('bad magic', () => {
    const b = handLogHeader(LEN, LAST);
    u64(b, 0, 0xbadcafef00en);
    u64(b, 24, crcOf(b, 0, 24));
    assert.match(logHeaderProblem(b, LEN) ?? '', /magic/);
  });

  test('bad CRC', () => {
    const b = handLogHeader(LEN, LAST);
    u64(b, 24, 0xa5875079);
    assert.match(logHeaderProblem(b, LEN) ?? '', /CRC/);
  });

  test('length differs from the superblock', () => {
    assert.match(logHeaderProblem(handLogHeader(LEN, LAST), 16 * MiB) ?? '', /length/);
  });

  test('last_index wrong for the length', () => {
    const p = logHeaderProblem(handLogHeader(LEN, LAST + 1), LEN);
    assert.match(p ?? '', /last_index/);
    assert.match(p ?? '', /15420/);
  });

  test('next_index beyond the log', () => {
    assert.match(logHeaderProblem(handLogHeader(LEN, LAST, 0, LAST + 2), LEN) ?? '', /next_index/);
    const huge = handLogHeader(LEN, LAST);
    huge.fill(0xff, 40, 48);
    assert.match(logHeaderProblem(huge, LEN) ?? '', /next_index/);
  });
});

describe('log entry golden bytes', () => {
  const SIMPLE_FILE = {
    seqnum: 5,
    size: 5 * MiB + 123,
    flags: 2,
    uid: 1000,
    gid: 1001,
    mode: 0o644,
    relpath: 'vols/pv-1/data',
    extents: [
      { devIndex: 0, offset: 0xa00000, length: 2 * MiB },
      { devIndex: 0, offset: 5 * 1024 * MiB, length: 4 * MiB }, // offset > 2^32
    ],
  };

  function handSimpleFile(): Buffer {
    const f = SIMPLE_FILE;
    const b = Buffer.alloc(544);
    u64(b, 0, f.seqnum);
    u32(b, 8, 0);
    u64(b, 16, f.size);
    u32(b, 24, f.flags);
    u32(b, 28, f.uid);
    u32(b, 32, f.gid);
    u32(b, 36, f.mode);
    b.write(f.relpath, 40, 'utf8');
    u32(b, 120, 0); // FAMFS_EXT_SIMPLE
    u32(b, 128, f.extents.length);
    f.extents.forEach((e, k) => {
      u64(b, 136 + 24 * k, e.devIndex);
      u64(b, 136 + 24 * k + 8, e.offset);
      u64(b, 136 + 24 * k + 16, e.length);
    });
    return sealEntry(b);
  }

  const STRIPED = {
    seqnum: 9,
    size: 16 * MiB + 5,
    chunk: 2 * MiB,
    strips: [
      { devIndex: 0, offset: 0x1000000, length: 6 * MiB },
      { devIndex: 0, offset: 0x4000000, length: 6 * MiB },
      { devIndex: 0, offset: 0x8000000, length: 6 * MiB },
    ],
  };

  function handStripedFile(): Buffer {
    const s = STRIPED;
    const b = Buffer.alloc(544);
    u64(b, 0, s.seqnum);
    u32(b, 8, 0);
    u64(b, 16, s.size);
    u32(b, 24, 2);
    u32(b, 28, 0);
    u32(b, 32, 0);
    u32(b, 36, 0o600);
    b.write('striped', 40, 'utf8');
    u32(b, 120, 1); // FAMFS_EXT_INTERLEAVE
    u32(b, 128, 1); // fmap_niext
    u64(b, 136, s.strips.length); // ie_nstrips
    u64(b, 144, s.chunk); // ie_chunk_size
    s.strips.forEach((e, k) => {
      u64(b, 152 + 24 * k, e.devIndex);
      u64(b, 152 + 24 * k + 8, e.offset);
      u64(b, 152 + 24 * k + 16, e.length);
    });
    return sealEntry(b);
  }

  function handDir(type: 1 | 2, seqnum: number, relpath: string, uid: number, gid: number, mode: number): Buffer {
    const b = Buffer.alloc(544);
    u64(b, 0, seqnum);
    u32(b, 8, type);
    u32(b, 16, uid);
    u32(b, 20, gid);
    u32(b, 24, mode);
    b.write(relpath, 28, 'utf8');
    return sealEntry(b);
  }

  function handAddDaxdev(seqnum: number): Buffer {
    const b = Buffer.alloc(544);
    u64(b, 0, seqnum);
    u32(b, 8, 3);
    u64(b, 16, 16 * 1024 * MiB);
    uuidBytes('0a0b0c0d-1111-2222-3333-444455556666').copy(b, 24);
    u32(b, 40, 1);
    return sealEntry(b);
  }

  test('FILE entry with 2 simple extents decodes field by field and re-encodes identically', () => {
    const b = handSimpleFile();
    const e = decodeEntry(b, 0, 48);
    assert.equal(e.type, 'file');
    const f = e as FileEntry;
    assert.equal(f.seqnum, 5);
    assert.equal(f.crc, crcOf(b, 0, 536));
    assert.equal(f.size, SIMPLE_FILE.size);
    assert.equal(f.flags, 2);
    assert.equal(f.uid, 1000);
    assert.equal(f.gid, 1001);
    assert.equal(f.mode, 0o644);
    assert.equal(f.relpath, 'vols/pv-1/data');
    assert.deepEqual(f.fmap, { kind: 'simple', extents: SIMPLE_FILE.extents });
    assert.equal(f.layoutProblem, undefined, 'a valid fmap header has no layout problem');
    assert.deepEqual(encodeEntry(asNew(f), 5), b);
    assert.deepEqual(decodeEntry(b, 0, 47), f, 'FILE decodes the same under version 47');
  });

  test('FILE entry with an interleaved extent of 3 strips decodes field by field and re-encodes identically', () => {
    const b = handStripedFile();
    const f = decodeEntry(b, 0, 48) as FileEntry;
    assert.equal(f.type, 'file');
    assert.equal(f.seqnum, 9);
    assert.equal(f.crc, crcOf(b, 0, 536));
    assert.equal(f.size, STRIPED.size);
    assert.equal(f.flags, 2);
    assert.equal(f.uid, 0);
    assert.equal(f.gid, 0);
    assert.equal(f.mode, 0o600);
    assert.equal(f.relpath, 'striped');
    assert.deepEqual(f.fmap, { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: STRIPED.strips }] });
    assert.equal(f.layoutProblem, undefined);
    assert.deepEqual(encodeEntry(asNew(f), 9), b);
  });

  test('MKDIR entry decodes field by field and re-encodes identically', () => {
    const b = handDir(1, 0, 'vols', 0, 0, 0o755);
    const d = decodeEntry(b, 0, 48) as DirEntry;
    assert.deepEqual(d, { type: 'mkdir', seqnum: 0, crc: crcOf(b, 0, 536), uid: 0, gid: 0, mode: 0o755, relpath: 'vols' });
    assert.deepEqual(encodeEntry(asNew(d), 0), b);
  });

  test('DELETE entry (type 2) decodes field by field and re-encodes identically', () => {
    const b = handDir(2, 17, 'vols/pv-1', 65534, 65533, 0o700);
    const d = decodeEntry(b, 0, 48) as DirEntry;
    assert.deepEqual(d, { type: 'delete', seqnum: 17, crc: crcOf(b, 0, 536), uid: 65534, gid: 65533, mode: 0o700, relpath: 'vols/pv-1' });
    assert.deepEqual(encodeEntry(asNew(d), 17), b);
  });

  test('ADD_DAXDEV (type 3) under version 48 decodes field by field and re-encodes identically', () => {
    const b = handAddDaxdev(3);
    const x = decodeEntry(b, 0, 48) as AddDaxdevEntry;
    assert.deepEqual(x, {
      type: 'addDaxdev',
      seqnum: 3,
      crc: crcOf(b, 0, 536),
      deviceSize: 16 * 1024 * MiB,
      deviceUuid: '0a0b0c0d-1111-2222-3333-444455556666',
      deviceIndex: 1,
    });
    assert.deepEqual(encodeEntry(asNew(x), 3), b);
  });

  test('type 3 under version 47 is FAMFS_LOG_INVALID → unknown; types ≥ 4 are unknown in both', () => {
    const b = handAddDaxdev(3);
    assert.deepEqual(decodeEntry(b, 0, 47), { type: 'unknown', seqnum: 3, crc: crcOf(b, 0, 536), rawType: 3 });
    for (const rawType of [4, 5, 0xffffffff]) {
      const c = Buffer.from(b);
      u32(c, 8, rawType);
      for (const version of [47, 48]) {
        const e = decodeEntry(c, 0, version);
        assert.equal(e.type, 'unknown');
        assert.equal((e as { rawType: number }).rawType, rawType);
      }
    }
  });

  test('decodeEntry and entryCrc honour a non-zero offset into a log region', () => {
    const region = Buffer.alloc(48 + 3 * 544, 0xee);
    handDir(1, 0, 'a', 0, 0, 0o755).copy(region, 48);
    handSimpleFile().copy(region, 48 + 544);
    handDir(2, 2, 'a/b', 1, 1, 0o755).copy(region, 48 + 2 * 544);
    assert.deepEqual(decodeEntry(region, 48, 48), decodeEntry(handDir(1, 0, 'a', 0, 0, 0o755), 0, 48));
    assert.deepEqual(decodeEntry(region, 48 + 544, 48), decodeEntry(handSimpleFile(), 0, 48));
    assert.equal(entryCrc(region, 48 + 2 * 544), crcOf(region, 48 + 2 * 544, 48 + 2 * 544 + 536));
    assert.equal((decodeEntry(region, 48 + 2 * 544, 48) as DirEntry).relpath, 'a/b');
  });
});

describe('log entry round trip', () => {
  const file: Extract<NewLogEntry, { type: 'file' }> = {
    type: 'file',
    relpath: 'd/f',
    size: 3 * MiB,
    flags: 2,
    uid: 12,
    gid: 34,
    mode: 0o640,
    fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 10 * MiB, length: 4 * MiB }] },
  };
  const max16: NewLogEntry = {
    type: 'file',
    relpath: 'x'.repeat(MAX_LOGGED_RELPATH_BYTES),
    size: 32 * MiB,
    flags: 0,
    uid: 0xffffffff,
    gid: 0,
    mode: 0o777,
    fmap: { kind: 'simple', extents: Array.from({ length: 16 }, (_, k) => ({ devIndex: 0, offset: (10 + 2 * k) * MiB, length: 2 * MiB })) },
  };
  const striped: NewLogEntry = {
    type: 'file',
    relpath: 'été/ß',
    size: 30 * MiB,
    flags: 2,
    uid: 0,
    gid: 0,
    mode: 0o644,
    fmap: { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: Array.from({ length: 16 }, (_, k) => ({ devIndex: 0, offset: (64 + 4 * k) * MiB, length: 2 * MiB })) }] },
  };
  const mkdir: NewLogEntry = { type: 'mkdir', relpath: 'd', uid: 1, gid: 2, mode: 0o755 };
  const del: NewLogEntry = { type: 'delete', relpath: 'd/f', uid: 0, gid: 0, mode: 0 };
  const dax: NewLogEntry = { type: 'addDaxdev', deviceSize: 4096 * MiB, deviceUuid: UUID_DEV, deviceIndex: 7 };
  const all: [string, NewLogEntry, number][] = [
    ['file (simple)', file, 0],
    ['file (16 simple extents, 79-byte path)', max16, 1],
    ['file (interleaved, 16 strips, UTF-8 path)', striped, 2],
    ['mkdir', mkdir, 3],
    ['delete', del, 15419],
    ['addDaxdev', dax, 2 ** 40 + 3],
  ];

  /** Byte ranges inside [0, 536) no field of this entry may use: all must be zero. */
  function unusedRanges(e: NewLogEntry): [number, number][] {
    const pad: [number, number][] = [[12, 16]];
    switch (e.type) {
      case 'file': {
        const tail = e.fmap.kind === 'simple' ? 136 + 24 * e.fmap.extents.length : 152 + 24 * e.fmap.extents[0]!.strips.length;
        return [...pad, [40 + Buffer.byteLength(e.relpath), 120], [124, 128], [132, 136], [tail, 536]];
      }
      case 'mkdir':
      case 'delete':
        return [...pad, [28 + Buffer.byteLength(e.relpath), 108], [108, 536]];
      case 'addDaxdev':
        return [...pad, [44, 536]];
    }
  }

  for (const [name, entry, seqnum] of all) {
    test(`${name}: encode → decode round trip, CRC over [0,536), padding zero, seqnum stored`, () => {
      const b = encodeEntry(entry, seqnum);
      assert.equal(b.length, LOG_ENTRY_SIZE);
      assert.equal(storedU64(b, 0), BigInt(seqnum), 'seqnum at offset 0 as u64');
      assert.equal(storedU64(b, ENTRY_CRC_OFFSET), BigInt(crcOf(b, 0, 536)), 'CRC at 536 over [0,536)');
      assert.equal(entryCrc(b), crcOf(b, 0, 536));
      for (const [s, e] of unusedRanges(entry)) assertZero(b, s, e, `${name} [${s},${e})`);

      const d = decodeEntry(b, 0, 48);
      assert.equal(d.seqnum, seqnum);
      assert.equal(d.crc, crcOf(b, 0, 536));
      assert.deepEqual(asNew(d), entry);

      // Every covered byte, padding included, changes the CRC; the CRC slot itself does not.
      const base = entryCrc(b);
      for (const i of [0, 8, 12, 15, 16, 100, 200, 535]) {
        const c = Buffer.from(b);
        c[i] ^= 0x80;
        assert.notEqual(entryCrc(c), base, `byte ${i} is CRC-covered`);
      }
      const c = Buffer.from(b);
      c.fill(0x55, 536, 544);
      assert.equal(entryCrc(c), base);
    });
  }

  test('encodeEntry refuses what a famfs entry cannot hold', () => {
    assert.throws(() => encodeEntry({ ...mkdir, relpath: 'y'.repeat(80) }, 0), RangeError);
    assert.throws(() => encodeEntry({ ...mkdir, relpath: 'é'.repeat(40) }, 0), RangeError, '80 bytes in 40 characters');
    assert.doesNotThrow(() => encodeEntry({ ...mkdir, relpath: 'y'.repeat(79) }, 0));
    const simple = (n: number): NewLogEntry => ({ ...file, fmap: { kind: 'simple', extents: Array.from({ length: n }, (_, k) => ({ devIndex: 0, offset: (10 + 2 * k) * MiB, length: 2 * MiB })) } });
    assert.throws(() => encodeEntry(simple(0), 0), RangeError);
    assert.throws(() => encodeEntry(simple(17), 0), RangeError);
    const strips = (n: number) => Array.from({ length: n }, (_, k) => ({ devIndex: 0, offset: (10 + 2 * k) * MiB, length: 2 * MiB }));
    assert.throws(() => encodeEntry({ ...file, fmap: { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: strips(17) }] } }, 0), RangeError);
    assert.throws(() => encodeEntry({ ...file, fmap: { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: strips(0) }] } }, 0), RangeError);
    assert.throws(
      () =>
        encodeEntry(
          {
            ...file,
            fmap: {
              kind: 'interleaved',
              extents: [
                { chunkSize: 2 * MiB, strips: strips(2) },
                { chunkSize: 2 * MiB, strips: strips(2) },
              ],
            },
          },
          0,
        ),
      RangeError,
    );
    assert.throws(() => encodeEntry(mkdir, -1), RangeError);
  });
});

describe('relpathProblem', () => {
  test('accepts ordinary relative paths', () => {
    for (const p of ['a', 'a/b', 'vols/pv-1/data.bin', '.hidden', 'a/..b', 'a/b.', '...']) assert.equal(relpathProblem(p), null, p);
  });

  test('empty', () => {
    assert.match(relpathProblem('') ?? '', /empty/);
  });

  test('absolute', () => {
    assert.match(relpathProblem('/a') ?? '', /absolute/);
    assert.notEqual(relpathProblem('//'), null);
  });

  test("'..' and '.' components", () => {
    for (const p of ['..', '../a', 'a/..', 'a/../b', '.', './a', 'a/.', 'a/./b']) assert.notEqual(relpathProblem(p), null, p);
  });

  test("'//' (empty component) and a trailing '/'", () => {
    for (const p of ['a//b', 'a/', 'a/b/']) assert.match(relpathProblem(p) ?? '', /empty/, p);
  });

  test('too long: 79 bytes for create (78 allowed), 80 bytes for logged paths (79 allowed)', () => {
    assert.equal(relpathProblem('a'.repeat(78)), null);
    assert.match(relpathProblem('a'.repeat(79)) ?? '', /79 bytes/);
    assert.equal(relpathProblem('a'.repeat(79), MAX_LOGGED_RELPATH_BYTES), null);
    assert.match(relpathProblem('a'.repeat(80), MAX_LOGGED_RELPATH_BYTES) ?? '', /80 bytes/);
    // bytes, not characters: 39 × 'é' = 78 bytes, 40 × 'é' = 80 bytes
    assert.equal(relpathProblem('é'.repeat(39)), null);
    assert.notEqual(relpathProblem('é'.repeat(40)), null);
    assert.equal(relpathProblem(`${'a'.repeat(38)}/${'b'.repeat(39)}`), null);
  });

  test('NUL byte', () => {
    assert.match(relpathProblem('a\0b') ?? '', /NUL/);
    assert.match(relpathProblem('\0') ?? '', /NUL/);
  });
});
