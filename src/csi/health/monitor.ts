import { sortErrors } from '../../famfs/health/memoryError.js';
import type { ErrorSource, MemoryError } from '../../famfs/health/memoryError.js';
import type { Logger } from '../logger.js';

/** The error sources of one pool's device. */
export interface PoolSources {
  pool: string;
  device: string;
  sources: ErrorSource[];
}

export interface HealthMonitorOptions {
  pools: PoolSources[];
  logger: Logger;
  /** Stamped on errors only this host sees (every source but the shared emulated list). */
  node: string;
  /** Poll period (default 2 s). */
  intervalMs?: number;
}

function signature(errors: MemoryError[]): string {
  return JSON.stringify(errors);
}

/**
 * Polls every pool's error sources on a timer and keeps the errors present now, per pool.
 * Listeners hear about a pool whose set of errors changed (not about every poll).
 */
export class HealthMonitor {
  private readonly current = new Map<string, MemoryError[]>();
  private readonly signatures = new Map<string, string>();
  private readonly listeners: ((pool: string, errors: MemoryError[]) => void)[] = [];
  /** Each source's last answer: a source that fails once keeps it (a failure is not a recovery). */
  private readonly lastAnswer = new Map<ErrorSource, MemoryError[]>();
  private timer: NodeJS.Timeout | undefined;
  readonly intervalMs: number;

  constructor(private readonly opts: HealthMonitorOptions) {
    this.intervalMs = opts.intervalMs ?? 2_000;
  }

  get pools(): string[] {
    return this.opts.pools.map((p) => p.pool);
  }

  errors(pool: string): MemoryError[] {
    return this.current.get(pool) ?? [];
  }

  all(): Record<string, MemoryError[]> {
    return Object.fromEntries(this.opts.pools.map((p) => [p.pool, this.errors(p.pool)]));
  }

  onChange(fn: (pool: string, errors: MemoryError[]) => void): void {
    this.listeners.push(fn);
  }

  /** Polls every source once; returns the pools whose errors changed. */
  poll(): string[] {
    const changed: string[] = [];
    for (const p of this.opts.pools) {
      const found: MemoryError[] = [];
      for (const s of p.sources) {
        let answer: MemoryError[];
        try {
          answer = s.poll().map((e) => (s.name === 'emulated' ? e : { ...e, node: this.opts.node }));
          this.lastAnswer.set(s, answer);
        } catch (err) {
          this.opts.logger.warn('memory error source failed; keeping its last answer', { pool: p.pool, source: s.name, error: (err as Error).message });
          answer = this.lastAnswer.get(s) ?? [];
        }
        found.push(...answer);
      }
      const errors = sortErrors(found);
      const sig = signature(errors);
      if (sig === this.signatures.get(p.pool)) continue;
      const before = this.errors(p.pool).length;
      this.signatures.set(p.pool, sig);
      this.current.set(p.pool, errors);
      changed.push(p.pool);
      if (errors.length > 0) this.opts.logger.error('memory errors on pool', { pool: p.pool, device: p.device, errors });
      else if (before > 0) this.opts.logger.info('memory errors on pool cleared', { pool: p.pool, device: p.device });
      for (const fn of this.listeners) fn(p.pool, errors);
    }
    return changed;
  }

  start(): void {
    this.poll();
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const p of this.opts.pools) for (const s of p.sources) s.close?.();
  }
}
