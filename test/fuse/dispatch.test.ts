/**
 * FuseDispatcher over a FamfsFileSystem, without a mount: kernel messages built by hand from the
 * fuse.h struct layouts, replies checked byte by byte (INIT negotiation, LOOKUP/GETATTR/OPEN,
 * READ/WRITE against an independent model of the fmap address math, READDIR(PLUS) paging, STATFS,
 * every forbidden operation, GET_FMAP/GET_DAXDEV of the famfs kernel ABI, and catching up with
 * deletes and creates other writers log).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FuseDispatcher } from '../../src/fuse/dispatch.js';
import { FamfsFileSystem } from '../../src/fuse/famfsFs.js';
import type { FuseOps } from '../../src/fuse/ops.js';
import { FuseFamfsFileType, LOG_OFFSET, MiB, Pool, SUPERBLOCK_SIZE, encodeGetFmapReply, fmapMessageSize, openDaxDevice } from '../../src/famfs/index.js';
import type { DaxDevice, FileNode, Fmap } from '../../src/famfs/index.js';
import { CHUNK, FILES, fixture, interestingRanges, modelDeviceOffset, modelFile, slackRanges } from '../helpers/famfsModel.js';
import type { Fixture } from '../helpers/famfsModel.js';
import {
  ALL_FLAGS,
  FATTR,
  FOPEN_DIRECT_IO,
  Flag,
  Op,
  Rng,
  batchForgetIn,
  cstr,
  decodeAttrOut,
  decodeDirents,
  decodeEntryOut,
  decodeInitOut,
  decodeOpenOut,
  decodeStatfs,
  forbiddenBodies as fb,
  forgetIn,
  getFmapIn,
  getxattrIn,
  initIn,
  interruptIn,
  msg,
  openIn,
  parseReply,
  readIn,
  releaseIn,
  setattrIn,
  uniqueOf,
  writeIn,
} from '../helpers/fuseMessages.js';
import type { AttrFields, HeaderFields, Reply } from '../helpers/fuseMessages.js';

const E = constants.errno;
const ROOT = 1;
const MAX_WRITE = 1024 * 1024;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const DT_DIR = 4;
const DT_REG = 8;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_TRUNC = 0o1000;

/** The flags this server asks the kernel for (src/fuse/dispatch.ts init(), emulated device). */
const WANTED =
  Flag.ASYNC_READ |
  Flag.ASYNC_DIO |
  Flag.BIG_WRITES |
  Flag.MAX_PAGES |
  Flag.PARALLEL_DIROPS |
  Flag.DO_READDIRPLUS |
  Flag.READDIRPLUS_AUTO |
  Flag.INIT_EXT |
  Flag.DIRECT_IO_ALLOW_MMAP |
  Flag.ATOMIC_O_TRUNC;

type T = { after(fn: () => unknown): void };

/** Sends hand-built messages to a dispatcher and checks the framing of every reply. */
class Kernel {
  readonly errors: { what: string; detail: Record<string, unknown> }[] = [];
  readonly d: FuseDispatcher;

  constructor(
    readonly ops: FuseOps,
    maxWrite = MAX_WRITE,
  ) {
    this.d = new FuseDispatcher(ops, { maxWrite, onError: (what, detail) => this.errors.push({ what, detail }) });
  }

  raw(opcode: number, nodeid: number | bigint, body?: Buffer, h?: HeaderFields): Buffer[] | null {
    const m = msg(opcode, nodeid, body, h);
    return this.d.handle(m, m.length);
  }

  send(opcode: number, nodeid: number | bigint, body?: Buffer, label = `opcode ${opcode}`): Reply {
    const m = msg(opcode, nodeid, body);
    const r = parseReply(this.d.handle(m, m.length), label);
    assert.equal(r.unique, uniqueOf(m), `${label}: reply unique matches the request`);
    return r;
  }

  ok(opcode: number, nodeid: number | bigint, body?: Buffer, label = `opcode ${opcode}`): Buffer {
    const r = this.send(opcode, nodeid, body, label);
    assert.equal(r.error, 0, `${label}: expected success, got errno ${-r.error}`);
    return r.payload;
  }

  /** The (positive) errno of a failed request; the error reply carries no payload. */
  errno(opcode: number, nodeid: number | bigint, body?: Buffer, label = `opcode ${opcode}`): number {
    const r = this.send(opcode, nodeid, body, label);
    assert.ok(r.error < 0, `${label}: expected an error, got success`);
    assert.equal(r.payload.length, 0, `${label}: an error reply is the bare header`);
    return -r.error;
  }

  init(flags = ALL_FLAGS, minor = 43): ReturnType<typeof decodeInitOut> {
    return decodeInitOut(this.ok(Op.INIT, 0, initIn({ minor, flags }), 'INIT'));
  }

  lookup(parent: number, name: string) {
    return decodeEntryOut(this.ok(Op.LOOKUP, parent, cstr(name), `LOOKUP ${name}`));
  }

  /** Node id of a relative path, one LOOKUP per component (".meta/.log" works too). */
  node(relpath: string): number {
    let id = ROOT;
    for (const part of relpath.split('/')) id = this.lookup(id, part).nodeid;
    return id;
  }

  getattr(nodeid: number): AttrFields {
    return decodeAttrOut(this.ok(Op.GETATTR, nodeid, Buffer.alloc(16), `GETATTR ${nodeid}`));
  }

  open(nodeid: number, flags = O_RDONLY) {
    return decodeOpenOut(this.ok(Op.OPEN, nodeid, openIn(flags), `OPEN ${nodeid}`));
  }

  read(nodeid: number, fh: number, offset: number, size: number): Buffer {
    return this.ok(Op.READ, nodeid, readIn(fh, offset, size), `READ ${nodeid} @${offset}+${size}`);
  }

  write(nodeid: number, fh: number, offset: number, data: Buffer): number {
    const p = this.ok(Op.WRITE, nodeid, writeIn(fh, offset, data), `WRITE ${nodeid} @${offset}+${data.length}`);
    assert.equal(p.length, 8, 'fuse_write_out is 8 bytes');
    assert.equal(p.readUInt32LE(4), 0, 'fuse_write_out padding');
    return p.readUInt32LE(0);
  }
}

/** The file system a `famfs-csi mount` serves: its own read-only Pool on a writable mapping. */
function famfsFs(t: T, path: string, wrap?: (d: DaxDevice) => DaxDevice): { fs: FamfsFileSystem; pool: Pool } {
  const dev = openDaxDevice(path, { writable: true });
  const pool = Pool.open(wrap ? wrap(dev) : dev, { writable: false });
  t.after(() => pool.close());
  return { fs: new FamfsFileSystem(pool), pool };
}

async function setup(t: T, opts: { many?: number } = {}): Promise<{ fx: Fixture; k: Kernel; fs: FamfsFileSystem; pool: Pool }> {
  const fx = await fixture(t, opts);
  const { fs, pool } = famfsFs(t, fx.tp.path);
  const k = new Kernel(fs);
  k.init();
  return { fx, k, fs, pool };
}

/** The same emulated device, presented as a devdax character device. */
function asDevdax(d: DaxDevice): DaxDevice {
  return {
    path: d.path,
    kind: 'devdax',
    size: d.size,
    writable: d.writable,
    map: (o, l) => d.map(o, l),
    views: (o, l) => d.views(o, l),
    isHole: (o, l) => d.isHole(o, l),
    tryLock: () => d.tryLock(),
    unlock: () => d.unlock(),
    close: () => d.close(),
  };
}

function expectAttr(a: AttrFields, want: { size: number; mode: number; uid: number; gid: number }, label: string): void {
  assert.deepEqual({ size: a.size, mode: a.mode, uid: a.uid, gid: a.gid }, want, label);
  if ((want.mode & 0o170000) === S_IFREG) {
    assert.equal(a.nlink, 1, `${label}: nlink`);
    assert.equal(a.blocks, Math.ceil(want.size / 512), `${label}: blocks (512-byte units)`);
  }
  assert.ok(a.ino > 0n, `${label}: ino`);
}

/** A FuseOps that records calls (for decoding checks independent of famfs). */
function recordingOps(): FuseOps & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  const attr = { ino: 5, size: 10, blocks: 1, atime: 0, mtime: 0, ctime: 0, mode: S_IFREG | 0o644, nlink: 1, uid: 0, gid: 0, blksize: 4096 };
  return {
    calls,
    lookup: (...a) => (calls.push(['lookup', ...a]), { nodeid: 5, generation: 0, entryValidMs: 0, attrValidMs: 0, attr }),
    forget: (...a) => void calls.push(['forget', ...a]),
    getattr: (...a) => (calls.push(['getattr', ...a]), { attr, validMs: 0 }),
    setattr: (...a) => (calls.push(['setattr', ...a]), { attr, validMs: 0 }),
    open: (...a) => (calls.push(['open', ...a]), { fh: 1, openFlags: 0 }),
    read: (...a) => (calls.push(['read', ...a]), Buffer.alloc(0)),
    write: (...a) => (calls.push(['write', ...a]), a[3].length),
    release: (...a) => void calls.push(['release', ...a]),
    opendir: (...a) => (calls.push(['opendir', ...a]), { fh: 1 }),
    readdir: (...a) => (calls.push(['readdir', ...a]), Buffer.alloc(0)),
    releasedir: (...a) => void calls.push(['releasedir', ...a]),
    statfs: () => ({ blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 4096, namelen: 255, frsize: 4096 }),
    access: (...a) => void calls.push(['access', ...a]),
  };
}

// ---------------------------------------------------------------------------------------------

test('INIT: version and flag negotiation, max_write, too-old kernels, requests before INIT', async (t) => {
  const fx = await fixture(t);
  const { fs } = famfsFs(t, fx.tp.path);
  const fresh = () => new Kernel(fs); // a new connection (dispatcher) each time

  // Nothing but INIT is served before INIT.
  const k0 = fresh();
  for (const [op, body] of [
    [Op.LOOKUP, cstr('plain')],
    [Op.GETATTR, Buffer.alloc(16)],
    [Op.READ, readIn(1, 0, 10)],
    [Op.STATFS, Buffer.alloc(0)],
    [Op.OPENDIR, openIn(0)],
  ] as const)
    assert.equal(k0.errno(op, ROOT, body, `opcode ${op} before INIT`), E.EIO);

  // A 7.45 kernel offering every flag (INIT_EXT: flags2 valid).
  const k1 = fresh();
  const out = decodeInitOut(k1.ok(Op.INIT, 0, initIn({ minor: 45, maxReadahead: 131072, flags: ALL_FLAGS }), 'INIT 7.45'));
  assert.equal(out.major, 7);
  assert.equal(out.minor, 43, 'min(kernel 45, ours 43)');
  assert.equal(out.flags, WANTED, `flags: got 0x${out.flags.toString(16)}, want 0x${WANTED.toString(16)}`);
  assert.equal(out.flags & Flag.DAX_FMAP, 0n, 'no FUSE_DAX_FMAP for an emulated (non-devdax) pool');
  assert.equal(out.flags2, Number(WANTED >> 32n), 'flags2 carries bits 32..63 (DIRECT_IO_ALLOW_MMAP)');
  assert.equal(out.maxWrite, MAX_WRITE);
  assert.equal(out.maxPages, MAX_WRITE / 4096);
  assert.equal(out.maxReadahead, 131072, 'max_readahead echoed');
  assert.ok(out.timeGran >= 1 && out.timeGran <= 1e9, `time_gran ${out.timeGran}`);
  assert.ok(out.maxBackground > 0 && out.congestionThreshold <= out.maxBackground, 'max_background / congestion_threshold');
  assert.ok(k1.getattr(ROOT).mode === (S_IFDIR | 0o755), 'served after INIT');

  // Older minors are answered with their own minor.
  for (const minor of [23, 36, 41, 43]) assert.equal(fresh().init(ALL_FLAGS, minor).minor, minor, `kernel 7.${minor}`);
  // The 16-byte fuse_init_in of kernels before 7.36 (no flags2).
  const old = decodeInitOut(fresh().ok(Op.INIT, 0, initIn({ minor: 30, flags: 0xffffffffn, short: true }), 'INIT 7.30'));
  assert.equal(old.minor, 30);
  assert.equal(old.flags, WANTED & 0xffffffffn);

  // Reply = wanted ∩ offered, for random offers.
  const rng = new Rng(0xf00d);
  for (let i = 0; i < 200; i++) {
    const offered = rng.u64() | (rng.chance(0.8) ? Flag.INIT_EXT : 0n);
    const r = fresh().init(offered);
    const ext = (offered & Flag.INIT_EXT) !== 0n;
    const visible = ext ? offered : offered & 0xffffffffn;
    assert.equal(r.flags & ~visible, 0n, `offer 0x${offered.toString(16)}: reply flags are a subset of the offer`);
    assert.equal(r.flags, WANTED & visible, `offer 0x${offered.toString(16)}`);
  }

  // Too old, or not FUSE 7.
  const k2 = fresh();
  assert.equal(k2.errno(Op.INIT, 0, initIn({ minor: 22, flags: ALL_FLAGS }), 'INIT 7.22'), E.EPROTO);
  assert.equal(k2.errno(Op.LOOKUP, ROOT, cstr('plain'), 'LOOKUP after a refused INIT'), E.EIO, 'a refused INIT negotiates nothing');
  assert.equal(fresh().errno(Op.INIT, 0, initIn({ major: 6, minor: 43, flags: ALL_FLAGS }), 'INIT 6.43'), E.EPROTO);
});

test('INIT: flags2 is ignored unless the kernel sets FUSE_INIT_EXT', async (t) => {
  const fx = await fixture(t);
  const k = new Kernel(famfsFs(t, fx.tp.path).fs);
  // A kernel that does not set INIT_EXT leaves flags2 undefined (fuse.h: "flags2 ... only valid if FUSE_INIT_EXT").
  const out = decodeInitOut(k.ok(Op.INIT, 0, initIn({ minor: 43, flags: ALL_FLAGS & ~Flag.INIT_EXT }), 'INIT without INIT_EXT'));
  assert.equal(out.flagsLow & Number(Flag.INIT_EXT), 0, 'INIT_EXT not claimed');
  assert.equal(out.flags2, 0, `flags2 of the reply must be 0 when INIT_EXT was not offered (got 0x${out.flags2.toString(16)})`);
  assert.equal(k.d.negotiated!.flags & ~0xffffffffn, 0n, 'no flags2 bit is taken as negotiated');
});

test('INIT: FUSE_DAX_FMAP only when the kernel offers it and the pool is devdax; it switches OPEN off direct I/O', async (t) => {
  const fx = await fixture(t);
  const cases = [
    { devdax: true, offered: true, dax: true },
    { devdax: true, offered: false, dax: false },
    { devdax: false, offered: true, dax: false },
    { devdax: false, offered: false, dax: false },
  ];
  for (const c of cases) {
    const label = `devdax=${c.devdax} offered=${c.offered}`;
    const { fs } = famfsFs(t, fx.tp.path, c.devdax ? asDevdax : undefined);
    const k = new Kernel(fs);
    const out = k.init(c.offered ? ALL_FLAGS : ALL_FLAGS & ~Flag.DAX_FMAP);
    assert.equal((out.flags & Flag.DAX_FMAP) !== 0n, c.dax, `${label}: DAX_FMAP in the reply`);
    if (c.dax) assert.equal(out.flags2 & (1 << 10), 1 << 10, `${label}: DAX_FMAP is bit 10 of flags2`);
    assert.equal(out.flags & ~(Flag.DAX_FMAP | WANTED), 0n, `${label}: nothing else`);
    assert.equal(fs.usesDaxFmap, c.dax, `${label}: usesDaxFmap`);
    const o = k.open(k.node('plain'));
    assert.equal(o.openFlags & FOPEN_DIRECT_IO, c.dax ? 0 : FOPEN_DIRECT_IO, `${label}: OPEN flags 0x${o.openFlags.toString(16)}`);
  }
});

test('LOOKUP and GETATTR: node ids, sizes, modes, uid/gid as logged; .meta files', async (t) => {
  const { fx, k } = await setup(t);
  const root = k.getattr(ROOT);
  assert.equal(root.mode, S_IFDIR | 0o755);
  assert.ok(root.nlink >= 2);

  const seen = new Map<bigint, string>();
  const check = (path: string, want: { size: number; mode: number; uid: number; gid: number }) => {
    const parts = path.split('/');
    const parent = parts.length > 1 ? k.node(parts.slice(0, -1).join('/')) : ROOT;
    const e = k.lookup(parent, parts.at(-1)!);
    expectAttr(e.attr, want, `LOOKUP ${path}`);
    assert.ok(e.nodeid > ROOT, `${path}: a node id other than the root`);
    assert.equal(k.lookup(parent, parts.at(-1)!).nodeid, e.nodeid, `${path}: stable node id`);
    expectAttr(k.getattr(e.nodeid), want, `GETATTR ${path}`);
    assert.deepEqual(k.getattr(e.nodeid), e.attr, `${path}: GETATTR = LOOKUP attributes`);
    assert.ok(!seen.has(e.attr.ino), `${path}: inode number ${e.attr.ino} also used by ${seen.get(e.attr.ino)}`);
    seen.set(e.attr.ino, path);
  };
  check('dir', { size: 0, mode: S_IFDIR | 0o750, uid: 1000, gid: 1000 });
  for (const [name, f] of Object.entries(FILES)) check(name, { size: f.size, mode: S_IFREG | f.mode, uid: f.uid, gid: f.gid });
  check('.meta', { size: 0, mode: S_IFDIR | 0o755, uid: 0, gid: 0 });
  check('.meta/.superblock', { size: SUPERBLOCK_SIZE, mode: S_IFREG | 0o444, uid: 0, gid: 0 });
  check('.meta/.log', { size: fx.writer.superblock.logLen, mode: S_IFREG | 0o444, uid: 0, gid: 0 });

  assert.equal(k.errno(Op.LOOKUP, ROOT, cstr('nope'), 'LOOKUP nope'), E.ENOENT);
  assert.equal(k.errno(Op.LOOKUP, ROOT, cstr('dir/a'), 'LOOKUP with a slash'), E.ENOENT);
  assert.equal(k.errno(Op.LOOKUP, k.node('dir'), cstr('b'), 'LOOKUP dir/b'), E.ENOENT);
  assert.equal(k.errno(Op.LOOKUP, k.node('plain'), cstr('x'), 'LOOKUP under a file'), E.ENOTDIR);
  assert.equal(k.errno(Op.GETATTR, 999_999, Buffer.alloc(16), 'GETATTR of an unknown node'), E.ENOENT);
  assert.equal(k.errno(Op.LOOKUP, 999_999, cstr('x'), 'LOOKUP in an unknown node'), E.ENOENT);
  k.ok(Op.ACCESS, k.node('plain'), Buffer.alloc(8), 'ACCESS');
});

test('OPEN: direct I/O on the served path; directories and writable .meta refused; RELEASE', async (t) => {
  const { k } = await setup(t);
  const plain = k.node('plain');
  const o1 = k.open(plain, O_RDONLY);
  const o2 = k.open(plain, O_RDWR);
  assert.ok(o1.fh === 0n && o2.fh === 0n, 'no per-open state: reads and writes are served by node id');
  for (const o of [o1, o2]) assert.equal(o.openFlags & FOPEN_DIRECT_IO, FOPEN_DIRECT_IO, 'FOPEN_DIRECT_IO');
  assert.equal(k.open(plain, O_RDWR | O_TRUNC).openFlags & FOPEN_DIRECT_IO, FOPEN_DIRECT_IO, 'O_TRUNC (atomic) is accepted');
  assert.equal(k.getattr(plain).size, FILES.plain.size, 'and changes nothing');
  assert.equal(k.open(k.node('.meta/.superblock')).openFlags & FOPEN_DIRECT_IO, FOPEN_DIRECT_IO);
  assert.equal(k.errno(Op.OPEN, k.node('.meta/.log'), openIn(O_RDWR), 'OPEN .log rw'), E.EACCES);
  assert.equal(k.errno(Op.OPEN, k.node('dir'), openIn(O_RDONLY), 'OPEN dir'), E.EISDIR);
  assert.equal(k.errno(Op.OPEN, ROOT, openIn(O_RDONLY), 'OPEN root'), E.EISDIR);
  assert.equal(k.ok(Op.RELEASE, plain, releaseIn(Number(o1.fh)), 'RELEASE').length, 0);
  assert.equal(k.ok(Op.FLUSH, plain, Buffer.alloc(24), 'FLUSH').length, 0);
  assert.equal(k.ok(Op.FSYNC, plain, Buffer.alloc(16), 'FSYNC').length, 0);
  assert.equal(decodeOpenOut(k.ok(Op.OPENDIR, k.node('dir'), openIn(0), 'OPENDIR')).openFlags, 0);
  assert.equal(k.errno(Op.OPENDIR, plain, openIn(0), 'OPENDIR of a file'), E.ENOTDIR);
});

test('READ: every alignment, across interleaved chunk boundaries, .meta files, at and after EOF', async (t) => {
  const { fx, k } = await setup(t);
  const dev = fx.tp.dev;
  const targets: { path: string; model: Buffer }[] = [
    ...Object.keys(FILES).map((path) => ({ path, model: modelFile(dev, fx.files[path]!) })),
    { path: '.meta/.superblock', model: Buffer.from(dev.map(0, SUPERBLOCK_SIZE)) },
    { path: '.meta/.log', model: Buffer.from(dev.map(LOG_OFFSET, fx.writer.superblock.logLen)) },
  ];
  let reads = 0;
  for (const { path, model } of targets) {
    const id = k.node(path);
    const fh = Number(k.open(id).fh);
    for (const [off, size] of interestingRanges(model.length)) {
      const got = k.read(id, fh, off, size);
      const want = model.subarray(Math.min(off, model.length), Math.min(off + size, model.length));
      assert.ok(got.equals(want), `${path}: READ @${off}+${size} returned ${got.length} bytes, want ${want.length}${got.length === want.length ? ' (content differs)' : ''}`);
      reads++;
    }
    // The whole file in max_write pieces from an odd offset.
    const parts = [model.subarray(0, 12345)];
    for (let off = 12345; off < model.length; off += MAX_WRITE) parts.push(k.read(id, fh, off, MAX_WRITE));
    assert.ok(Buffer.concat(parts).equals(model), `${path}: sequential 1 MiB reads`);
    for (const off of [model.length, model.length + 1, model.length + 4096, 2 ** 40]) assert.equal(k.read(id, fh, off, 4096).length, 0, `${path}: READ @${off} (EOF) is empty`);
    assert.equal(k.read(id, fh, 0, 0).length, 0, `${path}: READ of 0 bytes`);
  }
  t.diagnostic(`${reads} reads compared`);

  // Every chunk boundary of the interleaved file lands on a different strip: check one directly.
  const striped = fx.files.striped!;
  const a = modelDeviceOffset(striped.fmap, striped.size, CHUNK - 1);
  const b = modelDeviceOffset(striped.fmap, striped.size, CHUNK);
  assert.notEqual(b, a + 1, 'chunk 1 is not contiguous with chunk 0 (different strips)');
  assert.equal(k.read(k.node('striped'), 1, CHUNK - 1, 2).equals(Buffer.from([dev.map(a, 1)[0]!, dev.map(b, 1)[0]!])), true);

  const dir = k.node('dir');
  assert.equal(k.errno(Op.READ, dir, readIn(0, 0, 10), 'READ of a directory'), E.EISDIR);
});

test('WRITE: lands at the fmap addresses, reads back; past EOF is EFBIG; a write over EOF is cut at EOF', async (t) => {
  const { fx, k } = await setup(t);
  const dev = fx.tp.dev;
  const rng = new Rng(7);
  for (const path of ['striped', 'plain', 'dir/a']) {
    const node: FileNode = fx.files[path]!;
    const id = k.node(path);
    const fh = Number(k.open(id, O_RDWR).fh);
    const writes: [number, number][] = [
      [0, 1],
      [4095, 2],
      [CHUNK - 1000, 5000],
      [CHUNK * 3 - 4096, MAX_WRITE],
      [node.size - 4097, 4097],
    ].filter(([o, n]) => o + n <= node.size) as [number, number][];
    for (const [off, len] of writes) {
      const data = rng.bytes(len);
      assert.equal(k.write(id, fh, off, data), len, `${path}: WRITE @${off}+${len} size`);
      assert.ok(k.read(id, fh, off, len).equals(data), `${path}: read back @${off}+${len}`);
      assert.ok(modelFile(dev, node).subarray(off, off + len).equals(data), `${path}: device bytes @${off}+${len}`);
    }

    // Past EOF.
    assert.equal(k.errno(Op.WRITE, id, writeIn(fh, node.size, Buffer.from('x')), 'WRITE at EOF'), E.EFBIG);
    assert.equal(k.errno(Op.WRITE, id, writeIn(fh, node.size + 4096, Buffer.from('x')), 'WRITE after EOF'), E.EFBIG);

    // Over EOF: only the bytes inside the file are written; the fmap's slack stays untouched.
    const lastDev = modelDeviceOffset(node.fmap, node.size, node.size - 1);
    const tailEnd = Math.ceil((lastDev + 1) / 4096) * 4096;
    const slack = [{ offset: lastDev + 1, length: tailEnd - lastDev - 1 }, ...slackRanges(node)].filter((r) => r.length > 0);
    const before = slack.map((r) => Buffer.from(dev.map(r.offset, r.length)));
    const data = rng.bytes(100);
    assert.equal(k.write(id, fh, node.size - 10, data), 10, `${path}: a 100-byte WRITE 10 bytes before EOF writes 10`);
    assert.ok(modelFile(dev, node).subarray(node.size - 10).equals(data.subarray(0, 10)), `${path}: the 10 bytes`);
    slack.forEach((r, i) => assert.ok(dev.map(r.offset, r.length).equals(before[i]!), `${path}: slack @${r.offset} unchanged`));
    assert.equal(k.getattr(id).size, node.size, `${path}: size unchanged`);
  }

  const sbBefore = Buffer.from(dev.map(0, 4096));
  const sb = k.node('.meta/.superblock');
  assert.ok([E.EPERM, E.EACCES, E.EBADF].includes(k.errno(Op.WRITE, sb, writeIn(1, 0, Buffer.from('boom')), 'WRITE .superblock')));
  assert.ok(dev.map(0, 4096).equals(sbBefore), 'superblock untouched');
  assert.equal(k.errno(Op.WRITE, k.node('dir'), writeIn(1, 0, Buffer.from('x')), 'WRITE dir'), E.EISDIR);
});

test('READDIR and READDIRPLUS: paging with small buffers returns every entry exactly once', async (t) => {
  const { k } = await setup(t, { many: 12 });
  const dirs: Record<string, string[]> = {
    '': ['.', '..', '.meta', 'dir', ...Object.keys(FILES).filter((n) => !n.includes('/')), 'many'],
    '.meta': ['.', '..', '.superblock', '.log'],
    dir: ['.', '..', 'a'],
    many: ['.', '..', ...Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}${'x'.repeat(i % 7)}`)],
  };
  for (const [dir, expected] of Object.entries(dirs)) {
    const id = dir === '' ? ROOT : k.node(dir);
    const fh = Number(decodeOpenOut(k.ok(Op.OPENDIR, id, openIn(0), `OPENDIR ${dir}`)).fh);
    for (const plus of [false, true]) {
      const op = plus ? Op.READDIRPLUS : Op.READDIR;
      for (const bufSize of plus ? [176, 200, 400, 1000, 4096] : [48, 64, 100, 256, 4096]) {
        const label = `${plus ? 'READDIRPLUS' : 'READDIR'} /${dir} in ${bufSize}-byte buffers`;
        const names: string[] = [];
        let off = 0n;
        for (let page = 0; ; page++) {
          assert.ok(page < 100, `${label}: ends`);
          const p = k.ok(op, id, readIn(fh, off, bufSize), label);
          assert.ok(p.length <= bufSize, `${label}: page of ${p.length} bytes fits the buffer`);
          if (p.length === 0) break;
          const ents = decodeDirents(p, plus);
          for (const e of ents) {
            names.push(e.name);
            assert.ok(e.off > off, `${label}: offsets increase`);
            off = e.off;
            if (e.name === '.' || e.name === '..') continue;
            const looked = k.lookup(id, e.name);
            assert.equal(e.ino, looked.attr.ino, `${label}: ${e.name} ino`);
            assert.equal(e.type, (looked.attr.mode & 0o170000) === S_IFDIR ? DT_DIR : DT_REG, `${label}: ${e.name} d_type`);
            if (plus) {
              assert.equal(e.entry!.nodeid, looked.nodeid, `${label}: ${e.name} entry nodeid`);
              assert.deepEqual(e.entry!.attr, looked.attr, `${label}: ${e.name} entry attributes`);
            }
          }
        }
        assert.deepEqual([...names].sort(), [...expected].sort(), `${label}: every entry once`);
      }
    }
    assert.equal(k.ok(Op.READDIR, id, readIn(fh, 10_000, 4096), 'READDIR past the end').length, 0);
    k.ok(Op.RELEASEDIR, id, releaseIn(fh), 'RELEASEDIR');
  }
});

test('READDIR: offsets stay valid when entries are deleted and created between pages', async (t) => {
  const { fx, k } = await setup(t, { many: 12 });
  const id = k.node('many');
  const fh = Number(decodeOpenOut(k.ok(Op.OPENDIR, id, openIn(0), 'OPENDIR many')).fh);
  const all = Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}${'x'.repeat(i % 7)}`);
  const first = decodeDirents(k.ok(Op.READDIR, id, readIn(fh, 0n, 200), 'page 1'), false);
  const seen = first.map((e) => e.name);
  const last = first[first.length - 1]!;
  // Another writer deletes an entry already listed and one not yet listed, and adds one.
  const listed = all.find((n) => seen.includes(n))!;
  const pending = all.filter((n) => !seen.includes(n))[1]!;
  await fx.writer.remove(`many/${listed}`);
  await fx.writer.remove(`many/${pending}`);
  await fx.writer.createFile('many/zz-new', 4096);
  let off = last.off;
  for (;;) {
    const p = k.ok(Op.READDIR, id, readIn(fh, off, 200), 'next page');
    if (p.length === 0) break;
    for (const e of decodeDirents(p, false)) {
      seen.push(e.name);
      off = e.off;
    }
  }
  const expected = ['.', '..', ...all.filter((n) => n !== pending), 'zz-new'];
  assert.deepEqual([...seen].sort(), expected.sort(), 'no entry skipped or repeated; the deleted pending entry is gone, the new one appears');
});

test('STATFS: blocks, free blocks and entries from the pool, and it catches up with the log', async (t) => {
  const { fx, k } = await setup(t);
  const check = (label: string) => {
    const s = decodeStatfs(k.ok(Op.STATFS, ROOT, undefined, 'STATFS'));
    fx.writer.refresh();
    const st = fx.writer.stats();
    assert.ok(s.bsize > 0 && st.deviceSize % s.bsize === 0, `${label}: bsize ${s.bsize}`);
    assert.equal(s.frsize, s.bsize, `${label}: frsize`);
    assert.equal(s.blocks * s.bsize, st.deviceSize, `${label}: blocks`);
    assert.equal(s.bfree * s.bsize, st.freeBytes, `${label}: bfree`);
    assert.equal(s.bavail, s.bfree, `${label}: bavail`);
    assert.equal(s.ffree, st.logEntriesFree, `${label}: ffree = free log entries`);
    assert.ok(s.files >= s.ffree, `${label}: files >= ffree`);
    assert.ok(s.namelen > 0 && s.namelen <= 255, `${label}: namelen`);
  };
  check('fresh');
  // Another writer logs a 10 MiB file: the next STATFS must show the space gone.
  await fx.writer.createFile('late', 10 * MiB);
  check('after another writer created a file');
});

test('forbidden operations: namespace changes EPERM, size changes EPERM, xattrs, ioctl, unknown opcodes', async (t) => {
  const { k } = await setup(t);
  const plain = k.node('plain');
  const dir = k.node('dir');
  const cases: [string, number, number, Buffer, number][] = [
    ['CREATE', Op.CREATE, ROOT, fb.create('new'), E.EPERM],
    ['MKNOD', Op.MKNOD, ROOT, fb.mknod('new'), E.EPERM],
    ['MKDIR', Op.MKDIR, ROOT, fb.mkdir('newdir'), E.EPERM],
    ['SYMLINK', Op.SYMLINK, ROOT, fb.symlink('sym', 'plain'), E.EPERM],
    ['LINK', Op.LINK, ROOT, fb.link(plain, 'hard'), E.EPERM],
    ['UNLINK', Op.UNLINK, ROOT, fb.name('plain'), E.EPERM],
    ['RMDIR', Op.RMDIR, ROOT, fb.name('dir'), E.EPERM],
    ['RENAME', Op.RENAME, ROOT, fb.rename(ROOT, 'plain', 'moved'), E.EPERM],
    ['RENAME2', Op.RENAME2, ROOT, fb.rename2(dir, 'plain', 'moved'), E.EPERM],
    ['TMPFILE', Op.TMPFILE, ROOT, fb.tmpfile('tmp'), E.EPERM],
    ['SETXATTR', Op.SETXATTR, plain, fb.setxattr('user.x', Buffer.from('v')), E.EOPNOTSUPP],
    ['REMOVEXATTR', Op.REMOVEXATTR, plain, fb.name('user.x'), E.EOPNOTSUPP],
    ['FALLOCATE', Op.FALLOCATE, plain, fb.fallocate(1, 0, 4096), E.EOPNOTSUPP],
    ['GETXATTR', Op.GETXATTR, plain, getxattrIn(64, 'user.x'), E.ENODATA],
    ['GETXATTR size 0', Op.GETXATTR, plain, getxattrIn(0, 'security.capability'), E.ENODATA],
    ['IOCTL', Op.IOCTL, plain, fb.ioctl(1, 0x5401), E.ENOTTY],
    ['opcode 9999', 9999, ROOT, Buffer.alloc(16), E.ENOSYS],
    ['SETATTR size 0', Op.SETATTR, plain, setattrIn({ valid: FATTR.SIZE, size: 0 }), E.EPERM],
    ['SETATTR size + 1', Op.SETATTR, plain, setattrIn({ valid: FATTR.SIZE | FATTR.FH, size: FILES.plain.size + 1 }), E.EPERM],
    ['SETATTR mode', Op.SETATTR, plain, setattrIn({ valid: FATTR.MODE, mode: S_IFREG | 0o777 }), E.EPERM],
    ['SETATTR uid', Op.SETATTR, plain, setattrIn({ valid: FATTR.UID, uid: 5 }), E.EPERM],
  ];
  for (const [name, op, node, body, want] of cases) assert.equal(k.errno(op, node, body, name), want, `${name}: errno`);

  // Nothing changed.
  assert.equal(k.lookup(ROOT, 'plain').nodeid, plain);
  for (const n of ['new', 'newdir', 'sym', 'hard', 'moved', 'tmp']) assert.equal(k.errno(Op.LOOKUP, ROOT, cstr(n), `LOOKUP ${n}`), E.ENOENT);
  assert.equal(k.getattr(plain).size, FILES.plain.size);

  // Harmless SETATTRs succeed and return the unchanged attributes.
  for (const [name, body] of [
    ['same size', setattrIn({ valid: FATTR.SIZE, size: FILES.plain.size })],
    ['times', setattrIn({ valid: FATTR.ATIME | FATTR.MTIME, atime: 1, mtime: 2 })],
    ['times now', setattrIn({ valid: FATTR.ATIME_NOW | FATTR.MTIME_NOW | FATTR.ATIME | FATTR.MTIME })],
    ['ctime', setattrIn({ valid: FATTR.CTIME, ctime: 3 })],
  ] as const) {
    const a = decodeAttrOut(k.ok(Op.SETATTR, plain, body, `SETATTR ${name}`));
    assert.deepEqual(a, k.getattr(plain), `SETATTR ${name}: attributes`);
  }

  // LISTXATTR: size 0 asks for the list size (0); a real buffer gets the (empty) list.
  const sizeOnly = k.ok(Op.LISTXATTR, plain, getxattrIn(0), 'LISTXATTR 0');
  assert.equal(sizeOnly.length, 8, 'fuse_getxattr_out');
  assert.equal(sizeOnly.readUInt32LE(0), 0);
  assert.equal(sizeOnly.readUInt32LE(4), 0);
  assert.equal(k.ok(Op.LISTXATTR, plain, getxattrIn(4096), 'LISTXATTR 4096').length, 0);
});

test('SETATTR decodes mode, uid and gid from their fuse_setattr_in offsets (68, 76, 80)', () => {
  const ops = recordingOps();
  const k = new Kernel(ops);
  k.init();
  // ctime and the *nsec fields carry values that must not be mistaken for mode/uid/gid.
  const body = setattrIn({ valid: FATTR.MODE | FATTR.UID | FATTR.GID | FATTR.SIZE | FATTR.CTIME, size: 4096, mode: S_IFREG | 0o600, uid: 77, gid: 88, ctime: 0x1234_5678_9abc });
  body.writeUInt32LE(111, 56); // atimensec
  body.writeUInt32LE(222, 60); // mtimensec
  body.writeUInt32LE(333, 64); // ctimensec
  k.ok(Op.SETATTR, 9, body, 'SETATTR');
  const call = ops.calls.find((c) => c[0] === 'setattr')!;
  assert.equal(call[1], 9);
  const change = call[2] as { size?: number; mode?: number; uid?: number; gid?: number; times: boolean };
  assert.deepEqual({ size: change.size, mode: change.mode, uid: change.uid, gid: change.gid, times: change.times }, { size: 4096, mode: S_IFREG | 0o600, uid: 77, gid: 88, times: true });
});

test('FORGET, BATCH_FORGET and INTERRUPT get no reply; BATCH_FORGET forgets every pair', async (t) => {
  const { k } = await setup(t);
  const plain = k.node('plain');
  assert.equal(k.raw(Op.FORGET, plain, forgetIn(3)), null, 'FORGET');
  assert.equal(k.raw(Op.BATCH_FORGET, 0, batchForgetIn(2, [[plain, 1], [k.node('dir'), 2]])), null, 'BATCH_FORGET');
  assert.equal(k.raw(Op.INTERRUPT, 0, interruptIn(1234n)), null, 'INTERRUPT');
  assert.equal(k.lookup(ROOT, 'plain').nodeid, plain, 'forgotten nodes are still served');
  assert.equal(k.getattr(plain).size, FILES.plain.size);

  const ops = recordingOps();
  const k2 = new Kernel(ops);
  k2.init();
  assert.equal(k2.raw(Op.BATCH_FORGET, 0, batchForgetIn(3, [[10, 1], [11, 2], [2 ** 40, 3]])), null);
  assert.deepEqual(
    ops.calls.filter((c) => c[0] === 'forget'),
    [
      ['forget', 10, 1],
      ['forget', 11, 2],
      ['forget', 2 ** 40, 3],
    ],
  );
  assert.equal(k2.raw(Op.FORGET, 12, forgetIn(7)), null);
  assert.deepEqual(ops.calls.at(-1), ['forget', 12, 7]);
});

/** Independent decoding of a GET_FMAP reply (famfs kernel ABI §2.4) into its fields. */
function decodeFmapReply(p: Buffer) {
  const h = { fileType: p.readUInt8(0), reserved: p.readUInt8(1), version: p.readUInt16LE(2), extType: p.readUInt32LE(4), nextents: p.readUInt32LE(8), reserved0: p.readUInt32LE(12), fileSize: Number(p.readBigUInt64LE(16)), reserved1: p.readBigUInt64LE(24) };
  const simple = (o: number) => ({ devIndex: p.readUInt32LE(o), reserved: p.readUInt32LE(o + 4), offset: Number(p.readBigUInt64LE(o + 8)), length: Number(p.readBigUInt64LE(o + 16)) });
  let off = 32;
  const extents: unknown[] = [];
  for (let i = 0; i < h.nextents; i++) {
    if (h.extType === 0) {
      extents.push(simple(off));
      off += 24;
    } else {
      const ie = { nstrips: p.readUInt32LE(off), chunkSize: p.readUInt32LE(off + 4), nbytes: Number(p.readBigUInt64LE(off + 8)), reserved: p.readBigUInt64LE(off + 16), strips: [] as ReturnType<typeof simple>[] };
      off += 24;
      for (let s = 0; s < ie.nstrips; s++, off += 24) ie.strips.push(simple(off));
      extents.push(ie);
    }
  }
  assert.equal(off, p.length, 'the reply is exactly header + extents');
  return { h, extents };
}

function expectedFmapFields(fmap: Fmap, size: number, fileType: number) {
  const h = { fileType, reserved: 0, version: 1, extType: fmap.kind === 'simple' ? 0 : 1, nextents: fmap.extents.length, reserved0: 0, fileSize: size, reserved1: 0n };
  const simple = (e: { devIndex: number; offset: number; length: number }) => ({ devIndex: e.devIndex, reserved: 0, offset: e.offset, length: e.length });
  if (fmap.kind === 'simple') return { h, extents: fmap.extents.map(simple) };
  let left = size;
  return {
    h,
    extents: fmap.extents.map((ie) => {
      const nbytes = Math.min(
        ie.strips.reduce((n, s) => n + s.length, 0),
        left,
      );
      left -= nbytes;
      return { nstrips: ie.strips.length, chunkSize: ie.chunkSize, nbytes, reserved: 0n, strips: ie.strips.map(simple) };
    }),
  };
}

test('GET_FMAP (53): exact replies for simple, interleaved and .meta files; 4-byte size reply on overflow', async (t) => {
  const { fx, k } = await setup(t);
  const logLen = fx.writer.superblock.logLen;
  const targets: { path: string; fmap: Fmap; size: number; type: number }[] = [
    ...['plain', 'dir/a', 'tiny', 'striped'].map((path) => ({ path, fmap: fx.files[path]!.fmap, size: fx.files[path]!.size, type: FuseFamfsFileType.regular })),
    { path: '.meta/.superblock', fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 0, length: SUPERBLOCK_SIZE }] }, size: SUPERBLOCK_SIZE, type: FuseFamfsFileType.superblock },
    { path: '.meta/.log', fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: LOG_OFFSET, length: logLen }] }, size: logLen, type: FuseFamfsFileType.log },
  ];
  for (const { path, fmap, size, type } of targets) {
    const id = k.node(path);
    const need = fmapMessageSize(fmap);
    const full = k.ok(Op.GET_FMAP, id, getFmapIn(4096), `GET_FMAP ${path}`);
    assert.ok(full.equals(encodeGetFmapReply(fmap, size, type as FuseFamfsFileType, 4096)), `${path}: bytes = encodeGetFmapReply`);
    assert.equal(full.length, need);
    assert.deepEqual(decodeFmapReply(full), expectedFmapFields(fmap, size, type), `${path}: decoded fields`);
    // What the V2 kernel validates (§2.7): 1..32 extents, 1..32 strips, dev index 0, 2 MiB alignment, enough bytes.
    const ranges = fmap.kind === 'simple' ? fmap.extents : fmap.extents.flatMap((ie) => ie.strips);
    for (const r of ranges) assert.ok(r.devIndex === 0 && r.offset % (2 * MiB) === 0 && r.length % (2 * MiB) === 0, `${path}: extent ${JSON.stringify(r)} kernel-valid`);
    assert.ok(ranges.reduce((n, r) => n + r.length, 0) >= size, `${path}: extents cover the file`);
    if (path === 'striped') assert.equal(fmap.kind, 'interleaved');

    assert.ok(k.ok(Op.GET_FMAP, id, getFmapIn(need), `GET_FMAP ${path} exact`).equals(full), `${path}: a buffer of exactly the size suffices`);
    const small = k.ok(Op.GET_FMAP, id, getFmapIn(need - 1), `GET_FMAP ${path} small`);
    assert.equal(small.length, 4, `${path}: overflow reply is one u32`);
    assert.equal(small.readUInt32LE(0), need, `${path}: the size needed`);
  }
  assert.equal(k.errno(Op.GET_FMAP, k.node('dir'), getFmapIn(4096), 'GET_FMAP dir'), E.EINVAL);
  assert.equal(k.errno(Op.GET_FMAP, 999_999, getFmapIn(4096), 'GET_FMAP unknown'), E.ENOENT);
});

test('GET_DAXDEV (54): index in the header nodeid, no body, 280-byte reply with the device path at 24', async (t) => {
  const { fx, k } = await setup(t);
  const p = k.ok(Op.GET_DAXDEV, 0, undefined, 'GET_DAXDEV 0');
  assert.equal(p.length, 280);
  assert.equal(p.readUInt16LE(0), 0, 'index');
  assert.ok(p.subarray(2, 24).every((b) => b === 0), 'reserved fields are zero');
  const name = p.subarray(24);
  const nul = name.indexOf(0);
  assert.ok(nul > 0 && nul < 256, 'the name is NUL-terminated inside name[256]');
  assert.equal(name.toString('utf8', 0, nul), fx.tp.path);
  assert.ok(name.subarray(nul).every((b) => b === 0), 'zero after the name');
  assert.equal(k.errno(Op.GET_DAXDEV, 1, undefined, 'GET_DAXDEV 1'), E.EINVAL);
  assert.equal(k.errno(Op.GET_DAXDEV, 23, undefined, 'GET_DAXDEV 23'), E.EINVAL);
});

test('catch-up: a file another writer deletes is ENOENT (LOOKUP, GETATTR, READ of an open node); a new file appears', async (t) => {
  const { fx, k } = await setup(t);
  const plain = k.node('plain');
  const fh = Number(k.open(plain).fh);
  assert.equal(k.read(plain, fh, 0, 10).length, 10);
  const tiny = k.node('tiny');
  const dirA = k.node('dir/a');

  // A second writable Pool on the same device (the writer of the fixture; the server has its own).
  await fx.writer.remove('plain');
  await sleep(250); // past the read path's re-check interval
  assert.equal(k.errno(Op.READ, plain, readIn(fh, 0, 10), 'READ of a deleted file (open handle)'), E.ENOENT);
  assert.equal(k.errno(Op.GETATTR, plain, Buffer.alloc(16), 'GETATTR of a deleted file'), E.ENOENT);
  assert.equal(k.errno(Op.LOOKUP, ROOT, cstr('plain'), 'LOOKUP of a deleted file'), E.ENOENT);
  assert.equal(k.errno(Op.OPEN, plain, openIn(0), 'OPEN of a deleted file'), E.ENOENT);
  assert.equal(k.errno(Op.WRITE, plain, writeIn(fh, 0, Buffer.from('x')), 'WRITE to a deleted file'), E.ENOENT);
  assert.equal(k.errno(Op.GET_FMAP, plain, getFmapIn(4096), 'GET_FMAP of a deleted file'), E.ENOENT);

  // GETATTR and LOOKUP catch up at once (no interval).
  await fx.writer.remove('tiny');
  assert.equal(k.errno(Op.GETATTR, tiny, Buffer.alloc(16), 'GETATTR right after the delete'), E.ENOENT);
  await fx.writer.remove('dir');
  assert.equal(k.errno(Op.LOOKUP, ROOT, cstr('dir'), 'LOOKUP of a deleted directory'), E.ENOENT);
  assert.equal(k.errno(Op.GETATTR, dirA, Buffer.alloc(16), 'GETATTR of a file in a deleted directory'), E.ENOENT);

  // A new file (possibly reusing the freed memory) is a new node.
  const created = await fx.writer.createFile('fresh', 3 * MiB, { uid: 42, gid: 43, mode: 0o604 });
  const e = k.lookup(ROOT, 'fresh');
  expectAttr(e.attr, { size: 3 * MiB, mode: S_IFREG | 0o604, uid: 42, gid: 43 }, 'LOOKUP fresh');
  assert.ok(![plain, tiny, dirA].includes(e.nodeid), 'deleted node ids are not reused');
  const fh2 = Number(k.open(e.nodeid).fh);
  assert.ok(k.read(e.nodeid, fh2, 0, 3 * MiB).equals(Buffer.alloc(3 * MiB)), 'a new file reads zeros');
  assert.equal(created.size, 3 * MiB);
  const listing = decodeDirents(k.ok(Op.READDIR, ROOT, readIn(Number(decodeOpenOut(k.ok(Op.OPENDIR, ROOT, openIn(0))).fh), 0, 4096)), false).map((d) => d.name);
  assert.deepEqual(listing.sort(), ['.', '..', '.meta', 'fresh', 'striped'].sort());
});
