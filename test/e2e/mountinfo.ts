/** famfs mounts in a /proc/self/mountinfo text, for the leak checks. */
export interface FamfsMount {
  mountPoint: string;
  /** The path inside the pool file system: "/" for a pool mount, "/csi/<id>" for a volume bind mount. */
  root: string;
  fsType: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function famfsMounts(mountinfo: string): FamfsMount[] {
  const out: FamfsMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (right[0] !== 'fuse.famfs') continue;
    out.push({ root: unescape(left[3]!), mountPoint: unescape(left[4]!), fsType: right[0] });
  }
  return out;
}

/** Volume bind mounts (staging and pod targets), not the pool mounts themselves. */
export function volumeMounts(mountinfo: string): FamfsMount[] {
  return famfsMounts(mountinfo).filter((m) => m.root.startsWith('/csi/'));
}
