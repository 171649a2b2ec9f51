import { MAX_PATHLEN, MAX_RELPATH_BYTES } from './constants.js';

/**
 * famfs paths are relative to the pool root, '/'-separated, with no leading '/'. famfs-csi also
 * rejects empty, '.' and '..' components, so no log entry or request can name a path outside the
 * pool. Returns the reason a path is unacceptable, or null.
 */
const BAD_COMPONENT = /(?:^|\/)\.{0,2}(?:\/|$)/;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

export function relpathProblem(relpath: string, maxBytes: number = MAX_RELPATH_BYTES): string | null {
  if (relpath.length === 0) return 'path is empty';
  if (relpath.startsWith('/')) return `path "${relpath}" is absolute; famfs paths are relative to the pool root`;
  if (relpath.includes('\0')) return `path "${relpath.replace(/\0/g, '\\0')}" contains a NUL byte`;
  const bytes = ASCII.test(relpath) ? relpath.length : Buffer.byteLength(relpath);
  if (bytes > maxBytes) return `path "${relpath}" is ${bytes} bytes; famfs allows at most ${maxBytes}`;
  if (BAD_COMPONENT.test(relpath)) return `path "${relpath}" has an empty, "." or ".." component`;
  return null;
}

/** The longest relpath a log entry can hold (79 bytes plus NUL); replay accepts these. */
export const MAX_LOGGED_RELPATH_BYTES = MAX_PATHLEN - 1;

export function splitParent(relpath: string): { parent: string; name: string } {
  const i = relpath.lastIndexOf('/');
  return i === -1 ? { parent: '', name: relpath } : { parent: relpath.slice(0, i), name: relpath.slice(i + 1) };
}
