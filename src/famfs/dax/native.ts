import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The famfs_dax N-API addon (native/dax.c), built by `npm install`. */
interface DaxAddon {
  mmap(fd: number, offset: number, length: number, writable: boolean): ArrayBuffer;
  unmap(mapping: ArrayBuffer): void;
  zero(view: Uint8Array, offset: number, length: number): void;
  flush(view: Uint8Array, offset: number, length: number): void;
  invalidate(view: Uint8Array, offset: number, length: number): void;
  verifyLog(region: Uint8Array, headerSize: number, entrySize: number, from: number, to: number): number;
  crc32(view: Uint8Array, offset: number, length: number): number;
  populate(view: Uint8Array, offset: number, length: number): void;
  isHole(fd: number, offset: number, length: number): boolean;
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  funlock(fd: number): void;
  cacheFlushMethod(): string;
  probeRead(view: Uint8Array, offset: number, length: number, stride: number): number;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'famfs_dax.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('famfs_dax native addon not found (build/Release/famfs_dax.node); run `npm install` to build it');
}

export const addon: DaxAddon = createRequire(import.meta.url)(findAddon()) as DaxAddon;

/** Writes back the CPU cache lines of `view` to memory (famfs does this after every log append). */
export function flushCache(view: Uint8Array, offset = 0, length = view.length - offset): void {
  addon.flush(view, offset, length);
}

/** Evicts `view` from the CPU cache so the next read comes from (possibly remote) memory. */
export function invalidateCache(view: Uint8Array, offset = 0, length = view.length - offset): void {
  addon.invalidate(view, offset, length);
}

/** Zero-fills `view` with non-temporal stores: the zeros reach memory without a cache flush. */
export function zeroMemory(view: Uint8Array, offset = 0, length = view.length - offset): void {
  addon.zero(view, offset, length);
}

/** Pre-faults the pages of a range about to be read (a big log maps in one go, not per 4 KiB). */
export function populatePages(view: Uint8Array, offset = 0, length = view.length - offset): void {
  addon.populate(view, offset, length);
}

/**
 * Reads one byte every `stride` bytes of the range (and its last byte) under a SIGBUS guard, so a
 * poisoned page (BUS_MCEERR_AR) or an emulated device file truncated under its mapping is reported
 * instead of killing the process. Returns -1 when every byte read fine, else the offset (relative
 * to `view`) of the byte that faulted. A SIGBUS outside a probe behaves as it would without it.
 */
export function probeRead(view: Uint8Array, offset = 0, length = view.length - offset, stride = 4096): number {
  return addon.probeRead(view, offset, length, stride);
}
