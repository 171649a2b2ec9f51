import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { KMSG_PATH, addContinuation, parseFamfsKernelLine, parseKmsgRecord } from './kmsgRecord.js';
import type { FamfsKernelEvent, KmsgRecord } from './kmsgRecord.js';

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
