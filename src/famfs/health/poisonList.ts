import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FamfsError } from '../errors.js';
import { addon } from '../dax/native.js';
import { MEMORY_ERROR_KINDS } from './memoryError.js';
import type { ByteRange, ErrorSource, MemoryError, MemoryErrorKind } from './memoryError.js';

/**
 * The poison list of an emulated pool: a JSON file beside the device file,
 * `<device>.famfs-errors.json`, so every host that shares the file shares the list.
 *
 *   { "version": 1,
 *     "errors": [ { "offset": 37748736, "length": 4096, "kind": "poison",
 *                   "firstSeen": "2026-11-26T01:02:03.000Z", "by": "worker-1" },
 *                 { "wholeDevice": true, "kind": "offline", "firstSeen": "...", "by": "..." } ] }
 *
 * Writers take flock(LOCK_EX) on `<device>.famfs-errors.lock`, read, change, write a temporary
 * file and rename it over the list, so readers (which never lock) see the old or the new list.
 */
export const POISON_LIST_VERSION = 1;
export const EMULATED_ERROR_KINDS: readonly MemoryErrorKind[] = ['poison', 'timeout', 'offline'];

export interface PoisonEntry {
  range: ByteRange | null;
  kind: MemoryErrorKind;
  firstSeen: string;
  by: string;
}

export function poisonListPath(device: string): string {
  return `${device}.famfs-errors.json`;
}

function lockPath(device: string): string {
  return `${device}.famfs-errors.lock`;
}

function bad(path: string, what: string): FamfsError {
  return new FamfsError('CORRUPT', `poison list ${path}: ${what}`);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses the list's text; a malformed list is an error naming the entry and field. */
export function parsePoisonList(text: string, path = 'poison list'): PoisonEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== POISON_LIST_VERSION) throw bad(path, `version must be ${POISON_LIST_VERSION}`);
  const list = (raw as { errors?: unknown }).errors;
  if (!Array.isArray(list)) throw bad(path, 'errors must be an array');
  return list.map((e: Record<string, unknown>, i) => {
    const where = `errors[${i}]`;
    if (typeof e !== 'object' || e === null) throw bad(path, `${where} must be an object`);
    if (!MEMORY_ERROR_KINDS.includes(e.kind as MemoryErrorKind)) throw bad(path, `${where}.kind: ${JSON.stringify(e.kind)} is not one of ${MEMORY_ERROR_KINDS.join(', ')}`);
    if (typeof e.firstSeen !== 'string' || Number.isNaN(Date.parse(e.firstSeen))) throw bad(path, `${where}.firstSeen: ${JSON.stringify(e.firstSeen)} is not a time`);
    let range: ByteRange | null = null;
    if (e.wholeDevice !== true) {
      if (!isNonNegInt(e.offset)) throw bad(path, `${where}.offset: ${JSON.stringify(e.offset)} is not a byte offset`);
      if (!isNonNegInt(e.length) || e.length === 0) throw bad(path, `${where}.length: ${JSON.stringify(e.length)} is not a positive length`);
      range = { offset: e.offset, length: e.length };
    }
    return { range, kind: e.kind as MemoryErrorKind, firstSeen: e.firstSeen, by: typeof e.by === 'string' ? e.by : '' };
  });
}

export function formatPoisonList(entries: PoisonEntry[]): string {
  const errors = entries.map((e) => ({ ...(e.range ? { offset: e.range.offset, length: e.range.length } : { wholeDevice: true }), kind: e.kind, firstSeen: e.firstSeen, by: e.by }));
  return JSON.stringify({ version: POISON_LIST_VERSION, errors }, null, 2) + '\n';
}

/** The list as it is now; no file means no errors. */
export function readPoisonList(device: string): PoisonEntry[] {
  const path = poisonListPath(device);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FamfsError('DEVICE', `cannot read poison list ${path}: ${(e as Error).message}`);
  }
  return parsePoisonList(text, path);
}

function emulatedDeviceSize(device: string): number {
  let st;
  try {
    st = statSync(device);
  } catch (e) {
    throw new FamfsError('DEVICE', `cannot stat ${device}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new FamfsError('INVALID', `${device} is not an emulated pool (a regular file); errors can be injected into emulated pools only`);
  return st.size;
}

/** Read-modify-write of the list under its lock; the new list replaces the old one atomically. */
function updatePoisonList<T>(device: string, change: (entries: PoisonEntry[]) => { entries: PoisonEntry[]; result: T }): T {
  const fd = openSync(lockPath(device), 'a', 0o644);
  try {
    addon.flock(fd, true, true);
    const { entries, result } = change(readPoisonList(device));
    const path = poisonListPath(device);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, formatPoisonList(entries), { mode: 0o644 });
    const tfd = openSync(tmp, 'r');
    try {
      fsyncSync(tfd);
    } finally {
      closeSync(tfd);
    }
    renameSync(tmp, path);
    return result;
  } finally {
    closeSync(fd); // releases the flock
  }
}

export interface InjectRequest {
  /** null: the whole device. */
  range: ByteRange | null;
  kind: MemoryErrorKind;
  now?: Date;
}

/**
 * Adds an error to an emulated pool's list. The same range and kind twice is one entry (the
 * first one is returned). Ranges must lie inside the device.
 */
export function injectError(device: string, req: InjectRequest): PoisonEntry {
  const size = emulatedDeviceSize(device);
  if (!EMULATED_ERROR_KINDS.includes(req.kind)) throw new FamfsError('INVALID', `kind: "${req.kind}" must be one of ${EMULATED_ERROR_KINDS.join(', ')}`);
  if (req.range) {
    const { offset, length } = req.range;
    if (!isNonNegInt(offset)) throw new FamfsError('INVALID', `offset: ${offset} is not a byte offset`);
    if (!isNonNegInt(length) || length === 0) throw new FamfsError('INVALID', `length: ${length} must be a positive number of bytes`);
    if (offset + length > size) throw new FamfsError('INVALID', `range ${offset}+${length} ends past the end of ${device} (${size} bytes)`);
  }
  return updatePoisonList(device, (entries) => {
    const same = entries.find((e) => e.kind === req.kind && (e.range === null ? req.range === null : req.range !== null && e.range.offset === req.range.offset && e.range.length === req.range.length));
    if (same) return { entries, result: same };
    const entry: PoisonEntry = { range: req.range, kind: req.kind, firstSeen: (req.now ?? new Date()).toISOString(), by: hostname() };
    return { entries: [...entries, entry], result: entry };
  });
}

/** Removes every error, or those overlapping `range`; returns what was removed. */
export function clearErrors(device: string, range?: ByteRange): PoisonEntry[] {
  emulatedDeviceSize(device);
  return updatePoisonList(device, (entries) => {
    const hit = (e: PoisonEntry) => !range || e.range === null || (e.range.offset < range.offset + range.length && range.offset < e.range.offset + e.range.length);
    return { entries: entries.filter((e) => !hit(e)), result: entries.filter(hit) };
  });
}

export function poisonEntryToError(device: string, e: PoisonEntry): MemoryError {
  return { device, range: e.range, kind: e.kind, firstSeen: e.firstSeen, source: 'emulated', ...(e.by ? { detail: `injected on ${e.by}` } : {}) };
}

/**
 * The emulated poison list as an error source. The file is re-read only when it changed (inode,
 * size or mtime), so polling it often costs one stat. A list that cannot be parsed keeps the
 * last good answer and reports the problem through onProblem, once per version of the file.
 */
export class EmulatedPoisonSource implements ErrorSource {
  readonly name = 'emulated' as const;
  private stamp = '';
  private current: MemoryError[] = [];

  constructor(
    private readonly device: string,
    private readonly onProblem: (message: string) => void = () => {},
  ) {}

  poll(): MemoryError[] {
    let st;
    try {
      st = statSync(poisonListPath(this.device), { bigint: true });
    } catch {
      this.stamp = '';
      this.current = [];
      return this.current;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
    if (stamp !== this.stamp) {
      // A corrupt list is reported once per version of the file, not on every poll.
      this.stamp = stamp;
      try {
        this.current = readPoisonList(this.device).map((e) => poisonEntryToError(this.device, e));
      } catch (e) {
        this.onProblem((e as Error).message);
      }
    }
    return this.current;
  }
}
