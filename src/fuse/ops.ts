import type { Attr, Entry, InitIn, StatFs } from './abi.js';

/** An error reply: the operation fails with this errno (a positive number from os.constants.errno). */
export class FuseErrno extends Error {
  constructor(
    readonly errno: number,
    message = `errno ${errno}`,
  ) {
    super(message);
    this.name = 'FuseErrno';
  }
}

/** What the kernel negotiated at INIT, for the file system to adapt (e.g. DAX fmaps). */
export interface Negotiated {
  minor: number;
  flags: bigint;
  maxWrite: number;
}

/**
 * The operations a read-mostly FUSE file system implements. Node ids are plain numbers (the root
 * is 1). Every method either returns its result or throws FuseErrno; anything else thrown becomes
 * EIO. Operations not listed here are answered by the dispatcher (see dispatch.ts).
 */
export interface FuseOps {
  init?(kernel: InitIn, negotiated: Negotiated): void;
  /** Whether to ask for FUSE_DAX_FMAP (famfs: the kernel maps file memory itself). */
  wantsDaxFmap?(): boolean;
  lookup(parent: number, name: string): Entry;
  forget(nodeid: number, nlookup: number): void;
  getattr(nodeid: number): { attr: Attr; validMs: number };
  /** Called for SETATTR; `size` is set when the request changes the size. */
  setattr(nodeid: number, change: { size?: number; mode?: number; uid?: number; gid?: number; times: boolean }): { attr: Attr; validMs: number };
  open(nodeid: number, flags: number): { fh: number; openFlags: number };
  /** The bytes read, as one buffer or several (written to the kernel with one writev, no copy). */
  read(nodeid: number, fh: number, offset: number, size: number): Buffer | Buffer[];
  write(nodeid: number, fh: number, offset: number, data: Buffer): number;
  release(nodeid: number, fh: number): void;
  opendir(nodeid: number): { fh: number };
  /** Encoded dirents from `offset` (an index the file system defines) that fit in `size` bytes. */
  readdir(nodeid: number, fh: number, offset: number, size: number, plus: boolean): Buffer;
  releasedir(nodeid: number, fh: number): void;
  statfs(nodeid: number): StatFs;
  access(nodeid: number, mask: number): void;
  /** famfs GET_FMAP: the file's fmap message (or a 4-byte size when it exceeds `bufferSize`). */
  getFmap?(nodeid: number, bufferSize: number): Buffer;
  /** famfs GET_DAXDEV: struct fuse_daxdev_out for daxdev `index`. */
  getDaxdev?(index: number): Buffer;
  destroy?(): void;
}
