import { parseByteSize } from '../famfs/index.js';

/** Parsing of command-line values; every error names the option and the value. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** "1073741824", "512M", "1G", "2MiB", "4Gi" → bytes (binary units, as mkfs.famfs --loglen). */
export function parseSize(option: string, value: string): number {
  const n = parseByteSize(value);
  if (n === null) throw new UsageError(`${option}: "${value}" is not a size (examples: 1073741824, 512M, 1G)`);
  return n;
}

export function parseInteger(option: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${option}: "${value}" must be an integer ${min}..${max}`);
  return n;
}

/** Octal permission bits: "0644", "644", "0o644". */
export function parseMode(option: string, value: string): number {
  const m = /^(?:0o?)?([0-7]{1,4})$/.exec(value);
  if (!m) throw new UsageError(`${option}: "${value}" is not an octal mode (example: 0644)`);
  return parseInt(m[1]!, 8);
}

export function optionalString(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** "500ms", "2s", "1m", or plain milliseconds → milliseconds. */
export function parseDuration(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  const n = m ? Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1) : Number.NaN;
  if (!Number.isFinite(n) || n < 1 || n > 3_600_000) throw new UsageError(`${option}: "${value}" is not a duration between 1ms and 1h (examples: 500ms, 2s, 1m)`);
  return Math.round(n);
}
