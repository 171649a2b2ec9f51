import { lstatSync, realpathSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { invalidArgument } from '../csi/errors.js';

/**
 * Path safety for the paths a CO hands to the node plugin (staging_target_path, target_path,
 * volume_path). The plugin runs as root and mounts onto these paths, so a path must:
 *
 * - be absolute and normalized: path.resolve(p) === p, so no "." or ".." components, no "//",
 *   no trailing slash; no NUL byte; at most PATH_MAX bytes;
 * - lie strictly inside the kubelet directory (node option kubeletDir, default /var/lib/kubelet)
 *   after resolving the symlinks of its nearest existing ancestor, so a symlink cannot lead a
 *   mount out of it;
 * - not be a symlink itself (mount(8) would follow it);
 * - never lie inside the plugin's state directory (where the pool FUSE mounts live).
 *
 * A violation is INVALID_ARGUMENT naming the field and the value. The check returns the
 * canonical path (symlinks of the ancestors resolved), which is what the mount table shows and
 * what the plugin then mounts onto. A small window remains between this check and the mount
 * (a root process on the host could swap a directory for a symlink); anyone who can do that is
 * root on the node already.
 */
export const PATH_MAX = 4096;

export interface PathPolicy {
  /** The kubelet root directory; every path must lie inside it. */
  kubeletDir: string;
  /** The plugin's own state directory; no path may lie inside it. */
  stateDir: string;
}

function inside(path: string, dir: string): boolean {
  return dir === '/' ? path !== '/' : path.startsWith(dir + '/');
}

function insideOrEqual(path: string, dir: string): boolean {
  return path === dir || inside(path, dir);
}

/** realpath of `p`, or `p` itself when it does not exist (yet). */
function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Syntax only: absolute, normalized, no NUL, not too long. Returns the path. */
export function checkPathSyntax(field: string, value: string): string {
  const show = JSON.stringify(value);
  if (!value) throw invalidArgument(`${field}: missing`);
  if (value.includes('\0')) throw invalidArgument(`${field}: ${show} contains a NUL byte`);
  if (Buffer.byteLength(value) > PATH_MAX) throw invalidArgument(`${field}: path is longer than ${PATH_MAX} bytes`);
  if (!value.startsWith('/')) throw invalidArgument(`${field}: ${show} must be an absolute path`);
  if (posix.resolve(value) !== value) throw invalidArgument(`${field}: ${show} is not a normalized path (no ".", "..", "//" or trailing "/")`);
  return value;
}

/**
 * Resolves the symlinks of the nearest existing ancestor of `path` and appends the components
 * that do not exist yet. The leaf itself is not followed.
 */
export function canonicalParent(path: string): string {
  const parent = posix.dirname(path);
  const leaf = posix.basename(path);
  let existing = parent;
  const missing: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(existing);
      return posix.join(real, ...missing, leaf);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (existing === '/' || (code !== 'ENOENT' && code !== 'ENOTDIR')) throw e;
      missing.unshift(posix.basename(existing));
      existing = posix.dirname(existing);
    }
  }
}

/**
 * Checks a path the plugin will mount onto or unmount from, and returns its canonical form.
 * Throws INVALID_ARGUMENT naming `field` on any violation.
 */
export function checkTargetPath(field: string, value: string, policy: PathPolicy): string {
  checkPathSyntax(field, value);
  const show = JSON.stringify(value);
  const kubelet = realOrSelf(policy.kubeletDir);
  const state = realOrSelf(policy.stateDir);
  for (const dir of new Set([policy.stateDir, state])) {
    if (insideOrEqual(value, dir)) throw invalidArgument(`${field}: ${show} is inside the plugin's state directory ${dir}`);
  }
  if (!inside(value, policy.kubeletDir) && !inside(value, kubelet)) {
    throw invalidArgument(`${field}: ${show} is not inside the kubelet directory ${policy.kubeletDir}`);
  }
  let canonical: string;
  try {
    canonical = canonicalParent(value);
  } catch (e) {
    throw invalidArgument(`${field}: ${show}: cannot resolve its parent directory: ${(e as Error).message}`);
  }
  if (insideOrEqual(canonical, state)) throw invalidArgument(`${field}: ${show} resolves to ${canonical}, inside the plugin's state directory ${state}`);
  if (!inside(canonical, kubelet)) {
    throw invalidArgument(`${field}: ${show} resolves to ${canonical}, outside the kubelet directory ${kubelet} (a symlink leads out of it)`);
  }
  let leaf: Stats | undefined;
  try {
    leaf = lstatSync(canonical);
  } catch {
    leaf = undefined; // missing, or a dead FUSE mount (ENOTCONN): the mount table decides
  }
  if (leaf?.isSymbolicLink()) throw invalidArgument(`${field}: ${show} is a symbolic link; refusing to mount onto it`);
  return canonical;
}
