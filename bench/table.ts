/** The result table every benchmark prints: one row per measurement, target and verdict. */
interface Row {
  benchmark: string;
  result: string;
  target: string;
  verdict: string;
}

const rows: Row[] = [];
/** Free-text notes printed under the table. */
export const notes: string[] = [];

/** Adds a row; `ok` undefined means the row is information without a target. */
export function row(benchmark: string, result: string, target = '', ok?: boolean): void {
  rows.push({ benchmark, result, target: target || '—', verdict: ok === undefined ? 'info' : ok ? 'ok' : 'MISS' });
}

export function hasRows(): boolean {
  return rows.length > 0;
}

export function printTable(): void {
  const cols: (keyof Row)[] = ['benchmark', 'result', 'target', 'verdict'];
  const width = (c: keyof Row) => Math.max(c.length, ...rows.map((r) => [...r[c]].length));
  const w = Object.fromEntries(cols.map((c) => [c, width(c)])) as Record<keyof Row, number>;
  const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - [...s].length));
  const line = (r: Row) => cols.map((c) => pad(r[c], w[c])).join('  ').trimEnd();
  console.log(line({ benchmark: 'benchmark', result: 'result', target: 'target', verdict: 'verdict' }));
  console.log(cols.map((c) => '-'.repeat(w[c])).join('  '));
  for (const r of rows) console.log(line(r));
  if (notes.length) {
    console.log('\nnotes:');
    for (const n of notes) console.log(`  - ${n}`);
  }
}

export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

export function fmtMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const gbps = (bytes: number, ms: number): number => bytes / (ms / 1000) / 1e9;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
