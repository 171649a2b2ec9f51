import { randomUUID } from 'node:crypto';

/**
 * famfs stores a libuuid `uuid_t` with memcpy, so the 16 bytes are in canonical string order:
 * "aabbccdd-eeff-..." is stored as aa bb cc dd ee ff ... (no byte swapping).
 */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function uuidToBytes(uuid: string): Buffer {
  if (!isUuid(uuid)) throw new RangeError(`"${uuid}" is not a UUID (expected 8-4-4-4-12 hex digits)`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

export function uuidFromBytes(buf: Buffer, offset: number): string {
  const h = buf.toString('hex', offset, offset + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function newUuid(): string {
  return randomUUID();
}
