/**
 * A test pool with a few directories and files (plain and interleaved) whose bytes are random,
 * and an independent model of where each file byte lives on the device (the interleave math
 * written out from the famfs FUSE kernel ABI reference §2.8, not src/famfs/fmap.ts).
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { Pool, fmapDeviceRanges, mapFileRange, MiB } from '../../src/famfs/index.js';
import type { DaxDevice, FileNode, Fmap } from '../../src/famfs/index.js';
import { tmpPool } from './tmpPool.js';
import type { TmpPool } from './tmpPool.js';

export const CHUNK = 2 * MiB;
export const INTERLEAVE = { nstrips: 3, chunkSize: CHUNK, nbuckets: 4 };

type T = { after(fn: () => unknown): void };

/** Device offset of file byte `off` (0 <= off < size), by the RFC's interleave formulas. */
export function modelDeviceOffset(fmap: Fmap, size: number, off: number): number {
  assert.ok(off >= 0 && off < size, `offset ${off} inside the file`);
  let base = 0;
  if (fmap.kind === 'simple') {
    for (const e of fmap.extents) {
      if (off < base + e.length) return e.offset + (off - base);
      base += e.length;
    }
  } else {
    for (const ie of fmap.extents) {
      const nbytes = Math.min(
        ie.strips.reduce((n, s) => n + s.length, 0),
        size - base,
      );
      if (off < base + nbytes) {
        const local = off - base;
        const chunkNum = Math.floor(local / ie.chunkSize);
        const chunkOffset = local % ie.chunkSize;
        const stripeNum = Math.floor(chunkNum / ie.strips.length);
        const strip = ie.strips[chunkNum % ie.strips.length]!;
        return strip.offset + chunkOffset + stripeNum * ie.chunkSize;
      }
      base += nbytes;
    }
  }
  throw new Error(`offset ${off} is not mapped`);
}

/** The file's bytes as the model places them (a copy), cross-checked with mapFileRange. */
export function modelFile(dev: DaxDevice, node: FileNode): Buffer {
  const out = Buffer.alloc(node.size);
  // Extents, strips and chunks are 2 MiB multiples, so every 4 KiB block is contiguous on the device.
  for (let pos = 0; pos < node.size; pos += 4096) {
    const len = Math.min(4096, node.size - pos);
    dev.map(modelDeviceOffset(node.fmap, node.size, pos), len).copy(out, pos);
  }
  const viaFmap = Buffer.concat(mapFileRange(node.fmap, node.size, 0, node.size).map((s) => dev.map(s.deviceOffset, s.length)));
  assert.ok(viaFmap.equals(out), `mapFileRange agrees with the model for ${node.relpath}`);
  return out;
}

/** Writes file bytes [off, off + data.length) straight to the device, by the model. */
export function writeModel(dev: DaxDevice, node: FileNode, off: number, data: Buffer): void {
  for (let i = 0; i < data.length; ) {
    const pos = off + i;
    const dev0 = modelDeviceOffset(node.fmap, node.size, pos);
    const n = Math.min(data.length - i, CHUNK - (pos % CHUNK), 4096 - (pos % 4096));
    data.copy(dev.map(dev0, n), 0, i, i + n);
    i += n;
  }
}

/** Device bytes of the fmap past the end of the file (the slack of the last allocation unit). */
export function slackRanges(node: FileNode): { offset: number; length: number }[] {
  const used = new Set<number>();
  for (let pos = 0; pos < node.size; pos += 4096) used.add(Math.floor(modelDeviceOffset(node.fmap, node.size, pos) / 4096));
  const out: { offset: number; length: number }[] = [];
  for (const r of fmapDeviceRanges(node.fmap)) for (let p = r.offset; p < r.offset + r.length; p += 4096) if (!used.has(p / 4096)) out.push({ offset: p, length: 4096 });
  return out;
}

export interface Fixture {
  tp: TmpPool;
  /** The pool's writer (master: same FAMFS_SYSTEM_UUID_FILE as mkfs). */
  writer: Pool;
  files: Record<string, FileNode>;
}

export const FILES = {
  'dir/a': { size: 5 * MiB + 123, uid: 1001, gid: 1002, mode: 0o640 },
  plain: { size: 3 * MiB - 7, uid: 0, gid: 0, mode: 0o644 },
  striped: { size: 20 * MiB + 4097, uid: 2000, gid: 3000, mode: 0o666, interleave: INTERLEAVE },
  tiny: { size: 1, uid: 0, gid: 0, mode: 0o600 },
} as const;

/** A 256 MiB pool: dir/ (1000:1000 0750), the FILES, and `many` files many/f00.. with random bytes everywhere. */
export async function fixture(t: T, opts: { many?: number } = {}): Promise<Fixture> {
  const tp = await tmpPool();
  t.after(() => tp.cleanup());
  const writer = Pool.open(tp.dev, { allocator: { relaxBucketMinimum: true } });
  await writer.mkdir('dir', { uid: 1000, gid: 1000, mode: 0o750 });
  const files: Record<string, FileNode> = {};
  for (const [name, f] of Object.entries(FILES)) {
    files[name] = await writer.createFile(name, f.size, { uid: f.uid, gid: f.gid, mode: f.mode, ...('interleave' in f ? { interleave: f.interleave } : {}) });
  }
  if (opts.many) {
    await writer.mkdir('many');
    for (let i = 0; i < opts.many; i++) {
      const name = `many/f${String(i).padStart(2, '0')}${'x'.repeat(i % 7)}`;
      files[name] = await writer.createFile(name, 4096 + i);
    }
  }
  assert.equal(files.striped!.fmap.kind, 'interleaved', 'striped is interleaved');
  for (const node of Object.values(files)) for (const r of fmapDeviceRanges(node.fmap)) randomFillSync(tp.dev.map(r.offset, r.length));
  return { tp, writer, files };
}

/** Offsets and sizes worth reading: every alignment around pages and 2 MiB chunk boundaries. */
export function interestingRanges(size: number): [number, number][] {
  const offsets = new Set<number>([0, 1, 7, 511, 512, 4095, 4096, 4097, 8191, 65535, 131072 + 3]);
  for (let b = CHUNK; b < size + CHUNK; b += CHUNK) for (const d of [-4097, -4096, -1, 0, 1, 4095]) offsets.add(b + d);
  for (const d of [-4097, -4096, -1, 0, 1]) offsets.add(size + d);
  const sizes = [1, 2, 4095, 4096, 4097, 65536, CHUNK - 1, CHUNK + 1];
  const out: [number, number][] = [];
  let k = 0;
  for (const o of [...offsets].filter((x) => x >= 0).sort((a, b) => a - b)) {
    out.push([o, sizes[k++ % sizes.length]!]);
    out.push([o, 4096]);
  }
  return out;
}
