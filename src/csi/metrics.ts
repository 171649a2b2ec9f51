import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one famfs-csi plugin (controller or node), on a registry of its own
 * (never prom-client's global one), so several plugins in one process — as in the tests — do
 * not collide.
 *
 * Pool and health gauges are not pushed: they are read from sources at scrape time, and every
 * scrape replaces the previous label sets, so pools (or errors) that vanished disappear. A source
 * that throws (or returns garbage) leaves its families empty for that scrape and is counted in
 * famfs_csi_metrics_collect_errors_total{source}; it never fails the scrape.
 */

export interface PoolMetrics {
  pool: string;
  sizeBytes: number;
  freeBytes: number;
  largestFreeBytes: number;
  volumes: number;
  logEntriesUsed: number;
  logEntriesFree: number;
}

export interface ErrorCount {
  pool: string;
  kind: string;
  source: string;
  count: number;
}

export interface AbnormalCount {
  pool: string;
  count: number;
}

export interface HealthMetrics {
  errors: ErrorCount[];
  abnormal: AbnormalCount[];
}

/** Duration buckets (seconds) from 100 µs to 60 s: fast metadata RPCs up to zero-filling a big volume. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60,
];

export const METRICS_PREFIX = 'famfs_csi_';

type PoolField = Exclude<keyof PoolMetrics, 'pool'>;

const POOL_GAUGES: readonly { name: string; help: string; field: PoolField }[] = [
  { name: 'pool_size_bytes', help: 'Data space of the pool in bytes.', field: 'sizeBytes' },
  { name: 'pool_free_bytes', help: 'Unallocated data space of the pool in bytes.', field: 'freeBytes' },
  { name: 'pool_largest_free_run_bytes', help: 'Largest contiguous free run of the pool in bytes (the largest volume that can still be created).', field: 'largestFreeBytes' },
  { name: 'pool_volumes', help: 'Volumes in the pool.', field: 'volumes' },
  { name: 'pool_log_entries_used', help: 'Metadata log entries used in the pool.', field: 'logEntriesUsed' },
  { name: 'pool_log_entries_free', help: 'Metadata log entries still free in the pool.', field: 'logEntriesFree' },
];

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isLabel = (v: unknown): v is string => typeof v === 'string';

/**
 * The result of one source call, shared by every family that reads it during one scrape:
 * prom-client runs all `collect` callbacks synchronously in one pass, so the cache is dropped
 * in a microtask and the next scrape calls the source again.
 */
class ScrapeSnapshot<T> {
  private cached: { value: T | undefined } | undefined;

  constructor(
    private readonly read: () => T | undefined,
    private readonly onError: () => void,
  ) {}

  get(): T | undefined {
    if (this.cached === undefined) {
      let value: T | undefined;
      try {
        value = this.read();
      } catch {
        value = undefined;
        this.onError();
      }
      this.cached = { value };
      queueMicrotask(() => (this.cached = undefined));
    }
    return this.cached.value;
  }
}

export class Metrics {
  readonly registry: Registry;

  private readonly rpcDuration: Histogram<'service' | 'method' | 'code'>;
  private readonly allocationDuration: Histogram<'pool'>;
  private readonly collectErrors: Counter<'source'>;
  private poolSource: (() => PoolMetrics[]) | undefined;
  private healthSource: (() => HealthMetrics) | undefined;
  private readonly pools: ScrapeSnapshot<PoolMetrics[]>;
  private readonly health: ScrapeSnapshot<HealthMetrics>;

  /** `labels` are added to every series (e.g. `{ node: 'worker-1' }`), as is `component`. */
  constructor(
    readonly component: 'controller' | 'node',
    labels: Record<string, string> = {},
  ) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ component, ...labels });
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
    const registers = [this.registry];

    this.pools = new ScrapeSnapshot(
      () => (this.poolSource ? validPools(this.poolSource(), () => this.collectErrors.inc({ source: 'pools' })) : []),
      () => this.collectErrors.inc({ source: 'pools' }),
    );
    this.health = new ScrapeSnapshot(
      () => (this.healthSource ? validHealth(this.healthSource(), () => this.collectErrors.inc({ source: 'health' })) : { errors: [], abnormal: [] }),
      () => this.collectErrors.inc({ source: 'health' }),
    );

    this.rpcDuration = new Histogram({
      name: `${METRICS_PREFIX}rpc_duration_seconds`,
      help: 'Duration of CSI RPCs in seconds, by service, method and gRPC status code.',
      labelNames: ['service', 'method', 'code'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    this.allocationDuration = new Histogram({
      name: `${METRICS_PREFIX}allocation_duration_seconds`,
      help: 'Duration of volume allocation (allocate, zero-fill and log) in seconds, by pool.',
      labelNames: ['pool'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });

    const pools = this.pools;
    for (const g of POOL_GAUGES) {
      new Gauge({
        name: `${METRICS_PREFIX}${g.name}`,
        help: g.help,
        labelNames: ['pool'],
        registers,
        collect() {
          this.reset();
          for (const p of pools.get() ?? []) this.set({ pool: p.pool }, p[g.field]);
        },
      });
    }

    const health = this.health;
    new Gauge({
      name: `${METRICS_PREFIX}memory_errors`,
      help: 'Memory errors present now, by pool, kind and source.',
      labelNames: ['pool', 'kind', 'source'],
      registers,
      collect() {
        this.reset();
        for (const e of health.get()?.errors ?? []) this.set({ pool: e.pool, kind: e.kind, source: e.source }, e.count);
      },
    });
    new Gauge({
      name: `${METRICS_PREFIX}volumes_abnormal`,
      help: 'Volumes whose health is abnormal, by pool.',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const a of health.get()?.abnormal ?? []) this.set({ pool: a.pool }, a.count);
      },
    });

    // Registered last: the collect callbacks above run before it is read, so a failure of this
    // scrape is already counted in it.
    this.collectErrors = new Counter({
      name: `${METRICS_PREFIX}metrics_collect_errors_total`,
      help: 'Metric sources that failed (threw or returned invalid data) at scrape time, by source.',
      labelNames: ['source'],
      registers,
    });
    this.collectErrors.inc({ source: 'pools' }, 0);
    this.collectErrors.inc({ source: 'health' }, 0);
  }

  observeRpc(service: string, method: string, code: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    this.rpcDuration.observe({ service, method, code }, Math.max(0, seconds));
  }

  /** Volume allocation latency (CreateVolume's allocate + zero + log). */
  observeAllocation(pool: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    this.allocationDuration.observe({ pool }, Math.max(0, seconds));
  }

  /** Called at scrape time; the returned pools replace the previous pool gauges (pools that vanished disappear). */
  setPoolSource(fn: () => PoolMetrics[]): void {
    this.poolSource = fn;
  }

  /** Called at scrape time; the returned errors and abnormal counts replace the previous ones. */
  setHealthSource(fn: () => HealthMetrics): void {
    this.healthSource = fn;
  }

  /** The exposition text (Prometheus text format). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content type of text(). */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The well-formed pools; one error is counted when any entry is not. */
function validPools(pools: unknown, onInvalid: () => void): PoolMetrics[] {
  if (!Array.isArray(pools)) throw new TypeError('pool source did not return an array');
  const ok = (pools as unknown[]).filter(
    (p): p is PoolMetrics => typeof p === 'object' && p !== null && isLabel((p as PoolMetrics).pool) && POOL_GAUGES.every((g) => isNumber((p as PoolMetrics)[g.field])),
  );
  if (ok.length !== pools.length) onInvalid();
  return ok;
}

/** The well-formed entries; one error is counted when any entry is not. */
function validHealth(h: unknown, onInvalid: () => void): HealthMetrics {
  if (typeof h !== 'object' || h === null) throw new TypeError('health source did not return an object');
  const { errors = [], abnormal = [] } = h as Partial<HealthMetrics>;
  if (!Array.isArray(errors) || !Array.isArray(abnormal)) throw new TypeError('health source returned a non-array');
  const okErrors = (errors as unknown[]).filter(
    (e): e is ErrorCount => typeof e === 'object' && e !== null && isLabel((e as ErrorCount).pool) && isLabel((e as ErrorCount).kind) && isLabel((e as ErrorCount).source) && isNumber((e as ErrorCount).count),
  );
  const okAbnormal = (abnormal as unknown[]).filter((a): a is AbnormalCount => typeof a === 'object' && a !== null && isLabel((a as AbnormalCount).pool) && isNumber((a as AbnormalCount).count));
  if (okErrors.length !== errors.length || okAbnormal.length !== abnormal.length) onInvalid();
  return { errors: okErrors, abnormal: okAbnormal };
}
