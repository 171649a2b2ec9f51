import { spawnSync } from 'node:child_process';

/** Runs a command, returns its output; throws with the command line and stderr on failure. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], opts: { input?: string; timeoutMs?: number; allowFailure?: boolean; quiet?: boolean } = {}): RunResult {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd!, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  const result = { status: r.status ?? (r.error ? 127 : 1), stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
  if (result.status !== 0 && !opts.allowFailure) {
    throw new Error(`command failed (exit ${result.status}): ${argv.join(' ')}\n${result.stderr.trim()}${opts.quiet ? '' : `\n${result.stdout.trim().slice(-4000)}`}`);
  }
  return result;
}

/** The first of the commands that runs (`--version`-style probe), or undefined. */
export function available(argv: string[]): boolean {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
  return !r.error && r.status === 0;
}
