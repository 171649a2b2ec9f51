import type { DaxDevice } from './dax/device.js';
import { invalidateCache } from './dax/native.js';
import { SUPERBLOCK_STRUCT_SIZE, checkSuperblock } from './superblock.js';
import type { SuperblockVerdict } from './superblock.js';

/**
 * Reads and judges the superblock of `dev` as it is in memory now: the cached lines are
 * invalidated first, because another host may have re-formatted the (non-coherent) memory.
 */
export function readSuperblock(dev: DaxDevice): SuperblockVerdict {
  const view = dev.map(0, SUPERBLOCK_STRUCT_SIZE);
  invalidateCache(view);
  return checkSuperblock(view);
}
