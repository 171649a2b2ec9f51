/**
 * Robustness of the request path against messages no kernel should send: random bytes, valid
 * headers with garbage bodies, truncations, header lengths that disagree with the read, huge node
 * ids, names without a NUL, counts and sizes beyond the body, and random mutations of valid
 * requests. FuseDispatcher.handle must never throw, must answer every request whose header is
 * usable with one well-formed reply (matching unique, error 0 or -errno), and must leave the
 * pool's metadata alone. decodeInHeader and Body are fuzzed directly as well.
 *
 * Seeded: FUSE_FUZZ_SEED=<n> reproduces a run; a failure names the seed and the iteration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import { Body, FuseProtocolError, decodeInHeader, decodeInitIn } from '../../src/fuse/abi.js';
import { FuseDispatcher } from '../../src/fuse/dispatch.js';
import { FamfsFileSystem } from '../../src/fuse/famfsFs.js';
import { LOG_OFFSET, Pool, openDaxDevice } from '../../src/famfs/index.js';
import { fixture } from '../helpers/famfsModel.js';
import {
  ALL_FLAGS,
  IN_HEADER,
  OUT_HEADER,
  Op,
  Rng,
  batchForgetIn,
  cstr,
  decodeEntryOut,
  forbiddenBodies as fb,
  forgetIn,
  getFmapIn,
  getxattrIn,
  initIn,
  interruptIn,
  msg,
  openIn,
  readIn,
  releaseIn,
  setattrIn,
  writeIn,
} from '../helpers/fuseMessages.js';

const SEED = Number(process.env.FUSE_FUZZ_SEED ?? 0x5eed_f00d);
const ITERATIONS = Number(process.env.FUSE_FUZZ_ITERATIONS ?? 20000);
const ERRNOS = new Set(Object.values(constants.errno));
const NO_REPLY = new Set<number>([Op.FORGET, Op.BATCH_FORGET, Op.INTERRUPT]);
const OPCODES = [...Object.values(Op), 0, 7, 19, 31, 32, 33, 37, 40, 41, 48, 49, 55, 255, 4096, 0xffffffff];

type T = { after(fn: () => unknown): void };

function hex(b: Buffer): string {
  return b.length > 96 ? `${b.subarray(0, 96).toString('hex')}... (${b.length} bytes)` : b.toString('hex');
}

async function server(t: T) {
  const fx = await fixture(t);
  const pool = Pool.open(openDaxDevice(fx.tp.path, { writable: true }), { writable: false });
  t.after(() => pool.close());
  const fs = new FamfsFileSystem(pool);
  const d = new FuseDispatcher(fs, { maxWrite: 1024 * 1024 });
  const init = msg(Op.INIT, 0, initIn({ minor: 43, flags: ALL_FLAGS }));
  assert.equal(d.handle(init, init.length)![0]!.readInt32LE(4), 0, 'INIT');
  const lookup = (parent: number, name: string) => {
    const m = msg(Op.LOOKUP, parent, cstr(name));
    return decodeEntryOut(Buffer.concat(d.handle(m, m.length)!).subarray(OUT_HEADER)).nodeid;
  };
  const meta = lookup(1, '.meta');
  const nodes = [1, meta, lookup(meta, '.superblock'), lookup(meta, '.log'), lookup(1, 'dir'), lookup(lookup(1, 'dir'), 'a'), lookup(1, 'plain'), lookup(1, 'striped'), lookup(1, 'tiny')];
  return { fx, d, nodes };
}

/** Hash of the superblock and the log: no request may change them. */
function metadataHash(fx: Awaited<ReturnType<typeof fixture>>): string {
  return createHash('sha256')
    .update(fx.tp.dev.map(0, LOG_OFFSET + fx.writer.superblock.logLen))
    .digest('hex');
}

/** A generator of hostile messages; returns the bytes and the length "read" from /dev/fuse. */
function generators(rng: Rng, nodes: number[]) {
  const node = (): number | bigint => (rng.chance(0.8) ? rng.pick(nodes) : rng.pick([0, 2 ** 53 - 1, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, rng.u64(), rng.int(100_000)]));
  const size = (): number => (rng.chance(0.5) ? rng.int(8192) : rng.chance(0.5) ? rng.pick([0, 1, 4095, 4096, 4097, 1 << 20, (1 << 20) + 1]) : rng.u32());
  const offset = (): number | bigint => (rng.chance(0.6) ? rng.int(30 << 20) : rng.pick([0, 2 ** 53 - 1, 2n ** 53n, 2n ** 64n - 1n, rng.u64()]));
  const name = (): string => rng.pick(['plain', 'dir', 'a', '.meta', '.log', '.superblock', '', '..', '.', 'x'.repeat(rng.int(300)), 'nul\0inside', 'ünï']);
  const nameNoNul = (): Buffer => Buffer.from(name().replace(/\0/g, '') || 'n', 'utf8');
  const garbage = (n = rng.int(300)): Buffer => rng.bytes(n);

  /** A plausible body for `op` (then possibly mutated). */
  const template = (op: number): Buffer => {
    switch (op) {
      case Op.INIT:
        return initIn({ minor: rng.int(50), major: rng.chance(0.9) ? 7 : rng.int(10), flags: rng.u64(), short: rng.chance(0.3) });
      case Op.LOOKUP:
      case Op.UNLINK:
      case Op.RMDIR:
      case Op.REMOVEXATTR:
        return cstr(name());
      case Op.FORGET:
        return forgetIn(rng.chance(0.8) ? rng.int(10) : rng.u64());
      case Op.BATCH_FORGET: {
        const n = rng.int(5);
        return batchForgetIn(rng.chance(0.7) ? n : rng.pick([n + 1, n + 100, 0xffffffff]), Array.from({ length: n }, () => [node(), rng.chance(0.8) ? rng.int(5) : rng.u64()] as [number | bigint, number | bigint]));
      }
      case Op.INTERRUPT:
        return interruptIn(rng.u64());
      case Op.GETATTR:
        return Buffer.alloc(16);
      case Op.SETATTR:
        return setattrIn({ valid: rng.u32() & 0xfff, size: rng.int(30 << 20), mode: rng.u32(), uid: rng.u32(), gid: rng.u32(), atime: rng.int(1e9), mtime: rng.int(1e9) });
      case Op.OPEN:
      case Op.OPENDIR:
        return openIn(rng.u32());
      case Op.READ:
      case Op.READDIR:
      case Op.READDIRPLUS:
        return readIn(rng.int(10), offset(), size());
      case Op.WRITE: {
        const data = garbage(rng.int(200));
        return writeIn(rng.int(10), offset(), data, rng.chance(0.6) ? data.length : size());
      }
      case Op.RELEASE:
      case Op.RELEASEDIR:
        return releaseIn(rng.int(10));
      case Op.GETXATTR:
      case Op.LISTXATTR:
        return getxattrIn(size(), rng.chance(0.5) ? name() : undefined);
      case Op.SETXATTR:
        return fb.setxattr(name(), garbage(rng.int(40)));
      case Op.CREATE:
        return fb.create(name());
      case Op.MKDIR:
        return fb.mkdir(name());
      case Op.RENAME:
        return fb.rename(rng.pick(nodes), name(), name());
      case Op.RENAME2:
        return fb.rename2(rng.pick(nodes), name(), name(), rng.u32());
      case Op.LINK:
        return fb.link(rng.pick(nodes), name());
      case Op.SYMLINK:
        return fb.symlink(name(), name());
      case Op.FALLOCATE:
        return fb.fallocate(1, rng.int(1 << 30), rng.int(1 << 30));
      case Op.IOCTL:
        return fb.ioctl(1, rng.u32());
      case Op.GET_FMAP:
        return getFmapIn(size());
      case Op.ACCESS:
        return Buffer.from([rng.int(8), 0, 0, 0, 0, 0, 0, 0]);
      default:
        return garbage();
    }
  };

  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    const flips = 1 + rng.int(4);
    for (let i = 0; i < flips && out.length > 0; i++) {
      const p = rng.chance(0.3) ? rng.int(Math.min(out.length, IN_HEADER)) : rng.int(out.length);
      out[p] = rng.chance(0.5) ? rng.u32() & 0xff : out[p]! ^ (1 << rng.int(8));
    }
    return out;
  };

  const kinds: Record<string, () => { buf: Buffer; length: number }> = {
    randomBytes: () => {
      const b = garbage(rng.int(301));
      return { buf: b, length: b.length };
    },
    randomBytesValidLen: () => {
      const b = garbage(IN_HEADER + rng.int(261));
      b.writeUInt32LE(b.length, 0);
      return { buf: b, length: b.length };
    },
    validHeaderGarbageBody: () => {
      const m = msg(rng.pick(OPCODES), node(), garbage());
      return { buf: m, length: m.length };
    },
    template: () => {
      const op = rng.pick(OPCODES);
      const m = msg(op, node(), template(op), { uid: rng.u32(), gid: rng.u32(), pid: rng.u32() });
      return { buf: m, length: m.length };
    },
    truncated: () => {
      const op = rng.pick(OPCODES);
      const m = msg(op, node(), template(op));
      const n = rng.int(m.length + 1);
      const cut = Buffer.from(m.subarray(0, n));
      if (n >= 4 && rng.chance(0.7)) cut.writeUInt32LE(n, 0); // the kernel's len agrees with the short read
      return { buf: cut, length: cut.length };
    },
    lenMismatch: () => {
      const op = rng.pick(OPCODES);
      const m = msg(op, node(), template(op));
      m.writeUInt32LE(rng.pick([0, 1, IN_HEADER, m.length - 1, m.length + 1, m.length + 4096, 0xffffffff]), 0);
      // The read buffer is bigger than the message (as the session's is).
      const buf = Buffer.alloc(m.length + 64);
      m.copy(buf);
      return { buf, length: m.length };
    },
    hugeNodeid: () => {
      const op = rng.pick(OPCODES);
      const m = msg(op, rng.pick([2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, rng.u64() | (1n << 60n)]), template(op));
      return { buf: m, length: m.length };
    },
    nameWithoutNul: () => {
      const op = rng.pick([Op.LOOKUP, Op.UNLINK, Op.RMDIR, Op.MKDIR, Op.CREATE, Op.GETXATTR, Op.SYMLINK, Op.RENAME, Op.REMOVEXATTR, Op.LINK]);
      const prefix = op === Op.MKDIR ? Buffer.alloc(8) : op === Op.CREATE ? Buffer.alloc(16) : op === Op.GETXATTR ? Buffer.alloc(8) : op === Op.RENAME || op === Op.LINK ? Buffer.alloc(8) : Buffer.alloc(0);
      const m = msg(op, node(), Buffer.concat([prefix, nameNoNul()]));
      return { buf: m, length: m.length };
    },
    batchForgetOverrun: () => {
      const n = rng.int(4);
      const m = msg(Op.BATCH_FORGET, 0, batchForgetIn(n + 1 + rng.int(1000), Array.from({ length: n }, () => [rng.pick(nodes), 1] as [number, number])));
      return { buf: m, length: m.length };
    },
    writeSizeOverrun: () => {
      const data = garbage(rng.int(100));
      const m = msg(Op.WRITE, rng.pick(nodes), writeIn(0, rng.int(4096), data, data.length + 1 + rng.int(1 << 20)));
      return { buf: m, length: m.length };
    },
    mutated: () => {
      const op = rng.pick(OPCODES);
      const m = mutate(msg(op, rng.pick(nodes), template(op)));
      return { buf: m, length: m.length };
    },
  };
  return kinds;
}

test(`fuzz: FuseDispatcher.handle never throws and always frames its replies (seed ${SEED})`, async (t) => {
  const { fx, d, nodes } = await server(t);
  const before = metadataHash(fx);
  const rng = new Rng(SEED);
  const kinds = generators(rng, nodes);
  const names = Object.keys(kinds);
  const stats: Record<string, { n: number; replies: number; errors: number; none: number }> = {};
  for (let i = 0; i < ITERATIONS; i++) {
    const kind = names[i % names.length]!;
    const { buf, length } = kinds[kind]!();
    const where = `seed ${SEED}, iteration ${i} (${kind}): message ${hex(buf.subarray(0, length))}`;
    let reply: Buffer[] | null;
    try {
      reply = d.handle(buf, length);
    } catch (e) {
      assert.fail(`handle threw ${(e as Error).stack}\n${where}`);
    }
    const s = (stats[kind] ??= { n: 0, replies: 0, errors: 0, none: 0 });
    s.n++;
    const headerUsable = length >= IN_HEADER && buf.readUInt32LE(0) === length;
    const opcode = length >= 8 ? buf.readUInt32LE(4) : -1;
    if (reply === null) {
      s.none++;
      assert.ok(!headerUsable || NO_REPLY.has(opcode), `no reply to a request with a usable header (opcode ${opcode}); the kernel would wait forever\n${where}`);
      continue;
    }
    s.replies++;
    assert.ok(headerUsable, `a reply to a message whose header is unusable\n${where}`);
    assert.ok(Array.isArray(reply) && reply.length >= 1 && reply.every((p) => Buffer.isBuffer(p)), `reply is an iovec of Buffers\n${where}`);
    assert.equal(reply[0]!.length, OUT_HEADER, `first element is the out header\n${where}`);
    const total = reply.reduce((n, p) => n + p.length, 0);
    const h = reply[0]!;
    assert.equal(h.readUInt32LE(0), total, `out header len equals the bytes sent\n${where}`);
    assert.equal(h.readBigUInt64LE(8), buf.readBigUInt64LE(8), `unique matches\n${where}`);
    const error = h.readInt32LE(4);
    assert.ok(error === 0 || (error < 0 && ERRNOS.has(-error)), `error ${error} is 0 or a negative errno\n${where}`);
    if (error !== 0) {
      s.errors++;
      assert.equal(total, OUT_HEADER, `an error reply has no payload\n${where}`);
    }
    assert.ok(total <= 64 * 1024 * 1024, `reply of ${total} bytes\n${where}`);
  }
  t.diagnostic(`seed ${SEED}: ${JSON.stringify(stats)}`);

  // The server still works, and no request touched the superblock or the log.
  assert.equal(metadataHash(fx), before, 'superblock and log unchanged');
  const m = msg(Op.LOOKUP, 1, cstr('striped'));
  const r = Buffer.concat(d.handle(m, m.length)!);
  assert.equal(r.readInt32LE(4), 0, 'LOOKUP still served');
  assert.equal(decodeEntryOut(r.subarray(OUT_HEADER)).attr.size, fx.files.striped!.size);
  const g = msg(Op.GETATTR, 1, Buffer.alloc(16), { unique: 77n });
  assert.equal(Buffer.concat(d.handle(g, g.length)!).readInt32LE(4), 0);
  // A fresh reader of the pool sees the same namespace (nothing was appended or lost).
  const check = Pool.open(openDaxDevice(fx.tp.path, { writable: false }), { writable: false });
  t.after(() => check.close());
  assert.deepEqual([...check.namespace.walk()].map((n) => n.relpath).sort(), [...fx.writer.namespace.walk()].map((n) => n.relpath).sort());
});

test('fuzz: FORGET, BATCH_FORGET and INTERRUPT never get a reply, even malformed', async (t) => {
  const { d, nodes } = await server(t);
  const cases: [string, Buffer][] = [
    ['FORGET with an empty body', msg(Op.FORGET, nodes[6]!, Buffer.alloc(0))],
    ['FORGET with a 4-byte body', msg(Op.FORGET, nodes[6]!, Buffer.alloc(4))],
    ['FORGET nlookup 2^64-1', msg(Op.FORGET, nodes[6]!, forgetIn(2n ** 64n - 1n))],
    ['FORGET of node 2^63', msg(Op.FORGET, 2n ** 63n, forgetIn(1))],
    ['BATCH_FORGET count 5, 1 pair', msg(Op.BATCH_FORGET, 0, batchForgetIn(5, [[nodes[6]!, 1]]))],
    ['BATCH_FORGET count 2^32-1, no pairs', msg(Op.BATCH_FORGET, 0, batchForgetIn(0xffffffff, []))],
    ['BATCH_FORGET with a 2-byte body', msg(Op.BATCH_FORGET, 0, Buffer.alloc(2))],
    ['BATCH_FORGET of node 2^64-1', msg(Op.BATCH_FORGET, 0, batchForgetIn(1, [[2n ** 64n - 1n, 1]]))],
    ['INTERRUPT with an empty body', msg(Op.INTERRUPT, 0, Buffer.alloc(0))],
    ['INTERRUPT with node 2^63', msg(Op.INTERRUPT, 2n ** 63n, interruptIn(5n))],
  ];
  const replied: string[] = [];
  for (const [label, m] of cases) {
    let r: Buffer[] | null = null;
    assert.doesNotThrow(() => (r = d.handle(m, m.length)), label);
    if (r !== null) replied.push(`${label} (error ${(r as Buffer[])[0]!.readInt32LE(4)})`);
  }
  assert.deepEqual(replied, [], `the kernel expects no reply to these opcodes; replies were sent to:\n  ${replied.join('\n  ')}`);
});

test('fuzz: decodeInHeader, Body readers and decodeInitIn either decode within bounds or throw FuseProtocolError', () => {
  const rng = new Rng(SEED ^ 0x1234);
  const protocolOnly = (fn: () => void, where: string) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof FuseProtocolError)) assert.fail(`${where}: threw ${(e as Error).name}: ${(e as Error).message} (expected FuseProtocolError)`);
    }
  };
  for (let i = 0; i < 5000; i++) {
    const buf = rng.bytes(rng.int(301));
    const length = rng.chance(0.2) ? buf.length : rng.int(buf.length + 1);
    if (length >= 4 && rng.chance(0.5)) buf.writeUInt32LE(length, 0);
    const where = `seed ${SEED}, header iteration ${i}: length ${length}, ${hex(buf)}`;
    let h: ReturnType<typeof decodeInHeader> | undefined;
    protocolOnly(() => (h = decodeInHeader(buf, length)), where);
    const valid = length >= IN_HEADER && buf.readUInt32LE(0) === length;
    assert.equal(h !== undefined, valid, `decodes exactly when the header is usable\n${where}`);
    if (h) {
      assert.deepEqual(h, { len: length, opcode: buf.readUInt32LE(4), unique: buf.readBigUInt64LE(8), nodeid: buf.readBigUInt64LE(16), uid: buf.readUInt32LE(24), gid: buf.readUInt32LE(28), pid: buf.readUInt32LE(32) }, where);
    }
  }

  for (let i = 0; i < 5000; i++) {
    const buf = rng.bytes(rng.int(200));
    const start = rng.int(buf.length + 1);
    const end = start + rng.int(buf.length - start + 1);
    const body = new Body(buf, start, end);
    assert.equal(body.length, end - start);
    const off = rng.chance(0.8) ? rng.int(body.length + 8) : rng.pick([-1, -8, 2 ** 31, 2 ** 40]);
    const where = `seed ${SEED}, body iteration ${i}: [${start}, ${end}) of ${buf.length}, offset ${off}`;
    protocolOnly(() => {
      const v = body.u32(off);
      assert.ok(off >= 0 && off + 4 <= body.length, `u32 inside the body\n${where}`);
      assert.equal(v, buf.readUInt32LE(start + off));
    }, where);
    protocolOnly(() => {
      const v = body.u64(off);
      assert.ok(off >= 0 && off + 8 <= body.length, `u64 inside the body\n${where}`);
      assert.equal(v, buf.readBigUInt64LE(start + off));
    }, where);
    protocolOnly(() => {
      const v = body.num(off);
      assert.ok(off >= 0 && off + 8 <= body.length && Number.isSafeInteger(v), `num inside the body and safe\n${where}`);
    }, where);
    protocolOnly(() => {
      const s = body.cstring(off);
      const nul = buf.indexOf(0, start + off);
      assert.ok(off >= 0 && nul >= 0 && nul < end, `the NUL is inside the body\n${where}`);
      assert.equal(s, buf.toString('utf8', start + off, nul));
    }, where);
    const n = rng.int(64);
    protocolOnly(() => {
      const b = body.bytes(off, n);
      assert.ok(off >= 0 && off + n <= body.length && b.length === n, `bytes inside the body\n${where}`);
    }, where);
    protocolOnly(() => {
      const init = decodeInitIn(body);
      assert.ok(body.length >= 16, `decodeInitIn needs the 16-byte fuse_init_in\n${where}`);
      assert.equal(init.major, buf.readUInt32LE(start));
    }, where);
  }
});
