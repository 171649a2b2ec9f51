import { randomInt } from 'node:crypto';
import { MAX_NBUCKETS, MAX_STRIPS, MIN_BUCKET_SIZE, isPowerOfTwo } from './constants.js';
import { FamfsError } from './errors.js';
import type { Fmap, SimpleExtent } from './fmap.js';

/**
 * Free space of a pool, rebuilt from the log: one slot per allocation unit (2 MiB) holding the
 * log index of the entry that owns it, METADATA for the superblock and log, or FREE.
 * famfs keeps a bitmap; owners instead of bits let fsck name both sides of a collision and let
 * the health code map a bad address to a file.
 */
export const FREE = -1;
export const METADATA = -2;
/** A unit two entries both claim: never freed again and never allocated (fsck reports it). */
export const COLLIDED = -3;
const NO_COLLISIONS: number[] = [];

export interface InterleaveParams {
  /** Strips per file (famfs -N); 1..16 and at most nbuckets. */
  nstrips: number;
  /** Bytes per chunk (famfs -C): a power of two and a multiple of the alloc unit. */
  chunkSize: number;
  /** Buckets the device is split into (famfs -B); 1..64. Defaults to nstrips. */
  nbuckets?: number;
}

export interface AllocatorOptions {
  /** famfs requires every bucket to span 1 GiB; emulated test pools may waive it (famfs's mock_stripe). */
  relaxBucketMinimum?: boolean;
  /** Random source for the bucket shuffle (tests pass a fixed one). */
  random?: (maxExclusive: number) => number;
}

export class SpaceMap {
  readonly owners: Int32Array;
  readonly unitCount: number;
  private free: number;
  /** Every unit below this index is in use: where first-fit starts looking. */
  private firstFree: number;

  constructor(
    readonly deviceSize: number,
    readonly allocUnit: number,
    readonly reservedBytes: number,
  ) {
    this.unitCount = Math.floor(deviceSize / allocUnit);
    this.owners = new Int32Array(this.unitCount).fill(FREE);
    const reserved = Math.min(Math.ceil(reservedBytes / allocUnit), this.unitCount);
    this.owners.fill(METADATA, 0, reserved);
    this.free = this.unitCount - reserved;
    this.firstFree = reserved;
  }

  get freeBytes(): number {
    return this.free * this.allocUnit;
  }

  get usedBytes(): number {
    return (this.unitCount - this.free) * this.allocUnit;
  }

  /** Units of `range` (outside the device is ignored; fsck reports it). */
  private units(range: SimpleExtent): [number, number] {
    const first = Math.floor(range.offset / this.allocUnit);
    const end = Math.min(Math.ceil((range.offset + range.length) / this.allocUnit), this.unitCount);
    return [first, end];
  }

  /**
   * Marks `range` as owned by entry `owner`; returns the owners it collided with (none normally).
   * A collided unit is quarantined, so deleting either file can never free memory the other uses.
   */
  claim(range: SimpleExtent, owner: number): number[] {
    return this.claimRange(range.offset, range.length, owner);
  }

  /** claim() of [offset, offset+length). */
  claimRange(offset: number, length: number, owner: number): number[] {
    const first = Math.floor(offset / this.allocUnit);
    const end = Math.min(Math.ceil((offset + length) / this.allocUnit), this.unitCount);
    const owners = this.owners;
    let collisions: number[] | undefined;
    for (let u = first; u < end; u++) {
      const cur = owners[u]!;
      if (cur === FREE) {
        this.free--;
        owners[u] = owner;
        continue;
      }
      collisions ??= [];
      if (!collisions.includes(cur)) collisions.push(cur);
      if (cur !== METADATA) owners[u] = COLLIDED;
    }
    return collisions ?? NO_COLLISIONS;
  }

  /** Frees the units of `range` that `owner` still owns. */
  release(range: SimpleExtent, owner: number): void {
    const [first, end] = this.units(range);
    for (let u = first; u < end; u++) {
      if (this.owners[u] === owner) {
        this.owners[u] = FREE;
        this.free++;
      }
    }
    if (first < this.firstFree) this.firstFree = first;
  }

  ownerAt(offset: number): number {
    return this.owners[Math.floor(offset / this.allocUnit)] ?? METADATA;
  }

  /** First fit of `count` free units within [from, to); returns the first unit or -1. */
  private findRun(count: number, from: number, to: number): number {
    let run = 0;
    for (let u = from; u < to; u++) {
      if (this.owners[u] === FREE) {
        if (++run === count) return u - count + 1;
      } else run = 0;
    }
    return -1;
  }

  largestFreeRun(): number {
    let best = 0;
    let run = 0;
    for (let u = 0; u < this.unitCount; u++) {
      if (this.owners[u] === FREE) best = Math.max(best, ++run);
      else run = 0;
    }
    return best * this.allocUnit;
  }

  /** famfs bitmap_alloc_contiguous(): one extent of size rounded up to the alloc unit, first fit. */
  allocContiguous(size: number): Fmap {
    const count = Math.ceil(size / this.allocUnit);
    while (this.firstFree < this.unitCount && this.owners[this.firstFree] !== FREE) this.firstFree++;
    const first = this.findRun(count, this.firstFree, this.unitCount);
    if (first < 0) throw this.noSpace(size);
    return { kind: 'simple', extents: [{ devIndex: 0, offset: first * this.allocUnit, length: count * this.allocUnit }] };
  }

  /**
   * famfs_file_strided_alloc(): the device is cut into nbuckets equal buckets; each of nstrips
   * strips is a first-fit run inside a different bucket, buckets tried in random order. Files
   * smaller than one chunk are allocated contiguously.
   */
  allocInterleaved(size: number, params: InterleaveParams, opts: AllocatorOptions = {}): Fmap {
    const nbuckets = params.nbuckets ?? params.nstrips;
    checkInterleaveParams({ ...params, nbuckets }, this.allocUnit, this.deviceSize, opts.relaxBucketMinimum ?? false);
    if (size < params.chunkSize) return this.allocContiguous(size);
    const chunkUnits = params.chunkSize / this.allocUnit;
    const bucketUnits = Math.floor(this.unitCount / nbuckets);
    const nstripes = Math.ceil(Math.ceil(size / this.allocUnit) / (params.nstrips * chunkUnits));
    const stripUnits = nstripes * chunkUnits;
    const random = opts.random ?? randomInt;
    const order = Array.from({ length: nbuckets }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = random(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const strips: SimpleExtent[] = [];
    for (const b of order) {
      const first = this.findRun(stripUnits, b * bucketUnits, (b + 1) * bucketUnits);
      if (first >= 0) strips.push({ devIndex: 0, offset: first * this.allocUnit, length: stripUnits * this.allocUnit });
      if (strips.length === params.nstrips) return { kind: 'interleaved', extents: [{ chunkSize: params.chunkSize, strips }] };
    }
    throw new FamfsError(
      'NO_SPACE',
      `out of space: ${params.nstrips} strips of ${stripUnits * this.allocUnit} bytes needed in ${nbuckets} buckets of ${bucketUnits * this.allocUnit} bytes; only ${strips.length} buckets have room (free ${this.freeBytes} bytes, largest free run ${this.largestFreeRun()} bytes)`,
      { free: this.freeBytes, largestFreeRun: this.largestFreeRun() },
    );
  }

  private noSpace(size: number): FamfsError {
    const largest = this.largestFreeRun();
    return new FamfsError('NO_SPACE', `out of space: ${size} bytes requested, ${this.freeBytes} bytes free, largest free run ${largest} bytes`, {
      requested: size,
      free: this.freeBytes,
      largestFreeRun: largest,
    });
  }
}

/** famfs_validate_interleave_param(), plus the CLI's nstrips <= 16. Throws INVALID naming the parameter. */
export function checkInterleaveParams(p: Required<InterleaveParams>, allocUnit: number, deviceSize: number, relaxBucketMinimum: boolean): void {
  const bad = (msg: string) => new FamfsError('INVALID', msg);
  if (!isPowerOfTwo(p.chunkSize) || p.chunkSize % allocUnit !== 0) throw bad(`chunk size ${p.chunkSize} must be a power of two and a multiple of the ${allocUnit}-byte alloc unit`);
  if (p.chunkSize > 0xffffffff) throw bad(`chunk size ${p.chunkSize} must be below 4 GiB (the kernel's ie_chunk_size is 32 bits)`);
  if (!Number.isInteger(p.nbuckets) || p.nbuckets < 1 || p.nbuckets > MAX_NBUCKETS) throw bad(`nbuckets ${p.nbuckets} must be 1..${MAX_NBUCKETS}`);
  if (!Number.isInteger(p.nstrips) || p.nstrips < 1 || p.nstrips > MAX_STRIPS) throw bad(`nstrips ${p.nstrips} must be 1..${MAX_STRIPS}`);
  if (p.nstrips > p.nbuckets) throw bad(`nstrips ${p.nstrips} must not exceed nbuckets ${p.nbuckets}`);
  if (!relaxBucketMinimum && deviceSize / p.nbuckets < MIN_BUCKET_SIZE) {
    throw bad(`nbuckets ${p.nbuckets} is too many for a ${deviceSize}-byte device: famfs requires each bucket to be at least 1 GiB`);
  }
}
