import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { DEAD_MOUNT_ERRORS } from '../fuse/session.js';

/**
 * statfs(2) + stat(2) of a path on a FUSE mount without trusting the server: asynchronous (a hung
 * server blocks a libuv worker, not the event loop) and bounded by a timeout.
 */
export type ProbeResult = { ok: true; stats: Stats } | { ok: false; code: string; message: string };

/**
 * errno codes that mean the FUSE server behind a mount is gone (the mount is dead). EIO is not
 * one: a live server answers EIO for a failed operation.
 */
export function isDeadMountCode(code: string): boolean {
  return DEAD_MOUNT_ERRORS.has(code);
}

export async function probePath(path: string, timeoutMs = 5_000): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: 'ETIMEDOUT', message: `stat ${path} did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  // statfs first: FUSE never caches it, so it reaches the server every time, while a stat can be
  // answered from the kernel's attribute cache for a while after the server died.
  const stat = fsp
    .statfs(path)
    .then(() => fsp.stat(path))
    .then(
      (stats): ProbeResult => ({ ok: true, stats }),
      (e: NodeJS.ErrnoException): ProbeResult => ({ ok: false, code: e.code ?? 'UNKNOWN', message: e.message }),
    );
  try {
    return await Promise.race([stat, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
