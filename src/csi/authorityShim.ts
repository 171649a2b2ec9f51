import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';

/**
 * Node's HTTP/2 server (nghttp2) resets every stream whose `:authority` is not a valid URI
 * authority, and some gRPC clients (older grpc-go sidecars, grpc-java over unix sockets) send the
 * socket *path* there. Every connection to the plugin socket passes through this shim, which
 * rewrites such an authority to "localhost" before grpc-js sees the request.
 *
 * HTTP/2 framing (RFC 9113): a 24-byte client preface, then frames of a 9-byte header
 * (u24 length, u8 type, u8 flags, u32 stream id) and `length` payload bytes. Header blocks
 * (HEADERS + CONTINUATION until END_HEADERS) are HPACK-compressed with per-connection state, so
 * the shim decodes every block the client sends and re-encodes it with its own compressor (the
 * server decodes what the shim encoded; the client's compression state stays the client's). All
 * other frames, and everything the server sends, pass through untouched.
 */
interface HpackHeader {
  name: string;
  value: string;
  neverIndex?: boolean;
}
interface HpackStream {
  write(data: unknown): void;
  read(): unknown;
}
interface Hpack {
  compressor: { create(o: { table: { size: number } }): HpackStream };
  decompressor: { create(o: { table: { size: number } }): HpackStream & { execute(): void } };
}
const hpack = createRequire(import.meta.url)('hpack.js') as Hpack;

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** SETTINGS_MAX_FRAME_SIZE is at least this; re-encoded blocks are split to fit. */
const MAX_FRAME = 16384;
/** Both HPACK tables start at the protocol default; the client announces changes in-band. */
const TABLE_SIZE = 4096;
/** Characters RFC 3986 allows in an authority (host, port, userinfo, IP literals). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]+$/;

export const REWRITTEN_AUTHORITY = 'localhost';

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(FRAME_HEADER);
  h.writeUIntBE(payload.length, 0, 3);
  h.writeUInt8(type, 3);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

class ClientFrames {
  private pending: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  private block: { stream: number; flags: number; parts: Buffer[] } | undefined;
  private readonly decoder = hpack.decompressor.create({ table: { size: TABLE_SIZE } });
  private readonly encoder = hpack.compressor.create({ table: { size: TABLE_SIZE } });

  constructor(private readonly onRewrite: (from: string) => void) {}

  /** Consumes client bytes; returns the bytes to hand to the server. Throws on a protocol error. */
  push(data: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const out: Buffer[] = [];
    if (!this.prefaceSeen) {
      if (this.pending.length < PREFACE_LENGTH) return out;
      out.push(this.pending.subarray(0, PREFACE_LENGTH));
      this.pending = this.pending.subarray(PREFACE_LENGTH);
      this.prefaceSeen = true;
    }
    while (this.pending.length >= FRAME_HEADER) {
      const length = this.pending.readUIntBE(0, 3);
      if (this.pending.length < FRAME_HEADER + length) break;
      const type = this.pending.readUInt8(3);
      const flags = this.pending.readUInt8(4);
      const stream = this.pending.readUInt32BE(5) & 0x7fffffff;
      const whole = this.pending.subarray(0, FRAME_HEADER + length);
      const payload = whole.subarray(FRAME_HEADER);
      this.pending = this.pending.subarray(FRAME_HEADER + length);
      if (type === HEADERS) {
        let start = 0;
        let end = payload.length;
        if (flags & PADDED) {
          end -= payload.readUInt8(0);
          start = 1;
        }
        if (flags & PRIORITY) start += 5;
        if (start > end) throw new Error('malformed HEADERS frame');
        this.block = { stream, flags, parts: [payload.subarray(start, end)] };
      } else if (type === CONTINUATION) {
        if (!this.block || this.block.stream !== stream) throw new Error('CONTINUATION without HEADERS');
        this.block.parts.push(payload);
      } else {
        if (this.block) throw new Error('frame interleaved inside a header block');
        out.push(whole);
        continue;
      }
      if (flags & END_HEADERS) {
        out.push(...this.reencode(this.block.stream, this.block.flags & END_STREAM, Buffer.concat(this.block.parts)));
        this.block = undefined;
      }
    }
    return out;
  }

  private reencode(stream: number, endStream: number, block: Buffer): Buffer[] {
    this.decoder.write(block);
    this.decoder.execute();
    const headers: HpackHeader[] = [];
    for (let h = this.decoder.read() as HpackHeader | null; h !== null; h = this.decoder.read() as HpackHeader | null) {
      if (h.name === ':authority' && !VALID_AUTHORITY.test(h.value)) {
        this.onRewrite(h.value);
        headers.push({ name: h.name, value: REWRITTEN_AUTHORITY });
      } else headers.push({ name: h.name, value: h.value, neverIndex: h.neverIndex });
    }
    this.encoder.write(headers);
    const encoded = (this.encoder.read() as Buffer | null) ?? Buffer.alloc(0);
    const frames: Buffer[] = [];
    for (let off = 0; off < encoded.length || off === 0; off += MAX_FRAME) {
      const chunk = encoded.subarray(off, off + MAX_FRAME);
      const last = off + MAX_FRAME >= encoded.length;
      frames.push(frame(off === 0 ? HEADERS : CONTINUATION, (off === 0 ? endStream : 0) | (last ? END_HEADERS : 0), stream, chunk));
      if (last) break;
    }
    return frames;
  }
}

/** Wraps an accepted socket in a duplex that rewrites invalid :authority headers. */
export function authorityRewriting(socket: Socket, onRewrite: (from: string) => void): Duplex {
  const frames = new ClientFrames(onRewrite);
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on('data', (data: Buffer) => {
    let out: Buffer[];
    try {
      out = frames.push(data);
    } catch (e) {
      duplex.destroy(e as Error);
      return;
    }
    for (const b of out) if (!duplex.push(b)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (e) => duplex.destroy(e));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
