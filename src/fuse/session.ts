import { closeSync, openSync, read, statSync, statfsSync, writevSync } from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { constants } from 'node:os';
import { FuseDispatcher } from './dispatch.js';
import type { FuseOps } from './ops.js';
import { findMount } from './mountTable.js';

const execFileP = promisify(execFile);
const E = constants.errno;

export interface MountOptions {
  mountpoint: string;
  /** Shown as the mount's source in the mount table (e.g. the pool's device). */
  source: string;
  /** fstype becomes fuse.<subtype>. */
  subtype: string;
  ops: FuseOps;
  /** Largest READ/WRITE payload (default 1 MiB). */
  maxWrite?: number;
  /** Requests read from /dev/fuse concurrently (each read blocks a libuv pool thread). */
  readers?: number;
  onError?(what: string, detail: Record<string, unknown>): void;
}

const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';

/** Errors stat() gives on the mount point of a FUSE server that died. */
export const DEAD_MOUNT_ERRORS = new Set(['ENOTCONN', 'ECONNABORTED', 'ECONNREFUSED']);

/** Is there a mount at `path` whose server no longer answers? */
export function isDeadMount(path: string): boolean {
  if (!findMount(path)) return false;
  try {
    // statfs is never answered from the kernel's caches: it reaches the server every time.
    statfsSync(path);
    return false;
  } catch (e) {
    return DEAD_MOUNT_ERRORS.has((e as NodeJS.ErrnoException).code ?? '');
  }
}

export async function unmount(path: string, lazy = false): Promise<void> {
  await execFileP(UMOUNT, lazy ? ['-l', path] : [path]);
}

/**
 * A mounted FUSE file system served by this process: /dev/fuse is opened here and its descriptor
 * handed to mount(8) (`-o fd=N`), which works as root without fusermount. Requests are read on
 * libuv's thread pool, so the event loop never blocks; each is answered synchronously.
 */
export class FuseSession {
  private readonly dispatcher: FuseDispatcher;
  private readonly bufSize: number;
  private closed = false;
  private finished!: Promise<void>;

  private constructor(
    private readonly fd: number,
    readonly mountpoint: string,
    private readonly opts: MountOptions,
  ) {
    const maxWrite = opts.maxWrite ?? 1024 * 1024;
    this.dispatcher = new FuseDispatcher(opts.ops, { maxWrite, onError: opts.onError });
    this.bufSize = maxWrite + 64 * 1024;
  }

  static async mount(opts: MountOptions): Promise<FuseSession> {
    const st = statSync(opts.mountpoint);
    if (!st.isDirectory()) throw new Error(`mount point ${opts.mountpoint} is not a directory`);
    const fd = openSync('/dev/fuse', 'r+');
    const session = new FuseSession(fd, opts.mountpoint, opts);
    try {
      const rootmode = (st.mode & 0o170000).toString(8);
      const options = [`fd=3`, `rootmode=${rootmode}`, 'user_id=0', 'group_id=0', 'allow_other', 'default_permissions', `max_read=${opts.maxWrite ?? 1024 * 1024}`];
      await new Promise<void>((resolve, reject) => {
        const child = spawn(MOUNT, ['-t', `fuse.${opts.subtype}`, '-o', options.join(','), opts.source, opts.mountpoint], { stdio: ['ignore', 'ignore', 'pipe', fd] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mount ${opts.mountpoint} failed (exit ${code}): ${stderr.trim()}`))));
      });
      // /dev/fuse can be read only once mount(2) attached it; INIT is the first request waiting.
      session.finished = session.loop();
    } catch (e) {
      session.close();
      throw e;
    }
    return session;
  }

  /** Resolves when the file system is unmounted (the kernel ends the connection). */
  get done(): Promise<void> {
    return this.finished;
  }

  private loop(): Promise<void> {
    const readers = this.opts.readers ?? 2;
    return Promise.all(Array.from({ length: readers }, () => this.reader())).then(() => this.close());
  }

  private async reader(): Promise<void> {
    const buf = Buffer.allocUnsafe(this.bufSize);
    while (!this.closed) {
      let n: number;
      try {
        n = await new Promise<number>((resolve, reject) => read(this.fd, buf, 0, this.bufSize, null, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EINTR' || code === 'EAGAIN') continue; // request interrupted before we read it
        if (code !== 'ENODEV' && code !== 'EBADF') this.opts.onError?.('reading /dev/fuse failed', { error: (e as Error).message });
        return; // ENODEV: unmounted
      }
      const reply = this.dispatcher.handle(buf, n);
      if (reply) this.send(reply);
      if (this.dispatcher.destroyed) return;
    }
  }

  private send(reply: Buffer[]): void {
    try {
      writevSync(this.fd, reply);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ENOENT: the request was interrupted and the kernel no longer waits for the answer.
      if (code !== 'ENOENT' && code !== 'ENODEV') this.opts.onError?.('writing a reply failed', { error: (e as Error).message, errno: E[code as keyof typeof E] });
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  /** Unmounts (lazily if busy) and waits for the request loop to end. */
  async unmount(): Promise<void> {
    if (findMount(this.mountpoint)) {
      try {
        await unmount(this.mountpoint);
      } catch {
        await unmount(this.mountpoint, true);
      }
    }
    await this.finished;
  }
}
