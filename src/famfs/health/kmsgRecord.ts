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

export const KMSG_PATH = '/dev/kmsg';

export function safeUint(s: string | undefined): number | undefined {
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
export function addContinuation(fields: Record<string, string>, line: string): void {
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
