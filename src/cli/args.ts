/** Parsing of command-line values; every error names the option and the value. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "1073741824", "512M", "1G", "2MiB", "4gb" → bytes (binary units, as mkfs.famfs --loglen). */
export function parseSize(option: string, value: string): number {
  const m = /^(\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`${option}: "${value}" is not a size (examples: 1073741824, 512M, 1G)`);
  const n = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option}: "${value}" is too large`);
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
