import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { FamfsError } from '../errors.js';
import { devdaxGeometry, openDaxDevice } from '../dax/device.js';
import type { DaxDevice } from '../dax/device.js';
import { probeRead } from '../dax/native.js';
import type { ErrorSource, MemoryError, MemoryErrorKind } from './memoryError.js';

/** The superblock and the log header area at the start of the device. */
export const DEFAULT_PROBE_BYTES = 2 * 1024 * 1024;
/** One byte per page: enough to touch every page of the probed area. */
export const PROBE_STRIDE = 4096;

/** Errors of open/stat/mmap that mean the device is gone (removed, unbound, hot-unplugged, dead). */
export const OFFLINE_ERRNOS: readonly string[] = ['ENOENT', 'ENXIO', 'ENODEV', 'EIO'];

/** strerror() texts the addon puts in its messages, for errors that lost their code on the way. */
const STRERROR: readonly [string, string][] = [
  ['No such device or address', 'ENXIO'],
  ['No such device', 'ENODEV'],
  ['No such file or directory', 'ENOENT'],
  ['Input/output error', 'EIO'],
];

/** The errno code of a failed fs call or addon call, also when wrapped in a FamfsError message. */
export function errnoOf(e: unknown): string | undefined {
  if (!(e instanceof FamfsError)) {
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  const message = e instanceof Error ? e.message : String(e);
  // Node's fs errors read "ENOENT: no such file or directory, open '/x'".
  const m = /(?:^|: )(E[A-Z0-9]{2,}): /.exec(message);
  if (m) return m[1];
  for (const [text, code] of STRERROR) if (message.includes(text)) return code;
  return undefined;
}

export interface DeviceProbeOptions {
  /** The device as the pool names it: a /dev/daxX.Y path or the emulated file. */
  device: string;
  /** The size the pool was made with; without it, the size seen at the first successful poll. */
  expectedSize?: number;
  /** How many bytes at the start of the device each poll reads (default 2 MiB). */
  probeBytes?: number;
  now?: () => Date;
  /** Called (and the last answer kept) when a poll fails for a reason that says nothing about the device. */
  onProblem?: (message: string) => void;
  /** The node named in the errors (default: the host name): only this host saw them. */
  node?: string;
  /**
   * The guarded read of the mapped probe area: -1 if it read fine, else the faulting offset.
   * Defaults to the native SIGBUS-guarded probeRead; tests wrap it to break the device mid-poll.
   */
  probe?: (view: Uint8Array) => number;
}

type Category = 'disappeared' | 'reconfigured' | 'sigbus';

interface Condition {
  kind: MemoryErrorKind;
  category: Category;
  detail: string;
}

/** Outcome of one look at the device: a condition, healthy (null), or a problem to report. */
type Look = { condition: Condition | null } | { problem: string };

/**
 * Notices a pool's device disappearing or becoming unreadable. Each poll stats the device (and,
 * for devdax, reads its sysfs size), then reads one byte per page of the first `probeBytes` under
 * a SIGBUS guard. The device stays open and mapped between polls while it is the same file or
 * character device (same dev, inode and rdev), so polling never piles up mappings waiting for the
 * garbage collector; a replaced device is opened anew. Reports at most one whole-device error:
 *   - 'offline'    the device is gone (ENOENT/ENXIO/ENODEV/EIO on stat, open or mmap), or it has
 *                  another size than the pool was made with ("device reconfigured");
 *   - 'unreadable' a read of the probed area raised SIGBUS (memory poison, a truncated file).
 * firstSeen stays the same while the same kind of condition persists and resets when it clears.
 */
export class DeviceProbeSource implements ErrorSource {
  readonly name = 'probe' as const;
  private readonly device: string;
  private readonly probeBytes: number;
  private readonly now: () => Date;
  private readonly onProblem: (message: string) => void;
  private readonly node: string;
  private readonly probe: (view: Uint8Array) => number;
  private referenceSize: number | undefined;
  private current: { condition: Condition; firstSeen: string } | null = null;
  private held: { id: string; dev: DaxDevice; view: Buffer } | undefined;
  /**
   * A device this host never had (a node without the pool) is not an error: only a device that
   * was here (or that expectedSize says must be here) and went away is "offline".
   */
  private seen: boolean;
  private absentReported = false;

  constructor(opts: DeviceProbeOptions) {
    this.device = opts.device;
    this.referenceSize = opts.expectedSize;
    this.seen = opts.expectedSize !== undefined;
    this.probeBytes = opts.probeBytes !== undefined && opts.probeBytes > 0 ? Math.floor(opts.probeBytes) : DEFAULT_PROBE_BYTES;
    this.now = opts.now ?? (() => new Date());
    this.onProblem = opts.onProblem ?? (() => {});
    this.node = opts.node ?? hostname();
    this.probe = opts.probe ?? ((view) => probeRead(view, 0, view.length, PROBE_STRIDE));
  }

  poll(): MemoryError[] {
    let look: Look;
    try {
      look = this.look();
    } catch (e) {
      look = { problem: `device probe of ${this.device}: ${(e as Error)?.message ?? String(e)}` };
    }
    if ('problem' in look) {
      this.report(look.problem);
    } else if (look.condition === null) {
      this.current = null;
    } else {
      const c = look.condition;
      if (!this.current || this.current.condition.kind !== c.kind || this.current.condition.category !== c.category) {
        this.current = { condition: c, firstSeen: this.now().toISOString() };
      } else {
        this.current.condition = c; // the detail may change (another errno, size or byte); firstSeen stays
      }
    }
    return this.errors();
  }

  private report(message: string): void {
    try {
      this.onProblem(message);
    } catch {
      // a failing callback must not make poll() throw
    }
  }

  private errors(): MemoryError[] {
    if (!this.current) return [];
    const { condition, firstSeen } = this.current;
    return [{ device: this.device, range: null, kind: condition.kind, firstSeen, source: 'probe', detail: condition.detail, node: this.node }];
  }

  private look(): Look {
    const path = this.device;
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      this.close(); // a deleted emulated file's memory is freed only when its last mapping goes
      if (!this.seen && errnoOf(e) === 'ENOENT') {
        if (!this.absentReported) this.report(`device ${path} is not present on this host; not probing it until it appears`);
        this.absentReported = true;
        return { condition: null };
      }
      return this.failed('stat', e);
    }
    this.seen = true;
    if (!st.isFile() && !st.isCharacterDevice()) {
      return offline('disappeared', `device disappeared: ${path} is no longer a dax device or a regular file`);
    }
    let size = st.size;
    if (st.isCharacterDevice()) {
      try {
        size = devdaxGeometry(st.rdev).size;
      } catch (e) {
        return this.failed('sysfs size of', e);
      }
    }
    const sized = this.checkSize(size);
    if (sized) return sized;
    const id = `${st.dev}:${st.ino}:${st.rdev}`;
    if (this.held?.id !== id) {
      this.close();
      let dev: DaxDevice;
      try {
        dev = openDaxDevice(path, { writable: false });
      } catch (e) {
        return this.failed('open', e);
      }
      try {
        this.held = { id, dev, view: dev.map(0, Math.min(this.probeBytes, dev.size)) };
      } catch (e) {
        dev.close();
        return this.failed('mmap', e);
      }
    }
    this.referenceSize ??= size;
    const bad = this.probe(this.held.view);
    if (bad >= 0) return { condition: { kind: 'unreadable', category: 'sigbus', detail: `SIGBUS reading byte ${bad}` } };
    return { condition: null };
  }

  /** Releases the device and its mapping. */
  close(): void {
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    try {
      held.dev.close();
    } catch (e) {
      this.report(`device probe of ${this.device}: closing the device: ${(e as Error).message}`);
    }
  }

  private checkSize(size: number): Look | null {
    const ref = this.referenceSize;
    if (size === 0) return offline('reconfigured', `device reconfigured: size ${ref ?? 'unknown'} → 0 (${this.device} is empty)`);
    if (ref !== undefined && size !== ref) return offline('reconfigured', `device reconfigured: size ${ref} → ${size}`);
    return null;
  }

  private failed(what: string, e: unknown): Look {
    const code = errnoOf(e);
    if (code !== undefined && OFFLINE_ERRNOS.includes(code)) return offline('disappeared', `device disappeared: ${what} ${this.device} failed with ${code}`);
    return { problem: `device probe of ${this.device}: ${what}: ${(e as Error)?.message ?? String(e)}` };
  }
}

function offline(category: Category, detail: string): Look {
  return { condition: { kind: 'offline', category, detail } };
}
