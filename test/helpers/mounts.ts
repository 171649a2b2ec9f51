/**
 * Helpers for tests that make real mounts (they need root).
 *
 *   if (!privileged(t)) return;               // skips when not root; FAILS in CI (CI=true)
 *   const s = scratchDir(); t.after(() => { cleanupMounts(s.dir); s.cleanup(); });
 *   ...
 *   assertNoMountsUnder(s.dir);
 *
 * cleanupMounts() detaches (umount -l, deepest first) every mount at or below a directory, so a
 * failing test never leaves mounts behind; assertNoMountsUnder() proves a test cleaned up itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { scratchDir } from './tmpPool.js';

export const IN_CI = process.env.CI === 'true';

export interface MountLine {
  mountPoint: string;
  fsType: string;
  root: string;
  line: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount table, parsed independently of src/node/mountinfo.ts. */
export function mountTable(): MountLine[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const f = line.split(' ');
      const sep = f.indexOf('-', 6);
      return { mountPoint: unescape(f[4]!), root: unescape(f[3]!), fsType: f[sep + 1]!, line };
    });
}

export function mountsBelow(dir: string): MountLine[] {
  return mountTable().filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(dir + '/'));
}

export function isMountPoint(path: string): boolean {
  return mountTable().some((m) => m.mountPoint === path);
}

/** Lazily unmounts everything at or below `dir`, deepest first; returns how many were removed. */
export function cleanupMounts(dir: string): number {
  let n = 0;
  for (let round = 0; round < 64; round++) {
    const below = mountsBelow(dir).sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    if (below.length === 0) break;
    spawnSync('umount', ['-l', '--no-canonicalize', below[0]!.mountPoint], { stdio: 'ignore' });
    n++;
  }
  return n;
}

export function assertNoMountsUnder(dir: string): void {
  const left = mountsBelow(dir);
  assert.deepEqual(
    left.map((m) => m.line),
    [],
    `mounts left behind under ${dir}`,
  );
}

/**
 * True when this process may mount (root). Otherwise the test is skipped with the reason, except
 * in CI (CI=true), where a privileged test that cannot run must fail.
 */
export function privileged(t: TestContext, needs: { fuse?: boolean } = {}): boolean {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'needs root to mount (run the tests as root)';
  else if (needs.fuse && !existsSync('/dev/fuse')) reason = 'needs /dev/fuse (modprobe fuse)';
  if (reason === undefined) return true;
  if (IN_CI) assert.fail(`privileged test cannot run in CI: ${reason}`);
  t.skip(reason);
  return false;
}

/**
 * A scratch directory for a test that mounts below it: when the test ends, whatever is mounted
 * there is detached, and the directory is removed only when nothing is mounted in it any more.
 */
export function mountScratch(t: TestContext, prefix: string): { dir: string } {
  const s = scratchDir(prefix);
  t.after(() => {
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  return { dir: s.dir };
}
