import { execFile } from 'node:child_process';
import { invalidArgument } from '../csi/errors.js';

/**
 * Mount operations of the node plugin: bind mounts, read-only bind mounts and unmounts, done by
 * util-linux mount(8)/umount(8) (the same commands k8s mount-utils runs). A read-only bind mount
 * takes two steps, as the kernel ignores MS_RDONLY on the first MS_BIND: bind, then
 * `mount -o remount,bind,ro DST`. Errors carry the command line and its stderr.
 */

/**
 * Mount flags a volume_capability.mount.mount_flags list may carry. Only per-mount flags make
 * sense for a bind mount of a famfs directory; anything else (file-system options, "bind",
 * "remount", "suid", "dev", ...) is INVALID_ARGUMENT naming the flag.
 */
export const ALLOWED_MOUNT_FLAGS = ['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'relatime', 'strictatime'] as const;
export type MountFlag = (typeof ALLOWED_MOUNT_FLAGS)[number];

const ATIME_FLAGS: readonly string[] = ['noatime', 'relatime', 'strictatime'];

/** The validated flags of a request: `readOnly` from ro/rw, `extra` the rest (deduplicated, in order). */
export interface MountFlags {
  readOnly: boolean | undefined;
  extra: MountFlag[];
}

/** Validates mount_flags; throws INVALID_ARGUMENT naming `field` and the offending flag. */
export function parseMountFlags(flags: readonly string[], field: string): MountFlags {
  let readOnly: boolean | undefined;
  const extra: MountFlag[] = [];
  // A flag may also come as "a,b" in one string; kubelet passes PV mountOptions one per item.
  const all = flags.flatMap((f) => f.split(',')).map((f) => f.trim());
  for (const f of all) {
    if (!(ALLOWED_MOUNT_FLAGS as readonly string[]).includes(f)) {
      throw invalidArgument(`${field}: mount flag ${JSON.stringify(f)} is not supported for famfs volumes (allowed: ${ALLOWED_MOUNT_FLAGS.join(', ')})`);
    }
    if (f === 'ro' || f === 'rw') {
      if (readOnly !== undefined && readOnly !== (f === 'ro')) throw invalidArgument(`${field}: mount flags "ro" and "rw" contradict each other`);
      readOnly = f === 'ro';
    } else if (!extra.includes(f as MountFlag)) extra.push(f as MountFlag);
  }
  const atime = extra.filter((f) => ATIME_FLAGS.includes(f));
  if (atime.length > 1) throw invalidArgument(`${field}: mount flags ${atime.map((f) => `"${f}"`).join(' and ')} contradict each other`);
  return { readOnly, extra };
}

export class MountError extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
    why: string,
  ) {
    super(`${command.join(' ')} failed (${why}): ${stderr.trim() || '(no output)'}`);
    this.name = 'MountError';
  }
}

export interface MounterOptions {
  mountBin?: string;
  umountBin?: string;
  /** Per command (default 60 s): a mount over a hung FUSE server must not block an RPC forever. */
  timeoutMs?: number;
}

export class Mounter {
  readonly mountBin: string;
  readonly umountBin: string;
  private readonly timeoutMs: number;

  constructor(opts: MounterOptions = {}) {
    this.mountBin = opts.mountBin ?? '/bin/mount';
    this.umountBin = opts.umountBin ?? '/bin/umount';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  private run(bin: string, args: string[]): Promise<void> {
    const command = [bin, ...args];
    return new Promise((resolve, reject) => {
      execFile(bin, args, { timeout: this.timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, LC_ALL: 'C' } }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
        const why = e.killed ? `timed out after ${this.timeoutMs} ms` : typeof e.code === 'number' ? `exit status ${e.code}` : (e.code ?? e.signal ?? e.message);
        reject(new MountError(command, e.code ?? null, String(stderr ?? ''), String(why)));
      });
    });
  }

  /** `mount --bind SRC DST`. */
  bind(src: string, dst: string): Promise<void> {
    return this.run(this.mountBin, ['--bind', src, dst]);
  }

  /** Changes the per-mount flags of the bind mount at `dst` (ro or rw, plus `extra`). */
  remount(dst: string, readOnly: boolean, extra: readonly string[] = []): Promise<void> {
    return this.run(this.mountBin, ['-o', ['remount', 'bind', readOnly ? 'ro' : 'rw', ...extra].join(','), dst]);
  }

  /**
   * A bind mount with flags: bind, then remount with ro/rw and the flags when any are asked for.
   * If the remount fails the fresh bind mount is removed again, so no half-made mount remains.
   */
  async bindWithFlags(src: string, dst: string, readOnly: boolean, extra: readonly string[] = []): Promise<void> {
    await this.bind(src, dst);
    if (!readOnly && extra.length === 0) return;
    try {
      await this.remount(dst, readOnly, extra);
    } catch (e) {
      await this.unmount(dst).catch(() => undefined);
      throw e;
    }
  }

  /** A read-only bind mount: bind, then `mount -o remount,bind,ro[,flags] DST`. */
  bindReadOnly(src: string, dst: string, extra: readonly string[] = []): Promise<void> {
    return this.bindWithFlags(src, dst, true, extra);
  }

  /**
   * `umount DST` (`umount -l DST` when lazy: detaches a dead FUSE mount that cannot be unmounted
   * normally). Paths are passed as they are (--no-canonicalize): they are canonical already, and
   * canonicalizing would stat a dead FUSE mount.
   */
  unmount(dst: string, opts: { lazy?: boolean } = {}): Promise<void> {
    return this.run(this.umountBin, [...(opts.lazy ? ['-l'] : []), '--no-canonicalize', dst]);
  }
}
