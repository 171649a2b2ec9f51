import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FamfsError } from '../errors.js';
import type { ByteRange, ErrorSource, MemoryError } from './memoryError.js';

/**
 * Bad blocks of pmem-backed devdax, as the kernel lists them in sysfs `badblocks` files: one
 * range a line, "<first sector> <number of sectors>", in 512-byte sectors, e.g. "1024 8".
 *
 * /dev/daxX.Y is /sys/bus/dax/devices/daxX.Y, a link to .../ndbusN/regionM/daxX.Y/daxX.Y. The
 * nd region above it has `badblocks` (sectors from the region's start) and `resource` (its
 * physical start, hex); the dax device has `resource` and `size`. So a region sector s is
 * device byte s*512 + region resource - device resource. A block pmem namespace lists its own
 * sectors in /sys/block/pmemN/badblocks.
 */
export const SECTOR_SIZE = 512;

export interface BadblockRange {
  sector: number;
  count: number;
}

export interface BadblocksGeometry {
  /** Physical address the listed sectors count from. */
  regionStart: number;
  /** Physical address of the device's byte 0. */
  deviceStart: number;
  deviceSize: number;
}

export interface BadblocksLocation extends BadblocksGeometry {
  file: string;
}

function shown(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}...` : line);
}

/** Parses a badblocks file; lines that are not a range are named in problems and skipped. */
export function parseBadblocks(text: string): { ranges: BadblockRange[]; problems: string[] } {
  const ranges: BadblockRange[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const m = /^(\d+)\s+(\d+)$/.exec(line);
    if (!m) {
      problems.push(`line ${i + 1}: ${shown(line)} is not "<first sector> <number of sectors>"`);
      return;
    }
    const sector = Number(m[1]);
    const count = Number(m[2]);
    if (!Number.isSafeInteger((sector + count) * SECTOR_SIZE)) problems.push(`line ${i + 1}: ${shown(line)} lies past the largest byte offset handled`);
    else if (count === 0) problems.push(`line ${i + 1}: ${shown(line)} has no sectors`);
    else ranges.push({ sector, count });
  });
  return { ranges, problems };
}

/** Device byte ranges of listed sectors, in order, once each; parts outside the device are dropped. */
export function badblocksToDeviceRanges(ranges: readonly BadblockRange[], geo: BadblocksGeometry): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    const start = r.sector * SECTOR_SIZE + geo.regionStart - geo.deviceStart;
    const lo = Math.max(0, start);
    const hi = Math.min(geo.deviceSize, start + r.count * SECTOR_SIZE);
    if (hi > lo) out.push({ offset: lo, length: hi - lo });
  }
  out.sort((a, b) => a.offset - b.offset || a.length - b.length);
  return out.filter((r, i) => i === 0 || r.offset !== out[i - 1]!.offset || r.length !== out[i - 1]!.length);
}

/** A sysfs number: resource files are hex ("0x2080000000", or "0"), size files decimal. */
function readNumber(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new FamfsError('DEVICE', `cannot read ${path}: ${(e as Error).message}`);
  }
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new FamfsError('DEVICE', `${path}: ${shown(text)} is not an address or size`);
  return n;
}

/**
 * Where a device's bad blocks are listed, with what it takes to turn them into device offsets;
 * undefined when there is no list: not a devdax or pmem device (an emulated pool's regular
 * file), or a devdax not on an nd region (CXL, hmem). Throws when the sysfs files are there but
 * unreadable or malformed.
 */
export function discoverBadblocks(devicePath: string, sysfsRoot = '/sys'): BadblocksLocation | undefined {
  let name = basename(devicePath);
  try {
    if (statSync(devicePath).isFile()) return undefined;
    name = basename(realpathSync(devicePath));
  } catch {
    // not on this host: go by the name
  }
  let root: string;
  let dax: string;
  try {
    root = realpathSync(sysfsRoot);
    dax = realpathSync(join(sysfsRoot, 'bus', 'dax', 'devices', name));
  } catch {
    return pmemBlockBadblocks(name, sysfsRoot);
  }
  const inside = root.endsWith('/') ? root : `${root}/`;
  for (let dir = dirname(dax); dir.startsWith(inside); dir = dirname(dir)) {
    const file = join(dir, 'badblocks');
    if (existsSync(file) && existsSync(join(dir, 'resource'))) {
      return { file, regionStart: readNumber(join(dir, 'resource')), deviceStart: readNumber(join(dax, 'resource')), deviceSize: readNumber(join(dax, 'size')) };
    }
  }
  return undefined;
}

function pmemBlockBadblocks(name: string, sysfsRoot: string): BadblocksLocation | undefined {
  if (!/^pmem\d+(\.\d+)?$/.test(name)) return undefined;
  const dir = join(sysfsRoot, 'block', name);
  const file = join(dir, 'badblocks');
  if (!existsSync(file)) return undefined;
  return { file, regionStart: 0, deviceStart: 0, deviceSize: readNumber(join(dir, 'size')) * SECTOR_SIZE };
}

export interface BadblocksSourceOptions {
  device: string;
  sysfsRoot?: string;
  /** Re-read sysfs at most this often (ms); polls in between return the last answer. */
  pollMs?: number;
  now?: () => Date;
  /** Called when a problem first appears (unreadable file, garbage lines). */
  onProblem?: (message: string) => void;
}

export const BADBLOCKS_POLL_MS = 10_000;

/**
 * A device's pmem bad blocks as an error source. Each range's firstSeen is when this source
 * first saw it; a range that goes away and comes back is new. When the list cannot be read the
 * last answer stands.
 */
export class BadblocksSource implements ErrorSource {
  readonly name = 'badblocks' as const;
  private readAt: number | undefined;
  private current: MemoryError[] = [];
  private seen = new Map<string, string>();
  private problems = new Set<string>();
  private readonly pollMs: number;
  private readonly now: () => Date;
  private readonly onProblem: (message: string) => void;

  constructor(private readonly opts: BadblocksSourceOptions) {
    this.pollMs = opts.pollMs ?? BADBLOCKS_POLL_MS;
    this.now = opts.now ?? (() => new Date());
    this.onProblem = opts.onProblem ?? (() => {});
  }

  poll(): MemoryError[] {
    const now = this.now();
    const elapsed = this.readAt === undefined ? Infinity : now.getTime() - this.readAt;
    if (elapsed >= 0 && elapsed < this.pollMs) return this.current;
    this.readAt = now.getTime();
    const problems: string[] = [];
    try {
      this.read(now, problems);
    } catch (e) {
      problems.push((e as Error).message);
    }
    for (const p of problems) if (!this.problems.has(p)) this.onProblem(p);
    this.problems = new Set(problems);
    return this.current;
  }

  private read(now: Date, problems: string[]): void {
    const { device } = this.opts;
    const loc = discoverBadblocks(device, this.opts.sysfsRoot ?? '/sys');
    if (!loc) {
      this.seen.clear();
      this.current = [];
      return;
    }
    let text: string;
    try {
      text = readFileSync(loc.file, 'utf8');
    } catch (e) {
      throw new FamfsError('DEVICE', `cannot read ${loc.file}: ${(e as Error).message}`);
    }
    const parsed = parseBadblocks(text);
    problems.push(...parsed.problems.map((p) => `${loc.file} ${p}`));
    const seen = new Map<string, string>();
    this.current = badblocksToDeviceRanges(parsed.ranges, loc).map((range) => {
      const key = `${range.offset}+${range.length}`;
      const firstSeen = seen.get(key) ?? this.seen.get(key) ?? now.toISOString();
      seen.set(key, firstSeen);
      return { device, range, kind: 'poison' as const, source: 'badblocks' as const, firstSeen, detail: loc.file };
    });
    this.seen = seen;
  }
}
