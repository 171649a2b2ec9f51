import { readFileSync } from 'node:fs';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  id: number;
  parent: number;
  root: string;
  mountPoint: string;
  options: string;
  fstype: string;
  source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 3) continue;
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      root: unescape(f[3]!),
      mountPoint: unescape(f[4]!),
      options: f[5]!,
      fstype: f[dash + 1]!,
      source: unescape(f[dash + 2]!),
    });
  }
  return out;
}

export function readMountInfo(): MountInfo[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at exactly `path`, if any. */
export function mountAt(path: string, table: MountInfo[] = readMountInfo()): MountInfo | undefined {
  for (let i = table.length - 1; i >= 0; i--) if (table[i]!.mountPoint === path) return table[i];
  return undefined;
}
