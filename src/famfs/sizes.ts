/**
 * Byte sizes written by people: "1073741824", "512M", "512Mi", "1G", "2MiB", "4gb". All units
 * are binary (as mkfs.famfs --loglen and Kubernetes' Mi/Gi). Returns null when not a size.
 */
const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export function parseByteSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const m = /^(\d+)\s*(?:([kmgtp])(?:ib|i|b)?|b)?$/i.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!;
  return Number.isSafeInteger(n) ? n : null;
}
