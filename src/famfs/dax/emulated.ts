import { closeSync, existsSync, ftruncateSync, openSync, statSync } from 'node:fs';
import { FamfsError } from '../errors.js';
import { ALLOC_UNIT } from '../constants.js';

/**
 * Creates (or grows) the regular file that backs an emulated dax device. Sparse on tmpfs and
 * hugetlbfs, so untouched memory costs nothing. The size must be a multiple of 2 MiB, as devdax
 * sizes are.
 */
export function createEmulatedDevice(path: string, size: number): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % ALLOC_UNIT !== 0) {
    throw new FamfsError('INVALID', `emulated device size ${size} must be a positive multiple of 2 MiB`);
  }
  if (existsSync(path)) {
    const st = statSync(path);
    if (!st.isFile()) throw new FamfsError('INVALID', `${path} exists and is not a regular file; refusing to use it as an emulated dax device`);
    if (st.size > size) throw new FamfsError('INVALID', `emulated device ${path} is already ${st.size} bytes; refusing to shrink it to ${size}`);
  }
  const fd = openSync(path, 'a+', 0o600);
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}
