import { MAX_SIMPLE_EXTENTS, MAX_STRIPS, isPowerOfTwo } from './constants.js';
import type { FileEntry } from './logEntry.js';
import type { SimpleExtent } from './fmap.js';

/**
 * Why a FILE entry's fmap cannot be used, or null: famfs logplay's rules (no extent at offset 0,
 * devindex 0) plus what the kernel and allocator require (2 MiB alignment, counts, chunk size,
 * size covered, inside the device).
 */
export function fileEntryProblem(e: FileEntry, allocUnit: number, deviceSize: number): string | null {
  if (e.layoutProblem) return e.layoutProblem;
  const fmap = e.fmap;
  let capacity = 0;
  if (fmap.kind === 'simple') {
    if (fmap.extents.length < 1 || fmap.extents.length > MAX_SIMPLE_EXTENTS) return `${fmap.extents.length} simple extents (famfs allows 1..${MAX_SIMPLE_EXTENTS})`;
    for (const r of fmap.extents) {
      const problem = extentProblem(r, allocUnit, deviceSize);
      if (problem) return problem;
      capacity += r.length;
    }
  } else {
    const ie = fmap.extents[0];
    if (fmap.extents.length !== 1 || !ie) return `${fmap.extents.length} interleaved extents (famfs allows exactly 1)`;
    const strips = ie.strips;
    if (strips.length < 1 || strips.length > MAX_STRIPS) return `${strips.length} strips (famfs allows 1..${MAX_STRIPS})`;
    if (!isPowerOfTwo(ie.chunkSize) || ie.chunkSize % allocUnit !== 0) return `chunk size ${ie.chunkSize} is not a power of two multiple of the alloc unit`;
    for (const r of strips) {
      const problem = extentProblem(r, allocUnit, deviceSize);
      if (problem) return problem;
      if (r.length !== strips[0]!.length) return 'strips of one interleaved extent differ in length';
      capacity += r.length;
    }
    if (strips[0]!.length % ie.chunkSize !== 0) return `strip length ${strips[0]!.length} is not a multiple of the chunk size ${ie.chunkSize}`;
  }
  if (e.size > capacity) return `file size ${e.size} exceeds the ${capacity} bytes its extents address`;
  return null;
}

function extentProblem(r: SimpleExtent, allocUnit: number, deviceSize: number): string | null {
  if (r.devIndex !== 0) return `extent on daxdev index ${r.devIndex} (only index 0 is supported)`;
  if (r.offset === 0) return 'extent at device offset 0 (the superblock)';
  if (!isMultiple(r.offset, allocUnit) || !isMultiple(r.length, allocUnit) || r.length === 0) return `extent [${r.offset}, +${r.length}) is not aligned to the ${allocUnit}-byte alloc unit`;
  if (r.offset + r.length > deviceSize) return `extent [${r.offset}, ${r.offset + r.length}) is beyond the device (${deviceSize} bytes)`;
  return null;
}

/** n % unit === 0 without a floating-point remainder (slow in V8 for values beyond 2^31). */
function isMultiple(n: number, unit: number): boolean {
  return Math.floor(n / unit) * unit === n;
}
