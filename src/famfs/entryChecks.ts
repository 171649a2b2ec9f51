import { MAX_SIMPLE_EXTENTS, MAX_STRIPS, isPowerOfTwo } from './constants.js';
import type { FileEntry } from './logEntry.js';
import { fmapCapacity, fmapDeviceRanges } from './fmap.js';

/**
 * Why a FILE entry's fmap cannot be used, or null: famfs logplay's rules (no extent at offset 0,
 * devindex 0) plus what the kernel and allocator require (2 MiB alignment, counts, chunk size,
 * size covered, inside the device).
 */
export function fileEntryProblem(e: FileEntry, allocUnit: number, deviceSize: number): string | null {
  const l = e.layout ?? { extType: e.fmap.kind === 'simple' ? 0 : 1, count: e.fmap.extents.length, nstrips: e.fmap.kind === 'interleaved' ? (e.fmap.extents[0]?.strips.length ?? 0) : 0 };
  if (l.extType !== 0 && l.extType !== 1) return `unknown fmap extent type ${l.extType}`;
  if (e.fmap.kind === 'simple') {
    if (l.count < 1 || l.count > MAX_SIMPLE_EXTENTS) return `${l.count} simple extents (famfs allows 1..${MAX_SIMPLE_EXTENTS})`;
  } else {
    if (l.count !== 1) return `${l.count} interleaved extents (famfs allows exactly 1)`;
    if (l.nstrips < 1 || l.nstrips > MAX_STRIPS) return `${l.nstrips} strips (famfs allows 1..${MAX_STRIPS})`;
    const chunk = e.fmap.extents[0]!.chunkSize;
    if (!isPowerOfTwo(chunk) || chunk % allocUnit !== 0) return `chunk size ${chunk} is not a power of two multiple of the alloc unit`;
  }
  for (const r of fmapDeviceRanges(e.fmap)) {
    if (r.devIndex !== 0) return `extent on daxdev index ${r.devIndex} (only index 0 is supported)`;
    if (r.offset === 0) return 'extent at device offset 0 (the superblock)';
    if (r.offset % allocUnit !== 0 || r.length % allocUnit !== 0 || r.length === 0) return `extent [${r.offset}, +${r.length}) is not aligned to the ${allocUnit}-byte alloc unit`;
    if (r.offset + r.length > deviceSize) return `extent [${r.offset}, ${r.offset + r.length}) is beyond the device (${deviceSize} bytes)`;
  }
  if (e.fmap.kind === 'interleaved') {
    const strips = e.fmap.extents[0]!.strips;
    if (strips.some((s) => s.length !== strips[0]!.length)) return 'strips of one interleaved extent differ in length';
  }
  if (e.size > fmapCapacity(e.fmap)) return `file size ${e.size} exceeds the ${fmapCapacity(e.fmap)} bytes its extents address`;
  return null;
}
