import { mapFileRange } from '../fmap.js';
import type { Fmap } from '../fmap.js';
import { intersect } from './memoryError.js';
import type { ByteRange, MemoryError } from './memoryError.js';

/** What one memory error does to one file: the file byte ranges that lie on bad memory. */
export interface FileDamage {
  error: MemoryError;
  /** File offsets (not device offsets), merged and in order. */
  fileRanges: ByteRange[];
}

/**
 * The errors that touch a file, with the file ranges they cover: every extent or strip of the
 * fmap is intersected with each error range (a whole-device error covers the whole file).
 * Pools have one device (daxdev index 0), so every error is on the file's device.
 */
export function fileDamage(fmap: Fmap, fileSize: number, errors: readonly MemoryError[]): FileDamage[] {
  if (errors.length === 0 || fileSize === 0) return [];
  const segments = mapFileRange(fmap, fileSize, 0, fileSize);
  const out: FileDamage[] = [];
  for (const error of errors) {
    if (!error.range) {
      out.push({ error, fileRanges: [{ offset: 0, length: fileSize }] });
      continue;
    }
    const ranges: ByteRange[] = [];
    for (const seg of segments) {
      const hit = intersect({ offset: seg.deviceOffset, length: seg.length }, error.range);
      if (hit) ranges.push({ offset: seg.fileOffset + (hit.offset - seg.deviceOffset), length: hit.length });
    }
    if (ranges.length > 0) out.push({ error, fileRanges: mergeRanges(ranges) });
  }
  return out;
}

/** Sorts and joins touching or overlapping ranges. */
export function mergeRanges(ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) last.length = Math.max(last.length, r.offset + r.length - last.offset);
    else out.push({ ...r });
  }
  return out;
}

/** The first error under file range [offset, offset+length), or undefined (the I/O may go on). */
export function damageUnder(fmap: Fmap, fileSize: number, offset: number, length: number, errors: readonly MemoryError[]): MemoryError | undefined {
  if (errors.length === 0 || length <= 0) return undefined;
  const whole = errors.find((e) => !e.range);
  if (whole) return whole;
  for (const seg of mapFileRange(fmap, fileSize, offset, length)) {
    const dev = { offset: seg.deviceOffset, length: seg.length };
    const hit = errors.find((e) => intersect(dev, e.range!) !== null);
    if (hit) return hit;
  }
  return undefined;
}

/** Device ranges of file range [offset, offset+length): used to turn a file offset into a poison range. */
export function deviceRangesOf(fmap: Fmap, fileSize: number, offset: number, length: number): ByteRange[] {
  return mapFileRange(fmap, fileSize, offset, length).map((s) => ({ offset: s.deviceOffset, length: s.length }));
}
