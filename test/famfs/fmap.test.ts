/**
 * Pure fmap address math (resolveOffset, mapFileRange) and the GET_FMAP reply encoding
 * (famfs FUSE kernel ABI RFC V2, /work/shared/reference/famfs-fuse-kernel-abi.md §2.4–2.8).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FMAP_HEADER_SIZE,
  FMAP_MSG_MAX_SIZE,
  FMAP_MSG_MIN_SIZE,
  FuseFamfsFileType,
  MiB,
  GiB,
  encodeGetFmapReply,
  fmapCapacity,
  fmapMessageSize,
  mapFileRange,
  resolveOffset,
} from '../../src/famfs/index.js';
import type { DeviceSegment, Fmap, SimpleExtent } from '../../src/famfs/index.js';

function ext(offset: number, length: number, devIndex = 0): SimpleExtent {
  return { devIndex, offset, length };
}

// ---- a brute-force model: where each file byte lives, built by dealing chunks out to strips ----

type Loc = { dev: number; addr: number };

function modelBytes(fmap: Fmap, fileSize: number): Loc[] {
  const out: Loc[] = [];
  if (fmap.kind === 'simple') {
    for (const e of fmap.extents) for (let j = 0; j < e.length && out.length < fileSize; j++) out.push({ dev: e.devIndex, addr: e.offset + j });
    return out;
  }
  for (const ie of fmap.extents) {
    const sum = ie.strips.reduce((n, s) => n + s.length, 0);
    const stop = out.length + Math.min(sum, fileSize - out.length);
    const fill = ie.strips.map(() => 0); // bytes already dealt to each strip
    for (let chunk = 0; out.length < stop; chunk++) {
      const s = chunk % ie.strips.length;
      const strip = ie.strips[s]!;
      for (let j = 0; j < ie.chunkSize && out.length < stop; j++) {
        assert.ok(fill[s]! + j < strip.length, 'model geometry overflows a strip');
        out.push({ dev: strip.devIndex, addr: strip.offset + fill[s]! + j });
      }
      fill[s]! += ie.chunkSize;
    }
  }
  return out;
}

function expand(segs: DeviceSegment[]): Loc[] {
  const out: Loc[] = [];
  for (const s of segs) for (let j = 0; j < s.length; j++) out.push({ dev: s.devIndex, addr: s.deviceOffset + j });
  return out;
}

/** Checks mapFileRange(0, size) and resolveOffset at every byte against the model. */
function checkAgainstModel(fmap: Fmap, size: number, label: string): void {
  const model = modelBytes(fmap, size);
  assert.equal(model.length, size, `${label}: geometry covers the file`);

  const segs = mapFileRange(fmap, size, 0, size);
  // File side: segments are in order, contiguous, non-empty, and partition [0, size).
  let pos = 0;
  for (const s of segs) {
    assert.equal(s.fileOffset, pos, `${label}: segment starts where the previous ended`);
    assert.ok(s.length > 0, `${label}: no empty segment`);
    pos += s.length;
  }
  assert.equal(pos, size, `${label}: segments cover the whole file`);
  // Device side: exactly the model's bytes, none twice.
  assert.deepEqual(expand(segs), model, `${label}: whole-file mapping`);
  assert.equal(new Set(model.map((l) => `${l.dev}:${l.addr}`)).size, size, `${label}: no device byte used twice`);
  // Adjacent segments that are contiguous on the same device are merged.
  for (let i = 1; i < segs.length; i++) {
    const a = segs[i - 1]!;
    const b = segs[i]!;
    assert.ok(!(a.devIndex === b.devIndex && a.deviceOffset + a.length === b.deviceOffset), `${label}: segments ${i - 1} and ${i} should have been merged`);
  }

  for (let off = 0; off < size; off++) {
    const r = resolveOffset(fmap, size, off);
    assert.equal(r.fileOffset, off);
    assert.deepEqual({ dev: r.devIndex, addr: r.deviceOffset }, model[off], `${label}: resolveOffset(${off})`);
    assert.ok(r.length >= 1 && off + r.length <= size, `${label}: resolveOffset(${off}).length in range`);
    for (let j = 1; j < r.length; j++) assert.deepEqual(model[off + j], { dev: r.devIndex, addr: r.deviceOffset + j }, `${label}: run from ${off} is contiguous`);
  }

  // Every sub-range agrees with the model too.
  for (let off = 0; off < size; off += 3) {
    for (const len of [1, 2, 5, 11, size]) {
      const sub = mapFileRange(fmap, size, off, len);
      assert.deepEqual(expand(sub), model.slice(off, Math.min(off + len, size)), `${label}: mapFileRange(${off}, ${len})`);
    }
  }
}

function interleaved(nstrips: number, chunkSize: number, stripLen: number, first = 1000, gap = 1000): Fmap {
  return {
    kind: 'interleaved',
    extents: [{ chunkSize, strips: Array.from({ length: nstrips }, (_, k) => ext(first + k * gap, stripLen, k % 2)) }],
  };
}

describe('simple fmaps', () => {
  const fmap: Fmap = { kind: 'simple', extents: [ext(10 * MiB, 2 * MiB), ext(20 * MiB, 4 * MiB), ext(40 * MiB, 2 * MiB)] };
  const size = 7 * MiB; // the last extent is only half used

  test('resolveOffset walks the extents in order; the last one is cut at the file size', () => {
    assert.deepEqual(resolveOffset(fmap, size, 0), { devIndex: 0, deviceOffset: 10 * MiB, fileOffset: 0, length: 2 * MiB });
    assert.deepEqual(resolveOffset(fmap, size, 2 * MiB - 1), { devIndex: 0, deviceOffset: 12 * MiB - 1, fileOffset: 2 * MiB - 1, length: 1 });
    assert.deepEqual(resolveOffset(fmap, size, 2 * MiB), { devIndex: 0, deviceOffset: 20 * MiB, fileOffset: 2 * MiB, length: 4 * MiB });
    assert.deepEqual(resolveOffset(fmap, size, 6 * MiB + 5), { devIndex: 0, deviceOffset: 40 * MiB + 5, fileOffset: 6 * MiB + 5, length: MiB - 5 });
    assert.deepEqual(resolveOffset(fmap, size, size - 1), { devIndex: 0, deviceOffset: 41 * MiB - 1, fileOffset: size - 1, length: 1 });
  });

  test('mapFileRange splits at extent boundaries and clamps at the end of the file', () => {
    assert.deepEqual(mapFileRange(fmap, size, 0, size), [
      { devIndex: 0, deviceOffset: 10 * MiB, fileOffset: 0, length: 2 * MiB },
      { devIndex: 0, deviceOffset: 20 * MiB, fileOffset: 2 * MiB, length: 4 * MiB },
      { devIndex: 0, deviceOffset: 40 * MiB, fileOffset: 6 * MiB, length: MiB },
    ]);
    assert.deepEqual(mapFileRange(fmap, size, MiB, 2 * MiB), [
      { devIndex: 0, deviceOffset: 11 * MiB, fileOffset: MiB, length: MiB },
      { devIndex: 0, deviceOffset: 20 * MiB, fileOffset: 2 * MiB, length: MiB },
    ]);
    assert.deepEqual(mapFileRange(fmap, size, 6 * MiB, 100 * MiB), [{ devIndex: 0, deviceOffset: 40 * MiB, fileOffset: 6 * MiB, length: MiB }]);
    assert.deepEqual(mapFileRange(fmap, size, size, 4096), [], 'a range starting at EOF is empty');
    assert.deepEqual(mapFileRange(fmap, size, 3, 0), [], 'an empty range is empty');
  });

  test('device-contiguous extents merge into one segment, but never across devices', () => {
    const contiguous: Fmap = { kind: 'simple', extents: [ext(10 * MiB, 2 * MiB), ext(12 * MiB, 2 * MiB), ext(14 * MiB, 2 * MiB)] };
    assert.deepEqual(mapFileRange(contiguous, 6 * MiB, 0, 6 * MiB), [{ devIndex: 0, deviceOffset: 10 * MiB, fileOffset: 0, length: 6 * MiB }]);
    const twoDevs: Fmap = { kind: 'simple', extents: [ext(10 * MiB, 2 * MiB, 0), ext(12 * MiB, 2 * MiB, 1)] };
    assert.equal(mapFileRange(twoDevs, 4 * MiB, 0, 4 * MiB).length, 2);
  });

  test('u64-sized device offsets (beyond 4 GiB) are kept exact', () => {
    const big: Fmap = { kind: 'simple', extents: [ext(6 * GiB, 2 * MiB), ext(3 * 1024 * GiB, 2 * MiB)] };
    assert.equal(resolveOffset(big, 4 * MiB, 3 * MiB + 7).deviceOffset, 3 * 1024 * GiB + MiB + 7);
  });

  test('whole-file mapping matches a brute-force model (several geometries)', () => {
    const geoms: [Fmap, number[]][] = [
      [{ kind: 'simple', extents: [ext(100, 5), ext(200, 3, 1), ext(300, 7)] }, [15, 12, 8, 6, 1]],
      [{ kind: 'simple', extents: [ext(100, 4), ext(104, 4), ext(50, 4), ext(54, 4, 1)] }, [16, 13, 9]],
      [{ kind: 'simple', extents: [ext(0, 1)] }, [1]],
    ];
    for (const [fmap, sizes] of geoms) for (const size of sizes) checkAgainstModel(fmap, size, `simple ${JSON.stringify(fmap.extents)} size ${size}`);
  });
});

describe('interleaved fmaps', () => {
  test('kernel doc worked example: 4 strips, 2 MiB chunks, 24 MiB file; offset 15 MiB → chunk 7 → strip 3 at 3 MiB', () => {
    const strips = [ext(100 * MiB, 6 * MiB), ext(200 * MiB, 6 * MiB), ext(300 * MiB, 6 * MiB), ext(400 * MiB, 6 * MiB)];
    const fmap: Fmap = { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips }] };
    const size = 24 * MiB;
    // chunk_num 7 = 15 MiB / 2 MiB, chunk_offset 1 MiB, stripe 1, strip 3, strip_offset 1 MiB + 2 MiB
    assert.deepEqual(resolveOffset(fmap, size, 15 * MiB), { devIndex: 0, deviceOffset: 400 * MiB + 3 * MiB, fileOffset: 15 * MiB, length: MiB });
    assert.deepEqual(resolveOffset(fmap, size, 0), { devIndex: 0, deviceOffset: 100 * MiB, fileOffset: 0, length: 2 * MiB });
    assert.deepEqual(resolveOffset(fmap, size, 2 * MiB), { devIndex: 0, deviceOffset: 200 * MiB, fileOffset: 2 * MiB, length: 2 * MiB });
    assert.deepEqual(resolveOffset(fmap, size, 8 * MiB), { devIndex: 0, deviceOffset: 102 * MiB, fileOffset: 8 * MiB, length: 2 * MiB });
    assert.deepEqual(resolveOffset(fmap, size, 24 * MiB - 1), { devIndex: 0, deviceOffset: 406 * MiB - 1, fileOffset: 24 * MiB - 1, length: 1 });
    const segs = mapFileRange(fmap, size, 0, size);
    assert.equal(segs.length, 12);
    assert.ok(segs.every((s) => s.length === 2 * MiB));
    assert.deepEqual(segs[7], { devIndex: 0, deviceOffset: 402 * MiB, fileOffset: 14 * MiB, length: 2 * MiB });
  });

  test('a partial last chunk is cut at the file size', () => {
    const fmap = interleaved(4, 2 * MiB, 6 * MiB, 100 * MiB, 100 * MiB);
    const size = 23 * MiB;
    const last = mapFileRange(fmap, size, 0, size).at(-1)!;
    assert.equal(last.fileOffset, 22 * MiB);
    assert.equal(last.length, MiB);
    assert.equal(resolveOffset(fmap, size, 22 * MiB).length, MiB);
  });

  test('one strip degenerates to a contiguous extent (a single merged segment)', () => {
    const fmap = interleaved(1, 2 * MiB, 8 * MiB, 64 * MiB);
    assert.deepEqual(mapFileRange(fmap, 8 * MiB, 0, 8 * MiB), [{ devIndex: 0, deviceOffset: 64 * MiB, fileOffset: 0, length: 8 * MiB }]);
  });

  test('whole-file mapping covers every byte exactly once (brute-force model, several geometries)', () => {
    const geoms: [Fmap, number[]][] = [
      [interleaved(1, 4, 12), [12, 10, 1]],
      [interleaved(2, 4, 8, 0, 8), [16, 15, 3]], // strips back to back on alternating devices
      [interleaved(3, 4, 8), [24, 23, 17, 5]],
      [interleaved(4, 8, 24), [96, 95, 60]],
      [interleaved(5, 3, 9), [45, 44, 31]],
      [interleaved(16, 2, 4, 0, 4), [64, 63]],
      [
        {
          kind: 'interleaved',
          extents: [
            { chunkSize: 4, strips: [ext(1000, 8), ext(2000, 8, 1)] },
            { chunkSize: 2, strips: [ext(3000, 4), ext(4000, 4), ext(5000, 4, 1)] },
          ],
        },
        [28, 26, 17, 16, 9],
      ],
    ];
    for (const [fmap, sizes] of geoms) {
      for (const size of sizes) {
        assert.ok(size <= fmapCapacity(fmap));
        checkAgainstModel(fmap, size, `interleaved ${JSON.stringify(fmap.extents)} size ${size}`);
      }
    }
  });
});

describe('out-of-range offsets', () => {
  const simple: Fmap = { kind: 'simple', extents: [ext(10 * MiB, 2 * MiB)] };
  const striped = interleaved(2, 4, 8);

  test('resolveOffset throws RangeError outside [0, size) or for non-integers', () => {
    for (const [fmap, size] of [
      [simple, 2 * MiB],
      [striped, 16],
    ] as const) {
      for (const off of [-1, size, size + 1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
        assert.throws(() => resolveOffset(fmap, size, off), RangeError, `offset ${off}`);
      }
    }
  });

  test('offsets past what the extents address throw RangeError (file size larger than the fmap)', () => {
    assert.throws(() => resolveOffset(simple, 3 * MiB, 2 * MiB), RangeError);
    assert.throws(() => mapFileRange(simple, 3 * MiB, 0, 3 * MiB), RangeError);
    assert.throws(() => resolveOffset(striped, 20, 16), RangeError);
    assert.throws(() => mapFileRange(striped, 20, 10, 10), RangeError);
  });

  test('mapFileRange with a negative offset throws RangeError', () => {
    assert.throws(() => mapFileRange(simple, 2 * MiB, -1, 10), RangeError);
  });
});

describe('GET_FMAP reply encoding', () => {
  function header(fileType: number, extType: number, nextents: number, fileSize: number): Buffer {
    const h = Buffer.alloc(32);
    h.writeUInt8(fileType, 0);
    h.writeUInt16LE(1, 2); // fmap_version
    h.writeUInt32LE(extType, 4);
    h.writeUInt32LE(nextents, 8);
    h.writeBigUInt64LE(BigInt(fileSize), 16);
    return h;
  }
  function simpleExt(devIndex: number, offset: number, len: number): Buffer {
    const b = Buffer.alloc(24);
    b.writeUInt32LE(devIndex, 0);
    b.writeBigUInt64LE(BigInt(offset), 8);
    b.writeBigUInt64LE(BigInt(len), 16);
    return b;
  }
  function iext(nstrips: number, chunkSize: number, nbytes: number): Buffer {
    const b = Buffer.alloc(24);
    b.writeUInt32LE(nstrips, 0);
    b.writeUInt32LE(chunkSize, 4);
    b.writeBigUInt64LE(BigInt(nbytes), 8);
    return b;
  }

  test('simple fmap: exact bytes (header 32 + 24 per extent)', () => {
    const fmap: Fmap = { kind: 'simple', extents: [ext(0xa00000, 2 * MiB), ext(5 * GiB, 4 * MiB)] };
    const size = 5 * MiB + 3;
    const reply = encodeGetFmapReply(fmap, size, FuseFamfsFileType.regular);
    const expected = Buffer.concat([header(0, 0, 2, size), simpleExt(0, 0xa00000, 2 * MiB), simpleExt(0, 5 * GiB, 4 * MiB)]);
    assert.equal(reply.length, 80);
    assert.equal(reply.toString('hex'), expected.toString('hex'));
    assert.equal(reply.readUInt8(1), 0, 'reserved');
    assert.equal(reply.readUInt32LE(12), 0, 'reserved0');
    assert.equal(reply.readBigUInt64LE(24), 0n, 'reserved1');
    assert.equal(reply.readUInt32LE(FMAP_HEADER_SIZE + 4), 0, 'simple ext reserved');
  });

  test('file_type byte: superblock (1) and log (2) meta files', () => {
    const fmap: Fmap = { kind: 'simple', extents: [ext(0, 2 * MiB)] };
    const sb = encodeGetFmapReply(fmap, 2 * MiB, FuseFamfsFileType.superblock);
    assert.deepEqual(sb, Buffer.concat([header(1, 0, 1, 2 * MiB), simpleExt(0, 0, 2 * MiB)]));
    const log = encodeGetFmapReply({ kind: 'simple', extents: [ext(2 * MiB, 8 * MiB)] }, 8 * MiB, FuseFamfsFileType.log);
    assert.equal(log[0], 2);
    assert.equal(log.length, FMAP_MSG_MIN_SIZE);
  });

  test('interleaved fmap: exact bytes; ie_nbytes = min(sum of strip lengths, file size)', () => {
    const strips = [ext(0x1000000, 4 * MiB), ext(0x2000000, 4 * MiB), ext(0x3000000, 4 * MiB)];
    const fmap: Fmap = { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips }] };
    const size = 10 * MiB;
    const reply = encodeGetFmapReply(fmap, size, FuseFamfsFileType.regular);
    const expected = Buffer.concat([header(0, 1, 1, size), iext(3, 2 * MiB, 10 * MiB), ...strips.map((s) => simpleExt(s.devIndex, s.offset, s.length))]);
    assert.equal(reply.length, 32 + 24 + 3 * 24);
    assert.equal(reply.toString('hex'), expected.toString('hex'));
    assert.equal(reply.readBigUInt64LE(FMAP_HEADER_SIZE + 16), 0n, 'iext reserved');

    // A file exactly the size of the strips: ie_nbytes is the strip sum.
    const full = encodeGetFmapReply(fmap, 12 * MiB, FuseFamfsFileType.regular);
    assert.equal(full.readBigUInt64LE(FMAP_HEADER_SIZE + 8), BigInt(12 * MiB));
  });

  test('several interleaved extents: each covers min(its strips, bytes left)', () => {
    const a = { chunkSize: 2 * MiB, strips: [ext(16 * MiB, 6 * MiB), ext(32 * MiB, 6 * MiB)] };
    const b = { chunkSize: 4 * MiB, strips: [ext(64 * MiB, 8 * MiB), ext(96 * MiB, 8 * MiB)] };
    const size = 20 * MiB;
    const reply = encodeGetFmapReply({ kind: 'interleaved', extents: [a, b] }, size, FuseFamfsFileType.regular);
    const expected = Buffer.concat([
      header(0, 1, 2, size),
      iext(2, 2 * MiB, 12 * MiB),
      simpleExt(0, 16 * MiB, 6 * MiB),
      simpleExt(0, 32 * MiB, 6 * MiB),
      iext(2, 4 * MiB, 8 * MiB),
      simpleExt(0, 64 * MiB, 8 * MiB),
      simpleExt(0, 96 * MiB, 8 * MiB),
    ]);
    assert.equal(reply.toString('hex'), expected.toString('hex'));
  });

  test('fmapMessageSize: 32 + 24n simple, 32 + Σ(24 + 24·nstrips) interleaved', () => {
    const simple = (n: number): Fmap => ({ kind: 'simple', extents: Array.from({ length: n }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) });
    const striped = (ni: number, ns: number): Fmap => ({
      kind: 'interleaved',
      extents: Array.from({ length: ni }, () => ({ chunkSize: 2 * MiB, strips: Array.from({ length: ns }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) })),
    });
    assert.equal(fmapMessageSize(simple(1)), 56);
    assert.equal(fmapMessageSize(simple(1)), FMAP_MSG_MIN_SIZE);
    assert.equal(fmapMessageSize(simple(16)), 32 + 16 * 24);
    assert.equal(fmapMessageSize(simple(32)), 800);
    assert.equal(fmapMessageSize(striped(1, 3)), 32 + 24 + 72);
    assert.equal(fmapMessageSize(striped(32, 32)), 25376);
    assert.ok(fmapMessageSize(striped(32, 32)) <= FMAP_MSG_MAX_SIZE);
    for (const f of [simple(3), striped(2, 5)]) assert.equal(encodeGetFmapReply(f, 2 * MiB, FuseFamfsFileType.regular).length, fmapMessageSize(f));
  });

  test('overflow: a buffer too small gets a 4-byte reply holding the size needed; a buffer just big enough gets the fmap', () => {
    const fmap: Fmap = { kind: 'simple', extents: [ext(2 * MiB, 2 * MiB), ext(8 * MiB, 2 * MiB)] };
    const small = encodeGetFmapReply(fmap, 4 * MiB, FuseFamfsFileType.regular, 79);
    assert.equal(small.length, 4);
    assert.equal(small.readUInt32LE(0), 80);
    const exact = encodeGetFmapReply(fmap, 4 * MiB, FuseFamfsFileType.regular, 80);
    assert.equal(exact.length, 80);

    const big: Fmap = {
      kind: 'interleaved',
      extents: Array.from({ length: 8 }, () => ({ chunkSize: 2 * MiB, strips: Array.from({ length: 32 }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) })),
    };
    const need = 32 + 8 * (24 + 32 * 24);
    const r = encodeGetFmapReply(big, 4 * MiB, FuseFamfsFileType.regular, 4096);
    assert.deepEqual([...r], [...Buffer.from(Uint32Array.of(need).buffer)]);
    assert.equal(encodeGetFmapReply(big, 4 * MiB, FuseFamfsFileType.regular, need).length, need);
  });

  test('limits: 0 or more than 32 extents, 0 or more than 32 strips → RangeError', () => {
    const simple = (n: number): Fmap => ({ kind: 'simple', extents: Array.from({ length: n }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) });
    const striped = (ns: number): Fmap => ({ kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: Array.from({ length: ns }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) }] });
    assert.throws(() => encodeGetFmapReply(simple(0), 0, FuseFamfsFileType.regular), RangeError);
    assert.throws(() => encodeGetFmapReply(simple(33), 2 * MiB, FuseFamfsFileType.regular), RangeError);
    assert.equal(encodeGetFmapReply(simple(32), 2 * MiB, FuseFamfsFileType.regular).length, 800);
    assert.throws(() => encodeGetFmapReply({ kind: 'interleaved', extents: [] }, 2 * MiB, FuseFamfsFileType.regular), RangeError);
    const tooMany = { kind: 'interleaved', extents: Array.from({ length: 33 }, () => ({ chunkSize: 2 * MiB, strips: [ext(2 * MiB, 2 * MiB)] })) } as Fmap;
    assert.throws(() => encodeGetFmapReply(tooMany, 2 * MiB, FuseFamfsFileType.regular), RangeError);
    assert.throws(() => encodeGetFmapReply(striped(33), 2 * MiB, FuseFamfsFileType.regular), RangeError);
    assert.throws(() => encodeGetFmapReply(striped(0), 2 * MiB, FuseFamfsFileType.regular), RangeError);
    assert.equal(encodeGetFmapReply(striped(32), 2 * MiB, FuseFamfsFileType.regular).length, 32 + 24 + 32 * 24);
    assert.throws(
      () => encodeGetFmapReply({ kind: 'interleaved', extents: [{ chunkSize: 4 * GiB, strips: [ext(4 * GiB, 4 * GiB)] }] }, 2 * MiB, FuseFamfsFileType.regular),
      RangeError,
      'ie_chunk_size is a u32',
    );
  });

  test('limits are enforced whatever the kernel buffer size (no size-needed reply for an fmap the kernel must reject)', () => {
    const simple33: Fmap = { kind: 'simple', extents: Array.from({ length: 33 }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) };
    const striped33: Fmap = { kind: 'interleaved', extents: [{ chunkSize: 2 * MiB, strips: Array.from({ length: 33 }, (_, k) => ext((k + 1) * 2 * MiB, 2 * MiB)) }] };
    assert.throws(() => encodeGetFmapReply(simple33, 2 * MiB, FuseFamfsFileType.regular, 56), RangeError);
    assert.throws(() => encodeGetFmapReply(striped33, 2 * MiB, FuseFamfsFileType.regular, 56), RangeError);
  });
});
