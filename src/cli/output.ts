/** Human and machine output for the CLI. */

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 || Number.isInteger(v) ? 0 : 1)} ${units[u]}`;
}

/** A plain aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  return cells.map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join('  ')).join('\n');
}

/** Two-column key/value listing. */
export function fields(pairs: [string, string | number | boolean][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v}`).join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Progress of long work on stderr: a rewritten line on a terminal, a line per 10% otherwise, so
 * logs stay readable.
 */
export function progressReporter(what: string): ((done: number, total: number) => void) & { end(): void } {
  const tty = process.stderr.isTTY;
  let lastStep = -1;
  let shown = false;
  const report = (done: number, total: number) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const step = Math.floor(pct / 10);
    if (tty) {
      process.stderr.write(`\r${what}: ${pct}% (${formatBytes(done)} of ${formatBytes(total)})`);
      shown = true;
    } else if (step !== lastStep) {
      lastStep = step;
      process.stderr.write(`${what}: ${pct}% (${formatBytes(done)} of ${formatBytes(total)})\n`);
    }
  };
  return Object.assign(report, {
    end() {
      if (tty && shown) process.stderr.write('\n');
    },
  });
}
