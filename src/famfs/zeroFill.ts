import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DaxDevice } from './dax/device.js';
import { zeroMemory } from './dax/native.js';

/** Called as long work advances: bytes done of total. */
export type Progress = (done: number, total: number) => void;

/** Zero-fills in slices this big, yielding to the event loop and reporting progress between them. */
const SLICE = 32 * 1024 * 1024;

/**
 * Zero-fills device range [offset, offset + length) and writes the lines back from the CPU cache,
 * so another host reading the memory sees zeros and never a previous tenant's bytes.
 */
export async function zeroRange(dev: DaxDevice, offset: number, length: number, progress?: Progress, done = 0, total = length): Promise<void> {
  for (let pos = 0; pos < length; pos += SLICE) {
    const n = Math.min(SLICE, length - pos);
    // A hole in an emulated device's file already reads as zeros; writing it would only fault in pages.
    if (!dev.isHole(offset + pos, n)) for (const view of dev.views(offset + pos, n)) zeroMemory(view);
    progress?.(done + pos + n, total);
    if (pos + n < length) await yieldToLoop();
  }
}

/** Zero-fills several ranges with one progress total. */
export async function zeroRanges(dev: DaxDevice, ranges: { offset: number; length: number }[], progress?: Progress): Promise<void> {
  const total = ranges.reduce((n, r) => n + r.length, 0);
  let done = 0;
  for (const r of ranges) {
    await zeroRange(dev, r.offset, r.length, progress, done, total);
    done += r.length;
  }
}
