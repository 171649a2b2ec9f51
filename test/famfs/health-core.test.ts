/**
 * The memory error core: error identity and wording (src/famfs/health/memoryError.ts), what an
 * error does to a file (src/famfs/health/damage.ts, cross-checked byte by byte against the fmap
 * address math), and the emulated poison list (src/famfs/health/poisonList.ts): its format,
 * injecting and clearing under the lock from several processes, and the polling source.
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, renameSync, rmSync, mkdirSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FamfsError } from '../../src/famfs/errors.js';
import { mapFileRange, resolveOffset } from '../../src/famfs/fmap.js';
import type { Fmap, InterleavedExtent, SimpleExtent } from '../../src/famfs/fmap.js';
import { damageUnder, deviceRangesOf, fileDamage, mergeRanges } from '../../src/famfs/health/damage.js';
import { MEMORY_ERROR_KINDS, describeError, describeRange, errorKey, hex, intersect, sortErrors } from '../../src/famfs/health/memoryError.js';
import type { ByteRange, MemoryError, MemoryErrorSource } from '../../src/famfs/health/memoryError.js';
import {
  EMULATED_ERROR_KINDS,
  EmulatedPoisonSource,
  POISON_LIST_VERSION,
  clearErrors,
  formatPoisonList,
  injectError,
  parsePoisonList,
  poisonEntryToError,
  poisonListPath,
  readPoisonList,
} from '../../src/famfs/health/poisonList.js';
import type { PoisonEntry } from '../../src/famfs/health/poisonList.js';
import { scratchDir, tmpPool } from '../helpers/tmpPool.js';

const POISON_LIST_MODULE = fileURLToPath(new URL('../../src/famfs/health/poisonList.js', import.meta.url));
const T0 = '2026-01-02T03:04:05.000Z';

function err(over: Partial<MemoryError> = {}): MemoryError {
  return { device: '/dev/dax0.0', range: { offset: 0x1000, length: 0x1000 }, kind: 'poison', firstSeen: T0, source: 'emulated', ...over };
}

// ---------------------------------------------------------------------------------------------
// memoryError.ts
// ---------------------------------------------------------------------------------------------

describe('errorKey', () => {
  test('names source, kind, device, range and first-seen time', () => {
    assert.equal(errorKey(err()), `emulated:poison:/dev/dax0.0:4096+4096:${T0}`);
    assert.equal(errorKey(err({ range: null, kind: 'offline', source: 'probe' })), `probe:offline:/dev/dax0.0:all:${T0}`);
  });

  test('the node that saw it and the detail are not part of the identity', () => {
    const k = errorKey(err());
    assert.equal(errorKey(err({ node: 'worker-1' })), k);
    assert.equal(errorKey(err({ node: 'worker-2', detail: 'something else' })), k);
  });

  test('every identifying field changes the key', () => {
    const k = errorKey(err());
    const variants: Partial<MemoryError>[] = [
      { device: '/dev/dax1.0' },
      { range: { offset: 0x1000, length: 0x2000 } },
      { range: { offset: 0x2000, length: 0x1000 } },
      { range: null },
      { kind: 'timeout' },
      { source: 'badblocks' },
      { firstSeen: '2026-01-02T03:04:06.000Z' },
    ];
    const keys = variants.map((v) => errorKey(err(v)));
    for (const other of keys) assert.notEqual(other, k);
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe('describeRange / hex', () => {
  test('hex', () => {
    assert.equal(hex(0), '0x0');
    assert.equal(hex(255), '0xff');
    assert.equal(hex(2 ** 40), '0x10000000000');
  });

  test('inclusive hex bounds and the length in bytes', () => {
    assert.equal(describeRange({ offset: 0x1000, length: 0x1000 }), 'bytes 0x1000-0x1fff (4096 bytes)');
    assert.equal(describeRange({ offset: 0, length: 1 }), 'bytes 0x0-0x0 (1 bytes)');
    assert.equal(describeRange({ offset: 0x2400000, length: 0x200000 }), 'bytes 0x2400000-0x25fffff (2097152 bytes)');
  });

  test('null is the whole device', () => {
    assert.equal(describeRange(null), 'the whole device');
  });
});

describe('describeError', () => {
  test('names kind, device, range, source, node, first seen and detail', () => {
    const s = describeError(err({ node: 'worker-1', detail: 'injected on host-a' }));
    assert.equal(s, `poison on /dev/dax0.0 bytes 0x1000-0x1fff (4096 bytes), reported by the emulated poison list on node worker-1, first seen ${T0} (injected on host-a)`);
  });

  test('without node and detail', () => {
    assert.equal(describeError(err({ range: null, kind: 'offline', source: 'probe' })), `offline on /dev/dax0.0 the whole device, reported by the device probe, first seen ${T0}`);
  });

  test('each source has a readable name', () => {
    const names: Record<MemoryErrorSource, RegExp> = {
      emulated: /reported by the emulated poison list,/,
      kmsg: /reported by the famfs kernel log \(\/dev\/kmsg\),/,
      badblocks: /reported by the pmem badblocks list,/,
      probe: /reported by the device probe,/,
    };
    for (const [source, re] of Object.entries(names)) assert.match(describeError(err({ source: source as MemoryErrorSource })), re);
  });
});

describe('intersect', () => {
  const cases: [ByteRange, ByteRange, ByteRange | null][] = [
    [{ offset: 0, length: 10 }, { offset: 5, length: 10 }, { offset: 5, length: 5 }],
    [{ offset: 0, length: 100 }, { offset: 10, length: 5 }, { offset: 10, length: 5 }],
    [{ offset: 7, length: 3 }, { offset: 7, length: 3 }, { offset: 7, length: 3 }],
    [{ offset: 0, length: 10 }, { offset: 10, length: 10 }, null], // touching is not overlapping
    [{ offset: 0, length: 10 }, { offset: 20, length: 10 }, null],
    [{ offset: 9, length: 1 }, { offset: 0, length: 10 }, { offset: 9, length: 1 }],
    [{ offset: 5, length: 0 }, { offset: 0, length: 10 }, null], // empty
  ];
  for (const [a, b, want] of cases) {
    test(`${JSON.stringify(a)} ∩ ${JSON.stringify(b)}`, () => {
      assert.deepEqual(intersect(a, b), want);
      assert.deepEqual(intersect(b, a), want);
    });
  }
});

describe('sortErrors', () => {
  test('by device, then range start (whole device first), then key; input untouched', () => {
    const a = err({ device: '/dev/dax1.0', range: { offset: 0, length: 1 } });
    const b = err({ device: '/dev/dax0.0', range: { offset: 0x3000, length: 1 } });
    const c = err({ device: '/dev/dax0.0', range: null, source: 'probe', kind: 'offline' });
    const d = err({ device: '/dev/dax0.0', range: { offset: 0x1000, length: 8 }, kind: 'timeout' });
    const e = err({ device: '/dev/dax0.0', range: { offset: 0x1000, length: 8 }, kind: 'poison' });
    const f = err({ device: '/dev/dax0.0', range: { offset: 0x1000, length: 4 }, kind: 'poison' });
    const input = [a, b, c, d, e, f];
    const copy = [...input];
    const sorted = sortErrors(input);
    assert.deepEqual(input, copy, 'sortErrors must not reorder its argument');
    assert.notEqual(sorted, input);
    // Same device and offset: by key ("emulated:poison:...:4096+4" < "emulated:poison:...:4096+8" < "emulated:timeout:...").
    assert.deepEqual(sorted, [c, f, e, d, b, a]);
  });

  test('the order does not depend on the input order', () => {
    const list = [
      err({ range: { offset: 5, length: 1 } }),
      err({ range: null, source: 'kmsg', kind: 'memory-error' }),
      err({ range: null, source: 'probe', kind: 'unreadable' }),
      err({ device: '/dev/dax0.1', range: null }),
      err({ range: { offset: 5, length: 1 }, firstSeen: '2026-01-01T00:00:00.000Z' }),
    ];
    const want = sortErrors(list);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...list].sort(() => Math.random() - 0.5);
      assert.deepEqual(sortErrors(shuffled), want);
    }
    assert.deepEqual(sortErrors([]), []);
  });
});

// ---------------------------------------------------------------------------------------------
// damage.ts
// ---------------------------------------------------------------------------------------------

function simple(...extents: [number, number][]): Fmap {
  return { kind: 'simple', extents: extents.map(([offset, length]) => ({ devIndex: 0, offset, length })) };
}

function interleaved(...extents: { chunkSize: number; strips: [number, number][] }[]): Fmap {
  return { kind: 'interleaved', extents: extents.map((e) => ({ chunkSize: e.chunkSize, strips: e.strips.map(([offset, length]) => ({ devIndex: 0, offset, length })) })) };
}

function onRange(offset: number, length: number, over: Partial<MemoryError> = {}): MemoryError {
  return err({ range: { offset, length }, ...over });
}

/** Ranges are sorted, non-empty, and neither overlap nor touch (mergeRanges' output). */
function assertMerged(ranges: ByteRange[], what: string): void {
  for (const [i, r] of ranges.entries()) {
    assert.ok(r.length > 0, `${what}: empty range ${JSON.stringify(r)}`);
    if (i > 0) assert.ok(ranges[i - 1]!.offset + ranges[i - 1]!.length < r.offset, `${what}: ranges ${JSON.stringify(ranges[i - 1])} and ${JSON.stringify(r)} are not merged`);
  }
}

/**
 * Checks fileDamage for one error against the fmap math:
 *  - every reported file range maps (mapFileRange) into the error's device range;
 *  - every file byte whose device byte (resolveOffset) lies in the error range is reported;
 *  - no reported byte lies outside the file.
 */
function crossCheck(fmap: Fmap, fileSize: number, error: MemoryError, what: string): ByteRange[] {
  const got = fileDamage(fmap, fileSize, [error]);
  const ranges = got.length === 0 ? [] : got[0]!.fileRanges;
  if (got.length > 0) {
    assert.equal(got.length, 1);
    assert.equal(got[0]!.error, error);
    assert.ok(ranges.length > 0, `${what}: an error with no ranges is reported`);
  }
  assertMerged(ranges, what);
  const reported = new Set<number>();
  for (const r of ranges) {
    assert.ok(r.offset >= 0 && r.offset + r.length <= fileSize, `${what}: ${JSON.stringify(r)} lies outside the file (size ${fileSize})`);
    for (const seg of mapFileRange(fmap, fileSize, r.offset, r.length)) {
      if (error.range) {
        assert.ok(seg.deviceOffset >= error.range.offset && seg.deviceOffset + seg.length <= error.range.offset + error.range.length, `${what}: file ${JSON.stringify(r)} maps to device ${seg.deviceOffset}+${seg.length}, outside the error ${JSON.stringify(error.range)}`);
      }
    }
    for (let b = r.offset; b < r.offset + r.length; b++) reported.add(b);
  }
  for (let b = 0; b < fileSize; b++) {
    const dev = resolveOffset(fmap, fileSize, b).deviceOffset;
    const bad = error.range === null || (dev >= error.range.offset && dev < error.range.offset + error.range.length);
    assert.equal(reported.has(b), bad, `${what}: file byte ${b} (device ${dev}) ${bad ? 'lies on the error but is not reported' : 'is reported but lies off the error'}`);
  }
  return ranges;
}

/** A small deterministic PRNG, so a failing case can be reproduced. */
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

describe('fileDamage: simple fmaps', () => {
  // Three extents out of device order; the file ends halfway into the last one.
  // file [0,100) → dev [1000,1100); file [100,300) → dev [500,700); file [300,350) → dev [2000,2050).
  const fmap = simple([1000, 100], [500, 200], [2000, 100]);
  const size = 350;

  test('an error across extents gives merged file ranges', () => {
    const e = onRange(550, 1500);
    assert.deepEqual(fileDamage(fmap, size, [e]), [
      {
        error: e,
        fileRanges: [
          { offset: 0, length: 100 },
          { offset: 150, length: 200 },
        ],
      },
    ]);
    crossCheck(fmap, size, e, 'across extents');
  });

  test('an error inside one extent', () => {
    assert.deepEqual(crossCheck(fmap, size, onRange(1010, 5), 'inside'), [{ offset: 10, length: 5 }]);
    assert.deepEqual(crossCheck(fmap, size, onRange(650, 100), 'tail of extent 1'), [{ offset: 250, length: 50 }]);
    assert.deepEqual(crossCheck(fmap, size, onRange(0, 501), 'first byte of extent 1'), [{ offset: 100, length: 1 }]);
  });

  test('errors outside the file: between extents, touching an extent, or in the unused tail of the last extent', () => {
    for (const [offset, length] of [
      [0, 500],
      [700, 300],
      [1100, 900],
      [2050, 50], // inside the last extent, but past the end of the file
      [5000, 1],
    ] as const) {
      assert.deepEqual(fileDamage(fmap, size, [onRange(offset, length)]), [], `error ${offset}+${length}`);
      crossCheck(fmap, size, onRange(offset, length), `outside ${offset}+${length}`);
    }
  });

  test('a whole-device error covers the whole file', () => {
    const e = err({ range: null, kind: 'offline', source: 'probe' });
    assert.deepEqual(fileDamage(fmap, size, [e]), [{ error: e, fileRanges: [{ offset: 0, length: size }] }]);
  });

  test('only the errors that touch the file are reported, in the order given', () => {
    const a = onRange(2000, 1);
    const b = onRange(0, 10); // outside
    const c = onRange(1099, 2);
    const d = err({ range: null });
    const got = fileDamage(fmap, size, [a, b, c, d]);
    assert.deepEqual(
      got.map((x) => x.error),
      [a, c, d],
    );
    assert.deepEqual(got[0]!.fileRanges, [{ offset: 300, length: 1 }]);
    assert.deepEqual(got[1]!.fileRanges, [{ offset: 99, length: 1 }]);
  });

  test('extents adjacent on the device', () => {
    const adj = simple([100, 50], [150, 50]);
    assert.deepEqual(crossCheck(adj, 100, onRange(140, 20), 'adjacent'), [{ offset: 40, length: 20 }]);
  });

  test('no errors or an empty file: nothing', () => {
    assert.deepEqual(fileDamage(fmap, size, []), []);
    assert.deepEqual(fileDamage(fmap, 0, [err({ range: null })]), []);
  });
});

describe('fileDamage: interleaved fmaps', () => {
  // chunk 10, two strips of 30: chunks 0..5 go to strip 0, 1, 0, 1, 0, 1.
  // file [0,10)→1000, [10,20)→200, [20,30)→1010, [30,40)→210, [40,50)→1020, [50,60)→220.
  const fmap = interleaved({ chunkSize: 10, strips: [[1000, 30], [200, 30]] });

  test('an error on one strip hits every other chunk', () => {
    assert.deepEqual(crossCheck(fmap, 60, onRange(200, 30), 'strip 1'), [
      { offset: 10, length: 10 },
      { offset: 30, length: 10 },
      { offset: 50, length: 10 },
    ]);
    assert.deepEqual(crossCheck(fmap, 60, onRange(1000, 30), 'strip 0'), [
      { offset: 0, length: 10 },
      { offset: 20, length: 10 },
      { offset: 40, length: 10 },
    ]);
  });

  test('an error across a chunk boundary on the device splits in the file', () => {
    assert.deepEqual(crossCheck(fmap, 60, onRange(1005, 10), 'chunk boundary'), [
      { offset: 5, length: 5 },
      { offset: 20, length: 5 },
    ]);
  });

  test('an error covering both strips covers the whole file as one range', () => {
    const e = onRange(0, 5000);
    assert.deepEqual(fileDamage(fmap, 60, [e]), [{ error: e, fileRanges: [{ offset: 0, length: 60 }] }]);
  });

  test('a short file leaves the strips partly unused; errors there do not count', () => {
    // size 25: chunks 0 (1000..1010), 1 (200..210), half of 2 (1010..1015).
    assert.deepEqual(crossCheck(fmap, 25, onRange(1015, 15), 'unused strip 0'), []);
    assert.deepEqual(crossCheck(fmap, 25, onRange(210, 20), 'unused strip 1'), []);
    assert.deepEqual(crossCheck(fmap, 25, onRange(1012, 100), 'partly used'), [{ offset: 22, length: 3 }]);
  });

  test('several interleaved extents', () => {
    const two = interleaved({ chunkSize: 4, strips: [[0, 8], [100, 8], [200, 8]] }, { chunkSize: 2, strips: [[300, 4], [400, 4]] });
    for (const [o, l] of [
      [0, 8],
      [102, 4],
      [300, 4],
      [401, 2],
      [0, 1000],
      [6, 296],
    ] as const) {
      crossCheck(two, 32, onRange(o, l), `two extents ${o}+${l}`);
      crossCheck(two, 27, onRange(o, l), `two extents, short file, ${o}+${l}`);
    }
  });
});

describe('fileDamage: random fmaps against the byte-by-byte oracle', () => {
  /** Extents or strips carved from a shuffled list of non-overlapping device slots. */
  function randomFmap(rand: (n: number) => number): { fmap: Fmap; capacity: number } {
    const slots = Array.from({ length: 24 }, (_, i) => i * 64).sort(() => rand(3) - 1);
    let next = 0;
    const slot = () => slots[next++]!;
    if (rand(2) === 0) {
      const extents: SimpleExtent[] = Array.from({ length: 1 + rand(5) }, () => ({ devIndex: 0, offset: slot() + rand(8), length: 1 + rand(56) }));
      return { fmap: { kind: 'simple', extents }, capacity: extents.reduce((n, e) => n + e.length, 0) };
    }
    const extents: InterleavedExtent[] = Array.from({ length: 1 + rand(3) }, () => {
      const chunkSize = 1 + rand(8);
      const stripLength = chunkSize * (1 + rand(6));
      return { chunkSize, strips: Array.from({ length: 1 + rand(4) }, () => ({ devIndex: 0, offset: slot(), length: Math.min(stripLength, 64) - (Math.min(stripLength, 64) % chunkSize) })) };
    });
    return { fmap: { kind: 'interleaved', extents }, capacity: extents.reduce((n, ie) => n + ie.strips.reduce((m, s) => m + s.length, 0), 0) };
  }

  test('300 fmaps, 5 errors each', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const { fmap, capacity } = randomFmap(rand);
      // Interleaved extents other than the last must be used fully; simple fmaps may end anywhere.
      const lastCap = fmap.kind === 'simple' ? fmap.extents.at(-1)!.length : fmap.extents.at(-1)!.strips.reduce((n, s) => n + s.length, 0);
      const size = capacity - rand(lastCap);
      if (size <= 0) continue;
      for (let k = 0; k < 5; k++) {
        const offset = rand(24 * 64 + 32);
        const length = 1 + rand(k === 4 ? 1000 : 40);
        crossCheck(fmap, size, onRange(offset, length), `seed ${seed} fmap ${JSON.stringify(fmap)} size ${size} error ${offset}+${length}`);
      }
    }
  });
});

describe('mergeRanges', () => {
  test('sorts, joins overlapping and touching ranges, keeps gaps', () => {
    const input = [
      { offset: 50, length: 10 },
      { offset: 0, length: 10 },
      { offset: 10, length: 5 }, // touches [0,10)
      { offset: 55, length: 2 }, // inside [50,60)
      { offset: 58, length: 10 }, // overlaps [50,60)
      { offset: 30, length: 1 },
    ];
    const copy = structuredClone(input);
    assert.deepEqual(mergeRanges(input), [
      { offset: 0, length: 15 },
      { offset: 30, length: 1 },
      { offset: 50, length: 18 },
    ]);
    assert.deepEqual(input, copy, 'mergeRanges must not change its argument');
  });

  test('a contained range does not shorten the one containing it', () => {
    assert.deepEqual(
      mergeRanges([
        { offset: 0, length: 100 },
        { offset: 10, length: 1 },
      ]),
      [{ offset: 0, length: 100 }],
    );
  });

  test('empty and single', () => {
    assert.deepEqual(mergeRanges([]), []);
    assert.deepEqual(mergeRanges([{ offset: 3, length: 4 }]), [{ offset: 3, length: 4 }]);
  });
});

describe('damageUnder', () => {
  const fmap = simple([1000, 100], [500, 200]);
  const size = 300;
  const stripes = interleaved({ chunkSize: 10, strips: [[1000, 30], [200, 30]] });

  test('the first error under the I/O range, by file order', () => {
    const near = onRange(1050, 1); // file byte 50
    const far = onRange(600, 1); // file byte 200
    assert.equal(damageUnder(fmap, size, 0, size, [far, near]), near);
    assert.equal(damageUnder(fmap, size, 100, 200, [far, near]), far);
    assert.equal(damageUnder(fmap, size, 50, 1, [far, near]), near);
  });

  test('I/O next to an error, but not on it', () => {
    const e = onRange(1050, 1);
    assert.equal(damageUnder(fmap, size, 0, 50, [e]), undefined);
    assert.equal(damageUnder(fmap, size, 51, 249, [e]), undefined);
  });

  test('a whole-device error is under any I/O, wherever it is in the list', () => {
    const whole = err({ range: null, kind: 'offline', source: 'probe' });
    assert.equal(damageUnder(fmap, size, 299, 1, [onRange(0, 1), whole]), whole);
  });

  test('nothing for no errors or an empty I/O', () => {
    assert.equal(damageUnder(fmap, size, 0, 10, []), undefined);
    assert.equal(damageUnder(fmap, size, 0, 0, [err({ range: null })]), undefined);
    assert.equal(damageUnder(fmap, size, 0, -1, [err({ range: null })]), undefined);
  });

  test('I/O past the end of the file is cut at the file size', () => {
    const tail = onRange(699, 1); // file byte 299
    assert.equal(damageUnder(fmap, size, 290, 1000, [tail]), tail);
  });

  test('interleaved: only the chunks the I/O touches', () => {
    const e = onRange(210, 10); // strip 1 second chunk: file [30,40)
    assert.equal(damageUnder(stripes, 60, 0, 30, [e]), undefined);
    assert.equal(damageUnder(stripes, 60, 40, 20, [e]), undefined);
    assert.equal(damageUnder(stripes, 60, 39, 1, [e]), e);
    assert.equal(damageUnder(stripes, 60, 0, 60, [e]), e);
  });

  test('agrees with fileDamage on every 1-byte I/O', () => {
    const errors = [onRange(205, 3), onRange(1027, 10)];
    const damaged = new Set<number>();
    for (const d of fileDamage(stripes, 60, errors)) for (const r of d.fileRanges) for (let b = r.offset; b < r.offset + r.length; b++) damaged.add(b);
    for (let b = 0; b < 60; b++) assert.equal(damageUnder(stripes, 60, b, 1, errors) !== undefined, damaged.has(b), `file byte ${b}`);
  });
});

describe('deviceRangesOf', () => {
  test('simple: file range to device ranges, split at extent ends, cut at the file size', () => {
    const fmap = simple([1000, 100], [500, 200]);
    assert.deepEqual(deviceRangesOf(fmap, 300, 90, 20), [
      { offset: 1090, length: 10 },
      { offset: 500, length: 10 },
    ]);
    assert.deepEqual(deviceRangesOf(fmap, 300, 0, 100), [{ offset: 1000, length: 100 }]);
    assert.deepEqual(deviceRangesOf(fmap, 300, 250, 1000), [{ offset: 650, length: 50 }]);
    assert.deepEqual(deviceRangesOf(fmap, 300, 0, 0), []);
  });

  test('device-adjacent extents come back as one range', () => {
    assert.deepEqual(deviceRangesOf(simple([100, 50], [150, 50]), 100, 0, 100), [{ offset: 100, length: 100 }]);
  });

  test('interleaved: one range per strip piece', () => {
    const fmap = interleaved({ chunkSize: 10, strips: [[1000, 30], [200, 30]] });
    assert.deepEqual(deviceRangesOf(fmap, 60, 5, 30), [
      { offset: 1005, length: 5 },
      { offset: 200, length: 10 },
      { offset: 1010, length: 10 },
      { offset: 210, length: 5 },
    ]);
  });

  test('round trip: the damage of the device ranges of a file range is that file range', () => {
    const fmap = interleaved({ chunkSize: 10, strips: [[1000, 30], [200, 30]] }, { chunkSize: 5, strips: [[0, 10], [100, 10]] });
    for (const [o, l] of [
      [0, 1],
      [7, 23],
      [55, 20],
      [61, 19],
    ] as const) {
      const errors = deviceRangesOf(fmap, 80, o, l).map((r) => onRange(r.offset, r.length));
      const hit = mergeRanges(fileDamage(fmap, 80, errors).flatMap((d) => d.fileRanges));
      assert.deepEqual(hit, [{ offset: o, length: l }], `file ${o}+${l}`);
    }
  });

  test('a range past the end of the file is cut there (callers check the end themselves)', () => {
    assert.deepEqual(deviceRangesOf(simple([0, 10]), 10, 10, 1), []);
    assert.deepEqual(deviceRangesOf(simple([0, 10]), 10, 8, 100), [{ offset: 8, length: 2 }]);
    assert.throws(() => deviceRangesOf(simple([0, 10]), 10, -1, 2), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// poisonList.ts
// ---------------------------------------------------------------------------------------------

function corrupt(pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof FamfsError, `expected a FamfsError, got ${String(e)}`);
    assert.equal(e.code, 'CORRUPT');
    assert.match(e.message, pattern);
    return true;
  };
}

function list(...errors: unknown[]): string {
  return JSON.stringify({ version: 1, errors });
}

const GOOD = { offset: 4096, length: 4096, kind: 'poison', firstSeen: T0, by: 'h' };

describe('parsePoisonList', () => {
  test('ranged and whole-device entries', () => {
    assert.deepEqual(parsePoisonList(list(GOOD, { wholeDevice: true, kind: 'offline', firstSeen: T0, by: 'w' })), [
      { range: { offset: 4096, length: 4096 }, kind: 'poison', firstSeen: T0, by: 'h' },
      { range: null, kind: 'offline', firstSeen: T0, by: 'w' },
    ]);
    assert.deepEqual(parsePoisonList(list()), []);
  });

  test('whole device ignores offset and length; a missing or odd "by" is empty', () => {
    assert.deepEqual(parsePoisonList(list({ wholeDevice: true, offset: -1, length: 0, kind: 'timeout', firstSeen: T0 })), [{ range: null, kind: 'timeout', firstSeen: T0, by: '' }]);
    assert.deepEqual(parsePoisonList(list({ ...GOOD, by: 42 }))[0]!.by, '');
  });

  test('every kind of memory error is accepted when read', () => {
    for (const kind of MEMORY_ERROR_KINDS) assert.equal(parsePoisonList(list({ ...GOOD, kind }))[0]!.kind, kind);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{"version": 1, "errors": [', /poison list \/x\.json: not JSON/],
    ['empty text', '', /not JSON/],
    ['null', 'null', /version must be 1/],
    ['a number', '7', /version must be 1/],
    ['no version', JSON.stringify({ errors: [] }), /version must be 1/],
    ['version 2', JSON.stringify({ version: 2, errors: [] }), /version must be 1/],
    ['version "1"', JSON.stringify({ version: '1', errors: [] }), /version must be 1/],
    ['no errors', JSON.stringify({ version: 1 }), /errors must be an array/],
    ['errors an object', JSON.stringify({ version: 1, errors: {} }), /errors must be an array/],
    ['entry null', list(GOOD, null), /errors\[1\] must be an object/],
    ['entry a string', list('poison'), /errors\[0\] must be an object/],
    ['entry a number', list(GOOD, GOOD, 3), /errors\[2\] must be an object/],
    ['kind missing', list({ ...GOOD, kind: undefined }), /errors\[0\]\.kind: undefined is not one of poison, timeout, offline, memory-error, unreadable/],
    ['kind unknown', list(GOOD, { ...GOOD, kind: 'fire' }), /errors\[1\]\.kind: "fire" is not one of/],
    ['kind wrong case', list({ ...GOOD, kind: 'Poison' }), /errors\[0\]\.kind: "Poison"/],
    ['firstSeen missing', list({ ...GOOD, firstSeen: undefined }), /errors\[0\]\.firstSeen: undefined is not a time/],
    ['firstSeen garbage', list({ ...GOOD, firstSeen: 'yesterday' }), /errors\[0\]\.firstSeen: "yesterday" is not a time/],
    ['firstSeen a number', list({ ...GOOD, firstSeen: 1700000000000 }), /errors\[0\]\.firstSeen: 1700000000000 is not a time/],
    ['offset missing', list({ ...GOOD, offset: undefined }), /errors\[0\]\.offset: undefined is not a byte offset/],
    ['offset negative', list({ ...GOOD, offset: -4096 }), /errors\[0\]\.offset: -4096 is not a byte offset/],
    ['offset fractional', list({ ...GOOD, offset: 1.5 }), /errors\[0\]\.offset: 1\.5 is not a byte offset/],
    ['offset a string', list({ ...GOOD, offset: '4096' }), /errors\[0\]\.offset: "4096" is not a byte offset/],
    ['offset too large', list({ ...GOOD, offset: 2 ** 60 }), /errors\[0\]\.offset: \d+ is not a byte offset/],
    ['length missing', list({ ...GOOD, length: undefined }), /errors\[0\]\.length: undefined is not a positive length/],
    ['length zero', list({ ...GOOD, length: 0 }), /errors\[0\]\.length: 0 is not a positive length/],
    ['length negative', list({ ...GOOD, length: -1 }), /errors\[0\]\.length: -1 is not a positive length/],
    ['wholeDevice not boolean', list({ wholeDevice: 'true', kind: 'poison', firstSeen: T0 }), /errors\[0\]\.offset: undefined/],
  ];
  for (const [what, text, pattern] of bad) {
    test(`malformed: ${what}`, () => {
      assert.throws(() => parsePoisonList(text, '/x.json'), corrupt(pattern));
    });
  }

  test('the path is named, with a default when none is given', () => {
    assert.throws(() => parsePoisonList('nope', '/pool.dax.famfs-errors.json'), corrupt(/^poison list \/pool\.dax\.famfs-errors\.json: /));
    assert.throws(() => parsePoisonList('nope'), corrupt(/^poison list poison list: /));
  });
});

describe('formatPoisonList', () => {
  const entries: PoisonEntry[] = [
    { range: { offset: 0, length: 1 }, kind: 'poison', firstSeen: T0, by: 'a' },
    { range: null, kind: 'offline', firstSeen: '2026-01-02T03:04:06.123Z', by: 'b' },
    { range: { offset: 2 ** 40, length: 2 ** 21 }, kind: 'timeout', firstSeen: T0, by: '' },
  ];

  test('round trip', () => {
    assert.deepEqual(parsePoisonList(formatPoisonList(entries)), entries);
    assert.deepEqual(parsePoisonList(formatPoisonList([])), []);
  });

  test('the documented layout: version, offset/length or wholeDevice, one trailing newline', () => {
    const text = formatPoisonList(entries);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(text), {
      version: POISON_LIST_VERSION,
      errors: [
        { offset: 0, length: 1, kind: 'poison', firstSeen: T0, by: 'a' },
        { wholeDevice: true, kind: 'offline', firstSeen: '2026-01-02T03:04:06.123Z', by: 'b' },
        { offset: 2 ** 40, length: 2 ** 21, kind: 'timeout', firstSeen: T0, by: '' },
      ],
    });
  });
});

/** An emulated device (a 1 MiB regular file) in a fresh scratch directory. */
function device(t: TestContext, size = 1024 * 1024): { dev: string; dir: string } {
  const s = scratchDir('famfs-csi-poison-');
  t.after(s.cleanup);
  const dev = join(s.dir, 'pool.dax');
  writeFileSync(dev, '');
  truncateSync(dev, size);
  return { dev, dir: s.dir };
}

function invalid(pattern: RegExp, code = 'INVALID'): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof FamfsError, `expected a FamfsError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

describe('injectError', () => {
  test('records ranged and whole-device errors with time and host', (t) => {
    const { dev, dir } = device(t);
    const now = new Date(T0);
    const a = injectError(dev, { range: { offset: 4096, length: 4096 }, kind: 'poison', now });
    assert.deepEqual(a, { range: { offset: 4096, length: 4096 }, kind: 'poison', firstSeen: T0, by: hostname() });
    const b = injectError(dev, { range: null, kind: 'offline' });
    assert.equal(b.range, null);
    assert.ok(Math.abs(Date.parse(b.firstSeen) - Date.now()) < 60_000);
    assert.deepEqual(readPoisonList(dev), [a, b]);
    assert.equal(poisonListPath(dev), `${dev}.famfs-errors.json`);
    // The list and its lock file, and no temporary file left behind.
    assert.deepEqual(readdirSync(dir).sort(), ['pool.dax', 'pool.dax.famfs-errors.json', 'pool.dax.famfs-errors.lock']);
  });

  test('the range may end exactly at the end of the device, not past it', (t) => {
    const { dev } = device(t, 65536);
    injectError(dev, { range: { offset: 0, length: 65536 }, kind: 'poison' });
    injectError(dev, { range: { offset: 65535, length: 1 }, kind: 'poison' });
    assert.throws(() => injectError(dev, { range: { offset: 65535, length: 2 }, kind: 'poison' }), invalid(/range 65535\+2 ends past the end of .*pool\.dax \(65536 bytes\)/));
    assert.throws(() => injectError(dev, { range: { offset: 65536, length: 1 }, kind: 'poison' }), invalid(/range 65536\+1 ends past the end/));
    assert.equal(readPoisonList(dev).length, 2);
  });

  test('bad offsets and lengths', (t) => {
    const { dev } = device(t);
    const cases: [ByteRange, RegExp][] = [
      [{ offset: -1, length: 1 }, /offset: -1 is not a byte offset/],
      [{ offset: 1.5, length: 1 }, /offset: 1\.5 is not a byte offset/],
      [{ offset: Number.NaN, length: 1 }, /offset: NaN is not a byte offset/],
      [{ offset: 0, length: 0 }, /length: 0 must be a positive number of bytes/],
      [{ offset: 0, length: -4096 }, /length: -4096 must be a positive number of bytes/],
      [{ offset: 0, length: 0.5 }, /length: 0\.5 must be a positive number of bytes/],
      [{ offset: 0, length: Infinity }, /length: Infinity must be a positive/],
    ];
    for (const [range, pattern] of cases) assert.throws(() => injectError(dev, { range, kind: 'poison' }), invalid(pattern), JSON.stringify(range));
    assert.deepEqual(readPoisonList(dev), []);
  });

  test('kinds: poison, timeout and offline only', (t) => {
    const { dev } = device(t);
    assert.deepEqual(EMULATED_ERROR_KINDS, ['poison', 'timeout', 'offline']);
    for (const kind of EMULATED_ERROR_KINDS) assert.equal(injectError(dev, { range: { offset: 0, length: 8 }, kind }).kind, kind);
    for (const kind of ['memory-error', 'unreadable', 'fire'] as const) {
      assert.throws(() => injectError(dev, { range: { offset: 0, length: 8 }, kind: kind as 'poison' }), invalid(new RegExp(`kind: "${kind}" must be one of poison, timeout, offline`)));
    }
    assert.equal(readPoisonList(dev).length, 3);
  });

  test('the same range and kind twice is one entry; the first is returned', (t) => {
    const { dev } = device(t);
    const first = injectError(dev, { range: { offset: 8192, length: 512 }, kind: 'poison', now: new Date(T0) });
    const again = injectError(dev, { range: { offset: 8192, length: 512 }, kind: 'poison', now: new Date('2030-01-01T00:00:00.000Z') });
    assert.deepEqual(again, first);
    // Another kind, or another range, is another entry.
    injectError(dev, { range: { offset: 8192, length: 512 }, kind: 'timeout' });
    injectError(dev, { range: { offset: 8192, length: 513 }, kind: 'poison' });
    injectError(dev, { range: { offset: 8191, length: 512 }, kind: 'poison' });
    assert.equal(readPoisonList(dev).length, 4);
  });

  test('whole device: once per kind, separate from ranged errors', (t) => {
    const { dev } = device(t);
    const w = injectError(dev, { range: null, kind: 'offline', now: new Date(T0) });
    assert.deepEqual(injectError(dev, { range: null, kind: 'offline' }), w);
    injectError(dev, { range: null, kind: 'timeout' });
    injectError(dev, { range: { offset: 0, length: 1024 * 1024 }, kind: 'offline' });
    assert.deepEqual(
      readPoisonList(dev).map((e) => [e.range, e.kind]),
      [
        [null, 'offline'],
        [null, 'timeout'],
        [{ offset: 0, length: 1024 * 1024 }, 'offline'],
      ],
    );
  });

  test('refuses what is not an emulated pool: a character device, a directory, a missing file', (t) => {
    assert.throws(() => injectError('/dev/null', { range: null, kind: 'offline' }), invalid(/\/dev\/null is not an emulated pool \(a regular file\)/));
    const { dir } = device(t);
    mkdirSync(join(dir, 'sub'));
    assert.throws(() => injectError(join(dir, 'sub'), { range: null, kind: 'offline' }), invalid(/sub is not an emulated pool/));
    assert.throws(() => injectError(join(dir, 'missing.dax'), { range: null, kind: 'offline' }), invalid(/cannot stat .*missing\.dax/, 'DEVICE'));
    assert.deepEqual(readdirSync(dir).sort(), ['pool.dax', 'sub']);
  });

  test('a corrupt list is not overwritten', (t) => {
    const { dev } = device(t);
    writeFileSync(poisonListPath(dev), '{"version": 1, "errors": [{"kind": "poison"}]}');
    assert.throws(() => injectError(dev, { range: null, kind: 'offline' }), invalid(/errors\[0\]\.firstSeen/, 'CORRUPT'));
    assert.equal(readFileSync(poisonListPath(dev), 'utf8'), '{"version": 1, "errors": [{"kind": "poison"}]}');
  });

  test('works on a formatted pool (tmpPool)', async (t) => {
    const pool = await tmpPool({ size: 64 * 1024 * 1024 });
    t.after(() => pool.cleanup());
    injectError(pool.path, { range: { offset: 32 * 1024 * 1024, length: 4096 }, kind: 'poison' });
    assert.deepEqual(
      readPoisonList(pool.path).map((e) => e.range),
      [{ offset: 32 * 1024 * 1024, length: 4096 }],
    );
  });
});

/** Runs `node -e` children that inject errors concurrently; resolves when all have exited 0. */
async function injectFromChildren(dev: string, children: number, ranges: (child: number) => ByteRange[]): Promise<void> {
  const runs = Array.from({ length: children }, (_, c) => {
    const script = [
      `import { injectError } from ${JSON.stringify(POISON_LIST_MODULE)};`,
      `for (const range of ${JSON.stringify(ranges(c))}) injectError(${JSON.stringify(dev)}, { range, kind: 'poison' });`,
    ].join('\n');
    return new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${c} exited ${code}: ${stderr}`))));
    });
  });
  await Promise.all(runs);
}

describe('injectError from several processes at once', () => {
  test('every entry lands (flock + rename loses none)', async (t) => {
    const { dev, dir } = device(t, 64 * 1024 * 1024);
    const CHILDREN = 8;
    const EACH = 15;
    await injectFromChildren(dev, CHILDREN, (c) => Array.from({ length: EACH }, (_, i) => ({ offset: (c * EACH + i) * 4096, length: 4096 })));
    const got = readPoisonList(dev);
    assert.equal(got.length, CHILDREN * EACH);
    assert.deepEqual(
      got.map((e) => e.range!.offset).sort((a, b) => a - b),
      Array.from({ length: CHILDREN * EACH }, (_, i) => i * 4096),
    );
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  });

  test('the same range from every process is still one entry', async (t) => {
    const { dev } = device(t);
    await injectFromChildren(dev, 6, () => [
      { offset: 0, length: 4096 },
      { offset: 8192, length: 4096 },
    ]);
    assert.deepEqual(
      readPoisonList(dev).map((e) => e.range),
      [
        { offset: 0, length: 4096 },
        { offset: 8192, length: 4096 },
      ],
    );
  });
});

describe('clearErrors', () => {
  function seed(dev: string): void {
    injectError(dev, { range: { offset: 0, length: 4096 }, kind: 'poison' });
    injectError(dev, { range: { offset: 8192, length: 4096 }, kind: 'timeout' });
    injectError(dev, { range: { offset: 65536, length: 100 }, kind: 'poison' });
    injectError(dev, { range: null, kind: 'offline' });
  }

  test('all', (t) => {
    const { dev } = device(t);
    seed(dev);
    const before = readPoisonList(dev);
    assert.deepEqual(clearErrors(dev), before);
    assert.deepEqual(readPoisonList(dev), []);
    assert.deepEqual(clearErrors(dev), []);
  });

  test('by range: what overlaps goes (whole-device errors overlap everything), what touches stays', (t) => {
    const { dev } = device(t);
    seed(dev);
    const removed = clearErrors(dev, { offset: 4096, length: 4097 }); // [4096, 8193): touches the first, overlaps the second by one byte
    assert.deepEqual(
      removed.map((e) => [e.range, e.kind]),
      [
        [{ offset: 8192, length: 4096 }, 'timeout'],
        [null, 'offline'],
      ],
    );
    assert.deepEqual(
      readPoisonList(dev).map((e) => e.range),
      [
        { offset: 0, length: 4096 },
        { offset: 65536, length: 100 },
      ],
    );
    assert.deepEqual(
      clearErrors(dev, { offset: 65635, length: 1 }).map((e) => e.range),
      [{ offset: 65536, length: 100 }],
    );
    assert.deepEqual(clearErrors(dev, { offset: 4096, length: 60000 }), []);
    assert.equal(readPoisonList(dev).length, 1);
  });

  test('a device without a list: nothing to clear', (t) => {
    const { dev } = device(t);
    assert.deepEqual(clearErrors(dev), []);
    assert.deepEqual(readPoisonList(dev), []);
  });

  test('refuses a non-regular file', () => {
    assert.throws(() => clearErrors('/dev/null'), invalid(/\/dev\/null is not an emulated pool/));
  });
});

describe('readPoisonList / poisonEntryToError', () => {
  test('no file is no errors; a corrupt file names its path', (t) => {
    const { dev } = device(t);
    assert.deepEqual(readPoisonList(dev), []);
    writeFileSync(poisonListPath(dev), 'garbage');
    assert.throws(() => readPoisonList(dev), corrupt(new RegExp(`^poison list ${poisonListPath(dev).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON`)));
  });

  test('an unreadable list (a directory in its place) is a DEVICE error', (t) => {
    const { dev } = device(t);
    mkdirSync(poisonListPath(dev));
    assert.throws(() => readPoisonList(dev), invalid(/cannot read poison list .*famfs-errors\.json/, 'DEVICE'));
  });

  test('entries become emulated memory errors with who injected them', () => {
    assert.deepEqual(poisonEntryToError('/d', { range: { offset: 1, length: 2 }, kind: 'timeout', firstSeen: T0, by: 'h1' }), {
      device: '/d',
      range: { offset: 1, length: 2 },
      kind: 'timeout',
      firstSeen: T0,
      source: 'emulated',
      detail: 'injected on h1',
    });
    const noBy = poisonEntryToError('/d', { range: null, kind: 'offline', firstSeen: T0, by: '' });
    assert.deepEqual(noBy, { device: '/d', range: null, kind: 'offline', firstSeen: T0, source: 'emulated' });
    assert.equal('node' in noBy, false, 'the shared list is seen by every node: no node');
  });
});

describe('EmulatedPoisonSource', () => {
  const FIXED = new Date('2026-01-01T00:00:00.000Z'); // whole seconds: utimes sets it exactly

  test('no list: no errors', (t) => {
    const { dev } = device(t);
    const problems: string[] = [];
    const s = new EmulatedPoisonSource(dev, (m) => problems.push(m));
    assert.equal(s.name, 'emulated');
    assert.deepEqual(s.poll(), []);
    assert.deepEqual(problems, []);
  });

  test('reports the list as errors of the device', (t) => {
    const { dev } = device(t);
    const s = new EmulatedPoisonSource(dev);
    const e = injectError(dev, { range: { offset: 4096, length: 8 }, kind: 'poison', now: new Date(T0) });
    assert.deepEqual(s.poll(), [poisonEntryToError(dev, e)]);
    injectError(dev, { range: null, kind: 'offline', now: new Date(T0) });
    assert.deepEqual(
      s.poll().map((x) => [x.range, x.kind, x.source, x.device]),
      [
        [{ offset: 4096, length: 8 }, 'poison', 'emulated', dev],
        [null, 'offline', 'emulated', dev],
      ],
    );
    clearErrors(dev);
    assert.deepEqual(s.poll(), []);
    rmSync(poisonListPath(dev));
    assert.deepEqual(s.poll(), []);
  });

  test('re-reads only when inode, size or mtime change', (t) => {
    const { dev, dir } = device(t);
    const path = poisonListPath(dev);
    const by = (who: string): string => formatPoisonList([{ range: { offset: 0, length: 4096 }, kind: 'poison', firstSeen: T0, by: who }]);
    const later = new Date(FIXED.getTime() + 1000);
    writeFileSync(path, by('a'));
    utimesSync(path, FIXED, FIXED);
    const s = new EmulatedPoisonSource(dev);
    const first = s.poll();
    assert.equal(first[0]!.detail, 'injected on a');
    assert.equal(s.poll(), first, 'unchanged file: the same answer, not re-read');

    // Same inode, same size, same mtime, other content: not noticed (that is the contract).
    writeFileSync(path, by('b'));
    utimesSync(path, FIXED, FIXED);
    assert.equal(s.poll(), first);

    // mtime alone changes: re-read.
    utimesSync(path, FIXED, later);
    const second = s.poll();
    assert.notEqual(second, first);
    assert.equal(second[0]!.detail, 'injected on b');
    assert.equal(s.poll(), second);

    // New inode (a rename over the list, as writers do), same size and mtime: re-read.
    const tmp = join(dir, 'other.json');
    writeFileSync(tmp, by('c'));
    utimesSync(tmp, FIXED, later);
    renameSync(tmp, path);
    const third = s.poll();
    assert.notEqual(third, second);
    assert.equal(third[0]!.detail, 'injected on c');

    // Size alone changes (in place, same mtime): re-read.
    writeFileSync(path, by('dd'));
    utimesSync(path, FIXED, later);
    const fourth = s.poll();
    assert.notEqual(fourth, third);
    assert.equal(fourth[0]!.detail, 'injected on dd');
  });

  test('a corrupt list keeps the last good answer and reports the problem; a fixed list is read again', (t) => {
    const { dev } = device(t);
    const problems: string[] = [];
    const s = new EmulatedPoisonSource(dev, (m) => problems.push(m));
    injectError(dev, { range: { offset: 0, length: 4096 }, kind: 'poison', now: new Date(T0) });
    const good = s.poll();
    assert.equal(good.length, 1);

    writeFileSync(poisonListPath(dev), '{"version": 1, "errors": [{"kind": "poison", "firstSeen": "never"}]}');
    assert.deepEqual(s.poll(), good);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, new RegExp(`poison list .*${basename(poisonListPath(dev)).replace(/\./g, '\\.')}: errors\\[0\\]\\.firstSeen: "never" is not a time`));

    writeFileSync(poisonListPath(dev), 'not json at all');
    assert.deepEqual(s.poll(), good);
    assert.match(problems.at(-1)!, /not JSON/);
    // Writers refuse a corrupt list rather than overwrite it.
    assert.throws(() => clearErrors(dev), invalid(/not JSON/, 'CORRUPT'));
    assert.deepEqual(s.poll(), good);
  });

  test('a corrupt list, then fixed', (t) => {
    const { dev } = device(t);
    const problems: string[] = [];
    const s = new EmulatedPoisonSource(dev, (m) => problems.push(m));
    writeFileSync(poisonListPath(dev), 'not json');
    assert.deepEqual(s.poll(), [], 'no good answer yet: no errors');
    assert.equal(problems.length, 1);
    writeFileSync(poisonListPath(dev), formatPoisonList([{ range: null, kind: 'offline', firstSeen: T0, by: '' }]));
    assert.deepEqual(s.poll(), [{ device: dev, range: null, kind: 'offline', firstSeen: T0, source: 'emulated' }]);
    assert.equal(problems.length, 1);
  });

  test('a list that stays corrupt is reported once per version of the file, not on every poll', (t) => {
    const { dev } = device(t);
    const problems: string[] = [];
    const s = new EmulatedPoisonSource(dev, (m) => problems.push(m));
    writeFileSync(poisonListPath(dev), 'not json');
    for (let i = 0; i < 5; i++) s.poll();
    assert.equal(problems.length, 1);
    writeFileSync(poisonListPath(dev), 'still not json');
    for (let i = 0; i < 5; i++) s.poll();
    assert.equal(problems.length, 2, 'a new corrupt version is reported again');
    writeFileSync(poisonListPath(dev), formatPoisonList([]));
    assert.deepEqual(s.poll(), []);
    writeFileSync(poisonListPath(dev), 'not json');
    s.poll();
    assert.equal(problems.length, 3, 'corrupt again after a good version: reported again');
  });
});
