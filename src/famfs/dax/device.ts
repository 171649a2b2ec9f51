import { closeSync, fstatSync, openSync, readFileSync, statSync, constants as fsc } from 'node:fs';
import { FamfsError } from '../errors.js';
import { addon } from './native.js';

/**
 * A pool's memory: a real devdax character device (mmap only; it has no read/write syscalls) or
 * an emulated one (a regular file, e.g. on /dev/shm, that every "host" maps MAP_SHARED).
 * All access goes through map(): a Buffer that aliases device bytes.
 */
export type DaxKind = 'devdax' | 'emulated';

export interface DaxDevice {
  readonly path: string;
  readonly kind: DaxKind;
  readonly size: number;
  readonly writable: boolean;
  /** A Buffer aliasing device bytes [offset, offset + length). */
  map(offset: number, length: number): Buffer;
  /**
   * The same bytes as one or more Buffers cut at the device's mapping windows: never creates a
   * mapping of its own, so hot paths (FUSE I/O, zero-fill) can call it for any range.
   */
  views(offset: number, length: number): Buffer[];
  /** True when the range is known to read as zeros without being written (a hole in an emulated file). */
  isHole(offset: number, length: number): boolean;
  /** Takes the host-local writer lock (flock LOCK_EX on the device); false if another process holds it. */
  tryLock(): boolean;
  unlock(): void;
  close(): void;
}

/** Mappings are made in windows so no single Buffer exceeds Node's 4 GiB limit. */
const WINDOW = 1 << 30;

class MappedDevice implements DaxDevice {
  private readonly windows = new Map<number, ArrayBuffer>();
  private readonly extra: ArrayBuffer[] = [];
  private closed = false;

  constructor(
    readonly path: string,
    readonly kind: DaxKind,
    readonly size: number,
    readonly writable: boolean,
    private readonly fd: number,
    private readonly align: number,
  ) {}

  map(offset: number, length: number): Buffer {
    if (this.closed) throw new FamfsError('DEVICE', `device ${this.path} is closed`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FamfsError('INVALID', `range [${offset}, ${offset + length}) is outside device ${this.path} (${this.size} bytes)`);
    }
    if (length === 0) return Buffer.alloc(0);
    const w = Math.floor(offset / WINDOW);
    if (offset + length <= (w + 1) * WINDOW) {
      const base = w * WINDOW;
      return Buffer.from(this.window(w), offset - base, length);
    }
    const start = Math.floor(offset / this.align) * this.align;
    const end = Math.min(Math.ceil((offset + length) / this.align) * this.align, this.size);
    const ab = this.mmap(start, end - start);
    this.extra.push(ab);
    return Buffer.from(ab, offset - start, length);
  }

  views(offset: number, length: number): Buffer[] {
    const out: Buffer[] = [];
    for (let pos = offset, end = offset + length; pos < end; ) {
      const n = Math.min(end, (Math.floor(pos / WINDOW) + 1) * WINDOW) - pos;
      out.push(this.map(pos, n));
      pos += n;
    }
    return out;
  }

  private window(w: number): ArrayBuffer {
    let ab = this.windows.get(w);
    if (!ab || ab.byteLength === 0) {
      const base = w * WINDOW;
      ab = this.mmap(base, Math.min(WINDOW, this.size - base));
      this.windows.set(w, ab);
    }
    return ab;
  }

  private mmap(offset: number, length: number): ArrayBuffer {
    try {
      return addon.mmap(this.fd, offset, length, this.writable);
    } catch (e) {
      throw new FamfsError('DEVICE', `cannot map ${length} bytes at offset ${offset} of ${this.path}: ${(e as Error).message}`);
    }
  }

  isHole(offset: number, length: number): boolean {
    return this.kind === 'emulated' && addon.isHole(this.fd, offset, length);
  }

  tryLock(): boolean {
    return addon.flock(this.fd, true, false);
  }

  unlock(): void {
    addon.funlock(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ab of [...this.windows.values(), ...this.extra]) addon.unmap(ab);
    this.windows.clear();
    this.extra.length = 0;
    closeSync(this.fd);
  }
}

/** glibc's dev_t encoding. */
function majorMinor(rdev: number): [number, number] {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return [major, minor];
}

function readSysfsNumber(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Size and mapping alignment of a devdax character device, from sysfs. */
export function devdaxGeometry(rdev: number, sysfsRoot = '/sys'): { size: number; align: number } {
  const [major, minor] = majorMinor(rdev);
  const dir = `${sysfsRoot}/dev/char/${major}:${minor}`;
  const size = readSysfsNumber(`${dir}/size`);
  if (!size) throw new FamfsError('DEVICE', `cannot read a size for dax device ${major}:${minor} from ${dir}/size`);
  const align = Math.max(readSysfsNumber(`${dir}/align`) ?? 0x200000, 0x200000);
  return { size, align };
}

export interface OpenDeviceOptions {
  writable?: boolean;
}

/** Opens `path` as a devdax device (character device) or an emulated one (regular file). */
export function openDaxDevice(path: string, opts: OpenDeviceOptions = {}): DaxDevice {
  const writable = opts.writable ?? true;
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FamfsError('DEVICE', `cannot open dax device ${path}: ${(e as Error).message}`);
  }
  if (!st.isCharacterDevice() && !st.isFile()) throw new FamfsError('DEVICE', `${path} is neither a dax character device nor a regular file (emulated pool)`);
  let fd: number;
  try {
    fd = openSync(path, (writable ? fsc.O_RDWR : fsc.O_RDONLY));
  } catch (e) {
    throw new FamfsError('DEVICE', `cannot open dax device ${path}: ${(e as Error).message}`);
  }
  try {
    if (st.isCharacterDevice()) {
      const { size, align } = devdaxGeometry(st.rdev);
      return new MappedDevice(path, 'devdax', size, writable, fd, align);
    }
    const size = fstatSync(fd).size;
    if (size === 0) throw new FamfsError('DEVICE', `emulated dax device ${path} is empty; give it a size when creating the pool`);
    return new MappedDevice(path, 'emulated', size, writable, fd, 4096);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
