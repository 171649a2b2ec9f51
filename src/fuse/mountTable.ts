import { readFileSync } from 'node:fs';

/**
 * The mount table of this process (/proc/self/mountinfo, see proc(5)). Every node RPC derives
 * its state from it, never from memory alone, so the node plugin can be restarted at any time
 * and still knows what is staged and published.
 *
 * A line is
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 * mount id, parent id, major:minor, root (the path inside the file system that is mounted: a bind
 * mount of <pool mount>/csi/<id> has root /csi/<id>), mount point, per-mount options, zero or
 * more optional fields ended by "-", file system type, source, super-block options. Paths escape
 * space, tab, newline and backslash as octal (\040, \011, \012, \134).
 */
export interface MountInfo {
  id: number;
  parentId: number;
  major: number;
  minor: number;
  /** Path inside the mounted file system that is the root of this mount. */
  root: string;
  mountPoint: string;
  /** Per-mount options (ro/rw, nosuid, nodev, noexec, atime flags). */
  options: string[];
  /** Optional fields such as shared:N, master:N, propagate_from:N, unbindable. */
  optional: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

export const MOUNTINFO_PATH = '/proc/self/mountinfo';

/** Undoes the kernel's octal escapes (\040 etc.) in a mountinfo field. */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export class MountinfoParseError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`mountinfo line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
    this.name = 'MountinfoParseError';
  }
}

function parseLine(line: string, lineNo: number): MountInfo {
  const f = line.split(' ');
  const sep = f.indexOf('-', 6);
  if (f.length < 10 || sep < 6 || f.length < sep + 4) throw new MountinfoParseError(lineNo, line, 'too few fields');
  const dev = /^(\d+):(\d+)$/.exec(f[2]!);
  const id = Number(f[0]);
  const parentId = Number(f[1]);
  if (!dev || !Number.isInteger(id) || !Number.isInteger(parentId)) throw new MountinfoParseError(lineNo, line, 'bad mount id or device number');
  return {
    id,
    parentId,
    major: Number(dev[1]),
    minor: Number(dev[2]),
    root: unescapeMountinfo(f[3]!),
    mountPoint: unescapeMountinfo(f[4]!),
    options: f[5]!.split(','),
    optional: f.slice(6, sep),
    fsType: unescapeMountinfo(f[sep + 1]!),
    source: unescapeMountinfo(f[sep + 2]!),
    // super options never contain spaces, but be lenient if a kernel ever splits them
    superOptions: f.slice(sep + 3).join(' ').split(','),
  };
}

/** Parses the text of a mountinfo file; blank lines are ignored, malformed ones throw. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim().length > 0) out.push(parseLine(line, i + 1));
  });
  return out;
}

/** The current mount table of this process. */
export function readMountinfo(path = MOUNTINFO_PATH): MountInfo[] {
  return parseMountinfo(readFileSync(path, 'utf8'));
}

/** All mounts whose mount point is exactly `path`, bottom first (stacked mounts). */
export function mountsAt(path: string, mounts: MountInfo[] = readMountinfo()): MountInfo[] {
  const here = mounts.filter((m) => m.mountPoint === path);
  // Order by stacking: a mount stacked on another one at the same point has it as parent.
  const ordered: MountInfo[] = [];
  let parentIds = new Set(here.map((m) => m.id));
  let bottom = here.filter((m) => !parentIds.has(m.parentId));
  const rest = new Set(here);
  while (bottom.length > 0) {
    for (const m of bottom) {
      ordered.push(m);
      rest.delete(m);
    }
    parentIds = new Set(bottom.map((m) => m.id));
    bottom = [...rest].filter((m) => parentIds.has(m.parentId));
  }
  // Anything left (a cycle cannot happen, but stay total) goes on top in table order.
  return [...ordered, ...rest];
}

/** The mount visible at `path` (the top of a stack), or undefined when `path` is not a mount point. */
export function findMount(path: string, mounts: MountInfo[] = readMountinfo()): MountInfo | undefined {
  const at = mountsAt(path, mounts);
  return at[at.length - 1];
}

function isInside(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  return path === dir || path.startsWith(dir + '/');
}

/** Mounts at `dir` or anywhere below it, in table order. */
export function mountsUnder(dir: string, mounts: MountInfo[] = readMountinfo()): MountInfo[] {
  return mounts.filter((m) => isInside(m.mountPoint, dir));
}

/**
 * The mount that contains `path` (the top mount with the longest mount point that is `path` or an
 * ancestor of it), and the path inside that mount's file system (`root` joined with the rest).
 * Only the string is looked at: symlinks in `path` are not followed.
 */
export function containingMount(path: string, mounts: MountInfo[] = readMountinfo()): { mount: MountInfo; fsPath: string } | undefined {
  let best: string | undefined;
  for (const m of mounts) {
    if (isInside(path, m.mountPoint) && (best === undefined || m.mountPoint.length > best.length)) best = m.mountPoint;
  }
  if (best === undefined) return undefined;
  const mount = findMount(best, mounts)!;
  const rest = best === '/' ? path.slice(1) : path.slice(best.length + 1);
  const fsPath = rest.length === 0 ? mount.root : mount.root === '/' ? `/${rest}` : `${mount.root}/${rest}`;
  return { mount, fsPath };
}

export function isReadOnlyMount(m: MountInfo): boolean {
  return m.options.includes('ro');
}

export function sameDevice(a: MountInfo, b: MountInfo): boolean {
  return a.major === b.major && a.minor === b.minor;
}
