import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { uptime } from 'node:os';
import { basename } from 'node:path';
import type { ErrorSource, MemoryError } from './memoryError.js';

/**
 * The famfs kernel (FUSE port) reports memory errors only as printk lines, read here from
 * /dev/kmsg (Documentation/ABI/testing/dev-kmsg). One record:
 *
 *   <facility*8+level>,<seq>,<usec since boot>,<flags>[,key=value...];<message>\n
 *    KEY=value\n          (continuation lines, each starting with a space)
 *
 * Bytes that are not printable ASCII, and '\' itself, are written as \xNN. Each read() of
 * /dev/kmsg returns one record; EPIPE means records were overwritten before we read them (the
 * next read goes on with the oldest one left), EAGAIN (O_NONBLOCK) means there is no more.
 *
 * The famfs lines (fs/fuse/famfs.c):
 *   famfs_set_daxdev_err: memory error on daxdev <name> (<index>)   the whole daxdev is off until unmount
 *   famfs_set_daxdev_err: memory err on unrecognized daxdev
 *   famfs_fileofs_to_daxofs: daxdev=<index> error                   an access refused on such a daxdev
 *   famfs_file_bad: i_size overwritten from <old> to <new>          one file, not the device
 */
export interface KmsgRecord {
  level: number;
  facility: number;
  seq: number;
  tsUsec: number;
  /** The message text, \xNN escapes decoded. */
  message: string;
  /** Continuation lines (KEY=value) and key=value fields of the header (caller=T1). */
  fields: Record<string, string>;
}

export type FamfsKernelEvent =
  | { kind: 'daxdev-error'; daxdev: string; index: number }
  | { kind: 'access-error'; function: string; index: number }
  | { kind: 'unrecognized-daxdev' }
  | { kind: 'file-bad'; from: number; to: number };

/** A famfs line the reader has seen. */
export interface KmsgEvent {
  seq: number;
  tsUsec: number;
  level: number;
  message: string;
  /** The record's first line as read (escaped). */
  line: string;
  event: FamfsKernelEvent;
}

export const KMSG_PATH = '/dev/kmsg';
/** USER_HZ, the unit of /proc/<pid>/stat times (getconf CLK_TCK); 100 on Linux x86 and arm64. */
export const CLOCK_TICKS_PER_SECOND = 100;

function safeUint(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decodes \xNN escapes; the bytes they stand for are UTF-8. */
export function unescapeKmsg(text: string): string {
  if (!text.includes('\\x')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === '\\' && text[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 4;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    bytes.push(...Buffer.from(ch, 'utf8'));
    i += ch.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A continuation line, " KEY=value". */
function addContinuation(fields: Record<string, string>, line: string): void {
  const eq = line.indexOf('=');
  if (eq > 1) fields[line.slice(1, eq)] = unescapeKmsg(line.slice(eq + 1));
}

/** One record's text (its header line and any continuation lines); null when it is not one. */
export function parseKmsgRecord(text: string): KmsgRecord | null {
  const lines = text.split('\n');
  const head = lines[0]!;
  const semi = head.indexOf(';');
  if (semi < 0) return null;
  const header = head.slice(0, semi).split(',');
  if (header.length < 4) return null;
  const prefix = safeUint(header[0]);
  const seq = safeUint(header[1]);
  const tsUsec = safeUint(header[2]);
  if (prefix === undefined || seq === undefined || tsUsec === undefined || !/^[-+c]?$/.test(header[3]!)) return null;
  const fields: Record<string, string> = {};
  for (const extra of header.slice(4)) {
    const eq = extra.indexOf('=');
    if (eq > 0) fields[extra.slice(0, eq)] = extra.slice(eq + 1);
  }
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (!line.startsWith(' ')) return null;
    addContinuation(fields, line);
  }
  return { level: prefix & 7, facility: prefix >> 3, seq, tsUsec, message: unescapeKmsg(head.slice(semi + 1)), fields };
}

// Any number of "module: " or "[module] " prefixes before the famfs function name.
const PREFIX = String.raw`(?:(?:[\w.-]+:|\[[\w.-]+\])\s+)*`;
const DAXDEV_ERROR = new RegExp(`^${PREFIX}memory error on daxdev (.+) \\((\\d+)\\)$`);
const UNRECOGNIZED = new RegExp(`^${PREFIX}memory err(?:or)? on unrecognized daxdev$`);
const ACCESS_ERROR = new RegExp(`^${PREFIX}([A-Za-z_]\\w*):\\s+daxdev=(\\d+) error$`);
const FILE_BAD = new RegExp(`^${PREFIX}i_size overwritten from (-?\\d+) to (-?\\d+)$`);

/** The famfs memory-error lines; null for any other message. */
export function parseFamfsKernelLine(message: string): FamfsKernelEvent | null {
  const text = message.trim();
  let m = DAXDEV_ERROR.exec(text);
  if (m) {
    const index = safeUint(m[2]);
    return index === undefined ? null : { kind: 'daxdev-error', daxdev: m[1]!, index };
  }
  if (UNRECOGNIZED.test(text)) return { kind: 'unrecognized-daxdev' };
  m = ACCESS_ERROR.exec(text);
  if (m) {
    const index = safeUint(m[2]);
    return index === undefined ? null : { kind: 'access-error', function: m[1]!, index };
  }
  m = FILE_BAD.exec(text);
  if (m) {
    const from = Number(m[1]);
    const to = Number(m[2]);
    return Number.isSafeInteger(from) && Number.isSafeInteger(to) ? { kind: 'file-bad', from, to } : null;
  }
  return null;
}

/** Wall-clock time of boot (ms since the epoch): kmsg timestamps count from it. */
export function bootTimeMs(procRoot = '/proc'): number {
  let up = uptime();
  try {
    const first = Number(readFileSync(`${procRoot}/uptime`, 'utf8').split(' ')[0]);
    if (Number.isFinite(first) && first >= 0) up = first;
  } catch {
    // os.uptime() reads the same clock, with less precision on some systems
  }
  return Date.now() - up * 1000;
}

/** starttime (field 22, clock ticks since boot) of a /proc/<pid>/stat line. */
export function statStartTicks(stat: string): number | undefined {
  // Field 2 (comm) is "(name)" and the name may hold spaces and ')'; fields 3.. follow the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 1).trim().split(/\s+/);
  return safeUint(rest[22 - 3]);
}

/** When a process started, in ms since boot; undefined when it is gone or unreadable. */
export function processStartSinceBootMs(pid: number, procRoot = '/proc'): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const ticks = statStartTicks(stat);
  return ticks === undefined ? undefined : (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

function eventKey(e: FamfsKernelEvent): string {
  switch (e.kind) {
    case 'daxdev-error':
      return `daxdev-error:${e.daxdev}`;
    case 'access-error':
      return `access-error:${e.index}`;
    default:
      return e.kind;
  }
}

export interface KmsgReaderOptions {
  /** Default /dev/kmsg; a regular file is tailed (tests). */
  path?: string;
  /** Called once per distinct problem (cannot open, read failed, a line too long). */
  onProblem?: (message: string) => void;
  /** Events kept per daxdev name, access index or other kind: the first and the latest ones. */
  maxPerKey?: number;
  /** Distinct keys kept; the least recently seen goes first. */
  maxKeys?: number;
}

const MAX_RECORD_BYTES = 1 << 20;
const MAX_RECORDS_PER_POLL = 100_000;
const MAX_LINE_BYTES = 64 * 1024;

/**
 * Reads the kernel log without blocking and keeps the famfs lines in it. Opening /dev/kmsg
 * starts at the oldest record still in the ring buffer, so lines logged before the reader
 * started are seen too. poll() never throws: problems go to onProblem, once each.
 */
export class KmsgReader {
  readonly path: string;
  /** Counters, for tests and diagnostics. */
  readonly stats = { records: 0, famfsEvents: 0, garbage: 0, overwritten: 0 };
  private fd: number | undefined;
  private closed = false;
  private regular = false;
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  private pending: string[] = [];
  private lastRecord: KmsgRecord | undefined;
  private buf = Buffer.alloc(16 * 1024);
  private readonly kept = new Map<string, KmsgEvent[]>();
  private readonly reported = new Set<string>();
  private readonly onProblem: (message: string) => void;
  private readonly maxPerKey: number;
  private readonly maxKeys: number;
  private timer: NodeJS.Timeout | undefined;
  private fresh: KmsgEvent[] = [];

  constructor(opts: KmsgReaderOptions = {}) {
    this.path = opts.path ?? KMSG_PATH;
    this.onProblem = opts.onProblem ?? (() => {});
    this.maxPerKey = Math.max(2, opts.maxPerKey ?? 8);
    this.maxKeys = Math.max(1, opts.maxKeys ?? 256);
    this.open();
  }

  /** False while the log cannot be opened (no permission, no such file). */
  get available(): boolean {
    return this.fd !== undefined;
  }

  /** Reads what is new; returns the famfs events among it. */
  poll(): KmsgEvent[] {
    this.fresh = [];
    if (this.closed || (this.fd === undefined && !this.open())) return [];
    try {
      if (this.regular) this.readFile();
      else this.readDevice();
    } catch (e) {
      this.problem(`cannot read ${this.path}: ${(e as Error).message}`);
    }
    return this.fresh;
  }

  /** Every famfs event kept, oldest first. */
  events(): KmsgEvent[] {
    return [...this.kept.values()].flat().sort((a, b) => a.seq - b.seq);
  }

  /** Polls every intervalMs on a timer that does not keep the process alive. */
  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private problem(message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.onProblem(message);
  }

  private open(): boolean {
    let fd: number | undefined;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
      this.regular = fstatSync(fd).isFile();
      this.fd = fd;
      return true;
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      const err = e as NodeJS.ErrnoException;
      this.problem(`cannot open ${this.path} (${err.code ?? err.message}): famfs kernel memory errors will not be seen on this host`);
      return false;
    }
  }

  private readDevice(): void {
    for (let n = 0; n < MAX_RECORDS_PER_POLL; n++) {
      let got: number;
      try {
        got = readSync(this.fd!, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        if (code === 'EPIPE') {
          this.stats.overwritten++;
          continue;
        }
        // EINVAL: the record does not fit the buffer.
        if (code === 'EINVAL' && this.buf.length < MAX_RECORD_BYTES) {
          this.buf = Buffer.alloc(this.buf.length * 4);
          continue;
        }
        throw e;
      }
      if (got === 0) return;
      const text = this.buf.toString('utf8', 0, got);
      this.record(text.split('\n', 1)[0]!, parseKmsgRecord(text));
    }
  }

  private readFile(): void {
    if (fstatSync(this.fd!).size < this.offset) {
      // Truncated or replaced under us: start over.
      this.offset = 0;
      this.partial = Buffer.alloc(0);
    }
    for (;;) {
      const got = readSync(this.fd!, this.buf, 0, this.buf.length, this.offset);
      if (got === 0) break;
      this.offset += got;
      const data = Buffer.concat([this.partial, this.buf.subarray(0, got)]);
      const end = data.lastIndexOf(0x0a);
      if (end < 0) {
        this.partial = data;
      } else {
        this.partial = Buffer.from(data.subarray(end + 1));
        for (const line of data.toString('utf8', 0, end).split('\n')) this.line(line);
      }
      if (this.partial.length > MAX_LINE_BYTES) {
        this.problem(`${this.path}: a line longer than ${MAX_LINE_BYTES} bytes was skipped`);
        this.partial = Buffer.alloc(0);
        this.stats.garbage++;
      }
    }
    this.flush();
  }

  /** A line of a tailed file: a record header, or a continuation line of the record before. */
  private line(line: string): void {
    if (line.startsWith(' ')) {
      if (this.pending.length > 0) this.pending.push(line);
      else if (this.lastRecord) addContinuation(this.lastRecord.fields, line);
      return;
    }
    this.flush();
    if (line !== '') this.pending = [line];
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.record(lines[0]!, parseKmsgRecord(lines.join('\n')));
  }

  private record(line: string, rec: KmsgRecord | null): void {
    if (!rec) {
      this.stats.garbage++;
      this.lastRecord = undefined;
      return;
    }
    this.stats.records++;
    this.lastRecord = rec;
    const event = parseFamfsKernelLine(rec.message);
    if (event) this.keep({ seq: rec.seq, tsUsec: rec.tsUsec, level: rec.level, message: rec.message, line, event });
  }

  private keep(e: KmsgEvent): void {
    const key = eventKey(e.event);
    const list = this.kept.get(key) ?? [];
    if (list.some((k) => k.seq === e.seq)) return;
    list.push(e);
    // Keep the first one (when the error began) and the latest ones.
    if (list.length > this.maxPerKey) list.splice(1, 1);
    this.kept.delete(key);
    this.kept.set(key, list);
    if (this.kept.size > this.maxKeys) this.kept.delete(this.kept.keys().next().value!);
    this.stats.famfsEvents++;
    this.fresh.push(e);
  }
}

export interface KmsgErrorSourceOptions {
  reader: KmsgReader;
  /** The pool's device as configured (/dev/dax0.0); matched by its basename and its realpath's. */
  device: string;
  /**
   * When this host's mount of the pool started, in ms since boot: the kernel clears a daxdev's
   * error only on unmount, so lines from before belong to an earlier mount. undefined: not
   * known, every line counts.
   */
  since?: () => number | undefined;
  /** Lines with only a daxdev index ("daxdev=0 error") count only when this is the one pool here. */
  onlyPoolOnHost?: () => boolean;
  /** Set on the errors: the node that saw them. */
  node?: string;
  /** Default bootTimeMs(); read once, so firstSeen does not drift between polls. */
  bootTimeMs?: () => number;
}

/**
 * The famfs kernel's memory errors on one pool's device. The kernel disables the whole daxdev,
 * so there is at most one error: the earliest line that applies to this device and mount.
 */
export class KmsgErrorSource implements ErrorSource {
  readonly name = 'kmsg' as const;
  private readonly names = new Set<string>();
  private resolved = false;
  private boot: number | undefined;
  private firstSeen: { seq: number; iso: string } | undefined;

  constructor(private readonly opts: KmsgErrorSourceOptions) {
    this.names.add(basename(opts.device));
  }

  poll(): MemoryError[] {
    const { reader, device } = this.opts;
    reader.poll();
    this.resolve();
    const since = this.opts.since?.();
    const only = this.opts.onlyPoolOnHost?.() ?? false;
    const hit = reader.events().find((e) => (since === undefined || e.tsUsec / 1000 >= since) && this.applies(e.event, only));
    if (!hit) return [];
    if (this.firstSeen?.seq !== hit.seq) {
      this.boot ??= (this.opts.bootTimeMs ?? bootTimeMs)();
      this.firstSeen = { seq: hit.seq, iso: new Date(Math.round(this.boot + hit.tsUsec / 1000)).toISOString() };
    }
    const error: MemoryError = { device, range: null, kind: 'memory-error', source: 'kmsg', firstSeen: this.firstSeen.iso, detail: `${hit.message.trim()} [kernel seq ${hit.seq}]` };
    if (this.opts.node) error.node = this.opts.node;
    return [error];
  }

  private resolve(): void {
    if (this.resolved) return;
    try {
      this.names.add(basename(realpathSync(this.opts.device)));
      this.resolved = true;
    } catch {
      // not there (yet): the configured name alone
    }
  }

  private applies(e: FamfsKernelEvent, onlyPool: boolean): boolean {
    if (e.kind === 'daxdev-error') return e.daxdev === this.opts.device || this.names.has(basename(e.daxdev));
    // Index 0 is the primary daxdev of whichever famfs mount logged it.
    if (e.kind === 'access-error') return onlyPool && e.index === 0;
    return false;
  }
}
