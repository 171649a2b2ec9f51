import { ALLOC_UNIT, roundUp } from '../famfs/index.js';
import type { CapacityRange } from '../csi/types.js';
import { invalidArgument, outOfRange } from '../csi/errors.js';

const INT64_MAX = 2n ** 63n - 1n;

function bytes(field: string, value: string | number | undefined): number {
  if (value === undefined || value === '' || value === 0) return 0;
  let n: bigint;
  try {
    n = BigInt(value);
  } catch {
    throw invalidArgument(`capacity_range.${field}: "${value}" is not an integer`);
  }
  if (n < 0n) throw invalidArgument(`capacity_range.${field}: ${n} must not be negative`);
  if (n > INT64_MAX) throw outOfRange(`capacity_range.${field}: ${n} does not fit an int64`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw outOfRange(`capacity_range.${field}: ${n} bytes is beyond any pool famfs-csi can serve`);
  return Number(n);
}

export interface SizeRange {
  required: number;
  limit: number;
}

export function parseCapacityRange(range: CapacityRange | null | undefined): SizeRange {
  return { required: bytes('required_bytes', range?.required_bytes), limit: bytes('limit_bytes', range?.limit_bytes) };
}

/**
 * The size a new volume gets: required_bytes rounded up to the 2 MiB allocation unit (famfs
 * files occupy whole units), or the default when no range is given. OUT_OF_RANGE when the limit
 * cannot hold it.
 */
export function volumeSize(range: SizeRange, defaultSize: number): number {
  const { required, limit } = range;
  if (limit > 0 && required > limit) throw outOfRange(`capacity_range: required_bytes ${required} exceeds limit_bytes ${limit}`);
  let size = required > 0 ? roundUp(required, ALLOC_UNIT) : roundUp(defaultSize, ALLOC_UNIT);
  if (required === 0 && limit > 0 && size > limit) size = Math.floor(limit / ALLOC_UNIT) * ALLOC_UNIT;
  if (size === 0 || (limit > 0 && size > limit)) {
    throw outOfRange(`capacity_range: limit_bytes ${limit} is below ${roundUp(Math.max(required, 1), ALLOC_UNIT)}, the smallest volume that holds required_bytes ${required} (volumes are whole 2 MiB units)`);
  }
  return size;
}

/** Does an existing volume of `size` bytes satisfy the range? (CreateVolume idempotency.) */
export function sizeSatisfies(size: number, range: SizeRange): boolean {
  return size >= range.required && (range.limit === 0 || size <= range.limit);
}
