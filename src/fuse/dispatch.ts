import { constants } from 'node:os';
import {
  Body,
  FATTR_ATIME,
  FATTR_ATIME_NOW,
  FATTR_CTIME,
  FATTR_GID,
  FATTR_MODE,
  FATTR_MTIME,
  FATTR_MTIME_NOW,
  FATTR_SIZE,
  FATTR_UID,
  FuseProtocolError,
  IN_HEADER_SIZE,
  InitFlag,
  KERNEL_MINOR_VERSION,
  KERNEL_VERSION,
  MIN_KERNEL_MINOR_VERSION,
  OPCODE_NAMES,
  OUT_HEADER_SIZE,
  Opcode,
  decodeInHeader,
  decodeInitIn,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeOutHeader,
  encodeStatfsOut,
  encodeWriteOut,
  encodeXattrSize,
} from './abi.js';
import { FuseErrno } from './ops.js';
import type { FuseOps, Negotiated } from './ops.js';

const E = constants.errno;

/** Options of a session that INIT negotiates. */
export interface DispatchOptions {
  maxWrite: number;
  /** Called for every failed request (errno) and every malformed message, for logging. */
  onError?(what: string, detail: Record<string, unknown>): void;
}

const NO_REPLY = new Set<number>([Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT]);

/** Operations that would change the namespace or a size: famfs files are created by the log only. */
const NAMESPACE_CHANGES = new Set<number>([Opcode.CREATE, Opcode.MKNOD, Opcode.MKDIR, Opcode.SYMLINK, Opcode.LINK, Opcode.UNLINK, Opcode.RMDIR, Opcode.RENAME, Opcode.RENAME2, Opcode.TMPFILE]);

/**
 * Decodes one kernel message, calls the file system, and returns the reply (out header +
 * payload), or null when the opcode takes no reply (FORGET, BATCH_FORGET, INTERRUPT). Never
 * throws: a malformed message gets EIO (or no reply if even its header is unusable).
 */
export class FuseDispatcher {
  negotiated: Negotiated | undefined;
  destroyed = false;

  constructor(
    private readonly ops: FuseOps,
    private readonly opts: DispatchOptions,
  ) {}

  handle(buf: Buffer, length: number): Buffer[] | null {
    let header;
    try {
      header = decodeInHeader(buf, length);
    } catch (e) {
      this.opts.onError?.('malformed request', { error: (e as Error).message, length });
      return null;
    }
    const body = new Body(buf, IN_HEADER_SIZE, length);
    const reply = (payload?: Buffer | Buffer[]): Buffer[] => {
      const parts = payload === undefined ? [] : Array.isArray(payload) ? payload : [payload];
      const out = Buffer.alloc(OUT_HEADER_SIZE);
      encodeOutHeader(out, OUT_HEADER_SIZE + parts.reduce((n, p) => n + p.length, 0), 0, header.unique);
      return [out, ...parts.filter((p) => p.length > 0)];
    };
    const fail = (errno: number): Buffer[] => {
      const out = Buffer.alloc(OUT_HEADER_SIZE);
      encodeOutHeader(out, OUT_HEADER_SIZE, -errno, header.unique);
      return [out];
    };
    const op = header.opcode;
    if (NO_REPLY.has(op)) {
      this.forgetOrIgnore(op, header.nodeid, body);
      return null;
    }
    if (header.nodeid > BigInt(Number.MAX_SAFE_INTEGER)) return fail(E.EINVAL);
    const nodeid = Number(header.nodeid);
    if (!this.negotiated && op !== Opcode.INIT) {
      this.opts.onError?.('request before INIT', { opcode: op });
      return fail(E.EIO);
    }
    try {
      switch (op) {
        case Opcode.INIT:
          return reply(this.init(body));
        case Opcode.LOOKUP:
          return reply(encodeEntryOut(this.ops.lookup(nodeid, body.cstring(0))));
        case Opcode.GETATTR: {
          const a = this.ops.getattr(nodeid);
          return reply(encodeAttrOut(a.attr, a.validMs));
        }
        case Opcode.SETATTR: {
          // struct fuse_setattr_in (88 bytes): 0 u32 valid   4 u32 padding   8 u64 fh   16 u64 size
          //   24 u64 lock_owner   32 u64 atime   40 u64 mtime   48 u64 ctime   56 u32 atimensec
          //   60 u32 mtimensec   64 u32 ctimensec   68 u32 mode   72 u32 unused   76 u32 uid   80 u32 gid
          const valid = body.u32(0);
          const change = {
            size: valid & FATTR_SIZE ? body.num(16) : undefined,
            mode: valid & FATTR_MODE ? body.u32(68) : undefined,
            uid: valid & FATTR_UID ? body.u32(76) : undefined,
            gid: valid & FATTR_GID ? body.u32(80) : undefined,
            times: (valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_CTIME)) !== 0,
          };
          const a = this.ops.setattr(nodeid, change);
          return reply(encodeAttrOut(a.attr, a.validMs));
        }
        case Opcode.OPEN: {
          const o = this.ops.open(nodeid, body.u32(0));
          return reply(encodeOpenOut(o.fh, o.openFlags));
        }
        case Opcode.READ:
          // struct fuse_read_in: 0 u64 fh   8 u64 offset   16 u32 size
          return reply(this.ops.read(nodeid, body.num(0), body.num(8), body.u32(16)));
        case Opcode.WRITE: {
          // struct fuse_write_in (40 bytes): 0 u64 fh   8 u64 offset   16 u32 size; data follows
          const size = body.u32(16);
          return reply(encodeWriteOut(this.ops.write(nodeid, body.num(0), body.num(8), body.bytes(40, size))));
        }
        case Opcode.RELEASE:
          this.ops.release(nodeid, body.num(0));
          return reply();
        case Opcode.OPENDIR:
          return reply(encodeOpenOut(this.ops.opendir(nodeid).fh, 0));
        case Opcode.READDIR:
        case Opcode.READDIRPLUS:
          return reply(this.ops.readdir(nodeid, body.num(0), body.num(8), body.u32(16), op === Opcode.READDIRPLUS));
        case Opcode.RELEASEDIR:
          this.ops.releasedir(nodeid, body.num(0));
          return reply();
        case Opcode.FLUSH:
        case Opcode.FSYNC:
        case Opcode.FSYNCDIR:
        case Opcode.SYNCFS:
          return reply(); // writes go straight to the device memory
        case Opcode.STATFS:
          return reply(encodeStatfsOut(this.ops.statfs(nodeid)));
        case Opcode.ACCESS:
          this.ops.access(nodeid, body.u32(0));
          return reply();
        case Opcode.GETXATTR: {
          body.cstring(8);
          return fail(E.ENODATA); // famfs files have no extended attributes
        }
        case Opcode.LISTXATTR:
          // size 0 asks for the needed size; otherwise the (empty) list
          return body.u32(0) === 0 ? reply(encodeXattrSize(0)) : reply();
        case Opcode.SETXATTR:
        case Opcode.REMOVEXATTR:
        case Opcode.FALLOCATE:
        case Opcode.COPY_FILE_RANGE:
          return fail(E.EOPNOTSUPP);
        case Opcode.IOCTL:
          return fail(E.ENOTTY);
        case Opcode.GET_FMAP:
          if (!this.ops.getFmap) return fail(E.ENOSYS);
          return reply(this.ops.getFmap(nodeid, body.u32(0)));
        case Opcode.GET_DAXDEV:
          if (!this.ops.getDaxdev) return fail(E.ENOSYS);
          return reply(this.ops.getDaxdev(nodeid)); // the daxdev index travels in the header's nodeid
        case Opcode.DESTROY:
          this.destroyed = true;
          this.ops.destroy?.();
          return reply();
        default:
          if (NAMESPACE_CHANGES.has(op)) return fail(E.EPERM);
          return fail(E.ENOSYS);
      }
    } catch (e) {
      if (e instanceof FuseErrno) return fail(e.errno);
      const name = OPCODE_NAMES[op] ?? `opcode ${op}`;
      this.opts.onError?.(e instanceof FuseProtocolError ? 'malformed request' : 'operation failed', { op: name, nodeid, error: (e as Error).message });
      return fail(E.EIO);
    }
  }

  /** FORGET, BATCH_FORGET and INTERRUPT: the kernel expects no reply, even to a malformed one. */
  private forgetOrIgnore(op: number, nodeid: bigint, body: Body): void {
    try {
      if (op === Opcode.FORGET) this.ops.forget(Number(nodeid), body.num(0));
      else if (op === Opcode.BATCH_FORGET) {
        // struct fuse_batch_forget_in { u32 count; u32 dummy; } then count × { u64 nodeid; u64 nlookup; }
        const count = Math.min(body.u32(0), Math.floor((body.length - 8) / 16));
        for (let i = 0; i < count; i++) this.ops.forget(body.num(8 + 16 * i), body.num(16 + 16 * i));
      }
      // INTERRUPT: every operation completes synchronously; nothing is left to interrupt.
    } catch (e) {
      this.opts.onError?.('malformed request', { op: OPCODE_NAMES[op], error: (e as Error).message });
    }
  }

  private init(body: Body): Buffer {
    const kernel = decodeInitIn(body);
    if (kernel.major !== KERNEL_VERSION || kernel.minor < MIN_KERNEL_MINOR_VERSION) {
      throw new FuseErrno(E.EPROTO, `kernel FUSE ${kernel.major}.${kernel.minor} is too old (need ${KERNEL_VERSION}.${MIN_KERNEL_MINOR_VERSION})`);
    }
    let want =
      InitFlag.ASYNC_READ |
      InitFlag.ASYNC_DIO |
      InitFlag.BIG_WRITES |
      InitFlag.MAX_PAGES |
      InitFlag.PARALLEL_DIROPS |
      InitFlag.DO_READDIRPLUS |
      InitFlag.READDIRPLUS_AUTO |
      InitFlag.INIT_EXT |
      InitFlag.DIRECT_IO_ALLOW_MMAP |
      InitFlag.ATOMIC_O_TRUNC;
    if (this.ops.wantsDaxFmap?.()) want |= InitFlag.DAX_FMAP;
    const flags = want & kernel.flags;
    const minor = Math.min(kernel.minor, KERNEL_MINOR_VERSION);
    const maxWrite = this.opts.maxWrite;
    this.negotiated = { minor, flags, maxWrite };
    this.ops.init?.(kernel, this.negotiated);
    return encodeInitOut({
      minor,
      maxReadahead: kernel.maxReadahead,
      flags,
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite,
      timeGran: 1,
      maxPages: Math.ceil(maxWrite / 4096),
    });
  }
}
