/** What every benchmark process shares: gc(), a clock, and orderly Ctrl-C handling. */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A real gc() when V8 allows exposing it at run time, so one run's garbage does not bill the next. */
export const gc: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
})();

export const now = (): number => performance.now();

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

let interrupted = false;

export function isInterrupted(): boolean {
  return interrupted;
}

export function checkInterrupted(): void {
  if (interrupted) throw new Interrupted();
}

/**
 * SIGINT/SIGTERM/SIGHUP: the first one asks the benchmark to stop at the next checkInterrupted()
 * (it cleans up and exits with 128+signal); a second one runs `force` and exits at once.
 */
export function handleInterrupts(messages: { first: string; again: string }, force: () => void = () => undefined): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const code = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1);
      if (interrupted) {
        process.stderr.write(`[bench] ${signal} again: ${messages.again}\n`);
        force();
        process.exit(code);
      }
      interrupted = true;
      process.exitCode = code;
      process.stderr.write(`[bench] ${signal}: ${messages.first}\n`);
    });
  }
}
