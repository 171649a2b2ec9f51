/**
 * A memory error on a pool's device, as every error source reports it (emulated poison list,
 * famfs kernel log lines, pmem bad blocks, the device probe). `range` null means the whole
 * device: on a famfs kernel any memory error disables the whole daxdev on that host.
 */
export type MemoryErrorKind = 'poison' | 'timeout' | 'offline' | 'memory-error' | 'unreadable';
export type MemoryErrorSource = 'emulated' | 'kmsg' | 'badblocks' | 'probe';

export const MEMORY_ERROR_KINDS: readonly MemoryErrorKind[] = ['poison', 'timeout', 'offline', 'memory-error', 'unreadable'];

export interface ByteRange {
  offset: number;
  length: number;
}

export interface MemoryError {
  /** The device as the pool names it (a /dev/daxX.Y path or the emulated file). */
  device: string;
  /** Device byte range, or null for the whole device. */
  range: ByteRange | null;
  kind: MemoryErrorKind;
  /** ISO-8601 time the error was first seen (stable across polls). */
  firstSeen: string;
  source: MemoryErrorSource;
  /** Free text from the source (a kernel log line, a sysfs path). */
  detail?: string;
  /** Set for errors only one host sees (kernel, probe); names the node that saw it. */
  node?: string;
}

/** Identity of an error across polls and hosts (the node that saw it is not part of it). */
export function errorKey(e: MemoryError): string {
  const r = e.range ? `${e.range.offset}+${e.range.length}` : 'all';
  return `${e.source}:${e.kind}:${e.device}:${r}:${e.firstSeen}`;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export function describeRange(r: ByteRange | null): string {
  return r ? `bytes ${hex(r.offset)}-${hex(r.offset + r.length - 1)} (${r.length} bytes)` : 'the whole device';
}

const SOURCE_NAMES: Record<MemoryErrorSource, string> = {
  emulated: 'the emulated poison list',
  kmsg: 'the famfs kernel log (/dev/kmsg)',
  badblocks: 'the pmem badblocks list',
  probe: 'the device probe',
};

/** One sentence naming the device, range, kind, source, node and first-seen time. */
export function describeError(e: MemoryError): string {
  const where = e.node ? ` on node ${e.node}` : '';
  const detail = e.detail ? ` (${e.detail})` : '';
  return `${e.kind} on ${e.device} ${describeRange(e.range)}, reported by ${SOURCE_NAMES[e.source]}${where}, first seen ${e.firstSeen}${detail}`;
}

/** The overlap of two byte ranges, or null. */
export function intersect(a: ByteRange, b: ByteRange): ByteRange | null {
  const lo = Math.max(a.offset, b.offset);
  const hi = Math.min(a.offset + a.length, b.offset + b.length);
  return hi > lo ? { offset: lo, length: hi - lo } : null;
}

/** Sorted by device, range start, then key, so reports and messages are stable. */
export function sortErrors(errors: MemoryError[]): MemoryError[] {
  return [...errors].sort((a, b) => {
    if (a.device !== b.device) return a.device < b.device ? -1 : 1;
    const ao = a.range ? a.range.offset : -1;
    const bo = b.range ? b.range.offset : -1;
    if (ao !== bo) return ao - bo;
    const ak = errorKey(a);
    const bk = errorKey(b);
    return ak < bk ? -1 : ak > bk ? 1 : 0;
  });
}

/**
 * An error source of one pool's device. poll() returns the errors present now; sources that
 * watch a stream (the kernel log) keep what they have seen until it no longer applies.
 */
export interface ErrorSource {
  readonly name: MemoryErrorSource;
  poll(): MemoryError[];
  close?(): void;
}
