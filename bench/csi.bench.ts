/**
 * famfs-csi controller benchmark over the CSI socket (npm run bench:csi).
 *
 *   1. CreateVolume (2 MiB), 1,000 sequential calls, distinct names: p50 / p99     target p50 <= 3 ms
 *   2. 16 concurrent clients (16 grpc-js channels) creating 2,000 volumes: volumes/s, p50 / p99
 *   3. ListVolumes of 10,000 volumes in pages of 500: full walk and per page; each volume exactly once
 *   4. DeleteVolume of all of them (16 clients): deletes/s
 *
 * Any CSI controller can be measured:
 *
 *   node dist/bench/csi.bench.js --endpoint unix:///path/csi.sock [--parameters '{"k":"v"}'] [--capacity 2Mi]
 *
 * (or CSI_ENDPOINT=...) uses an already-running driver, with those StorageClass parameters and
 * capacity, and deletes every volume it created at the end. Without an endpoint it starts
 * famfs-csi's own controller in this process on an emulated pool: a sparse file in a scratch
 * directory under /dev/shm, removed at the end (also on error or Ctrl-C).
 *
 * It is a measurement, not a test: it exits 0 when a target is missed and prints MISS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { startControllerPlugin } from '../src/controller/plugin.js';
import type { RunningPlugin } from '../src/controller/plugin.js';
import { parseConfig } from '../src/csi/config.js';
import { parseEndpoint } from '../src/csi/endpoint.js';
import { createLogger } from '../src/csi/logger.js';
import { csiServices } from '../src/csi/proto.js';
import { ALLOC_UNIT, GiB, MiB, parseByteSize, roundUp } from '../src/famfs/index.js';
import { fmtInt, fmtMs, hasRows, mean, median, notes, percentile, printTable, progress, row } from './table.js';
import { Interrupted, checkInterrupted, gc, handleInterrupts, isInterrupted, now } from './runtime.js';

// ---------------------------------------------------------------------------------------------
// Sizes of the runs

const SEQUENTIAL = 1_000;
const WARMUP = 20;
const CLIENTS = 16;
const CONCURRENT = 2_000;
const LISTED = 10_000;
const PAGE = 500;
const WALKS = 3;
const CALL_TIMEOUT_MS = 60_000;
/** The in-process pool holds at least this many volumes (the brief's 13,000+, with room to spare). */
const POOL_VOLUMES = 13_500;
const POOL_MIN_SIZE = 28 * GiB;
const POOL_LOG = 64 * MiB;

const USAGE = `usage: node dist/bench/csi.bench.js [--endpoint unix:///path] [--parameters JSON] [--capacity BYTES]

  --endpoint ENDPOINT   an already-running CSI controller (env CSI_ENDPOINT); without it famfs-csi's
                        own controller runs in this process on a scratch pool under /dev/shm
  --parameters JSON     StorageClass parameters for CreateVolume, e.g. '{"pool":"pool0"}' (default {})
  --capacity BYTES      required_bytes of every volume, e.g. 2Mi or 2097152 (default 2Mi)
`;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  endpoint: string | undefined;
  parameters: Record<string, string>;
  capacity: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { endpoint: { type: 'string' }, parameters: { type: 'string' }, capacity: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  let parameters: Record<string, string> = {};
  if (values.parameters !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.parameters);
    } catch (e) {
      throw new Error(`--parameters: not JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
      throw new Error('--parameters: must be a JSON object of strings, e.g. \'{"pool":"pool0"}\'');
    }
    parameters = parsed as Record<string, string>;
  }
  const capacity = values.capacity === undefined ? 2 * MiB : parseByteSize(values.capacity);
  if (capacity === null || capacity <= 0) throw new Error(`--capacity: "${values.capacity}" is not a size in bytes (examples: 2Mi, 2097152)`);
  const endpoint = values.endpoint ?? (process.env.CSI_ENDPOINT || undefined);
  return { endpoint, parameters, capacity };
}

// ---------------------------------------------------------------------------------------------
// Scratch space (in-process mode), interruption and cleanup

let scratch: string | undefined;
let plugin: RunningPlugin | undefined;

function removeScratch(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

// Last resort on any exit; the orderly path stops the plugin first and removes the scratch itself.
process.on('exit', removeScratch);
handleInterrupts({ first: 'stopping after the calls in flight, then cleaning up (again to exit at once)', again: 'exiting without waiting for the cleanup' });

// ---------------------------------------------------------------------------------------------
// Helpers

const fmtRate = (n: number, ms: number, unit: string): string => `${fmtInt(Math.round(n / (ms / 1000)))} ${unit}/s`;

function fmtBytes(n: number): string {
  if (n % GiB === 0) return `${n / GiB} GiB`;
  if (n % MiB === 0) return `${n / MiB} MiB`;
  return `${fmtInt(n)} B`;
}

// ---------------------------------------------------------------------------------------------
// CSI client

type Client = grpc.Client;

/** A new channel (its own connection: a local subchannel pool is not shared with other clients). */
function newClient(service: 'Identity' | 'Controller', target: string): Client {
  const Service = csiServices()[service];
  return new Service(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function waitReady(client: Client, ms: number): Promise<void> {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + ms, (err) => (err ? reject(new Error(`cannot connect to ${client.getChannel().getTarget()}: ${err.message}`)) : resolve())));
}

function unary<Res>(client: Client, method: string, request: object): Promise<Res> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(client);
  return new Promise<Res>((resolve, reject) => {
    fn(request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

function describeError(e: unknown): string {
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err.code === 'number') return `${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`;
  return e instanceof Error ? e.message : String(e);
}

interface VolumeMsg {
  volume_id: string;
  capacity_bytes: string;
}
interface CreateVolumeResponse {
  volume: VolumeMsg | null;
}
interface ListVolumesResponse {
  entries: { volume: VolumeMsg | null }[];
  next_token: string;
}

// ---------------------------------------------------------------------------------------------
// The volumes this run created, so that every one of them is deleted at the end

/** Unique per run, so that names never collide with an earlier run's on an external driver. */
const runId = randomBytes(4).toString('hex');
const volumeName = (phase: string, i: number): string => `csi-bench-${runId}-${phase}-${i}`;

let opts: Options;
const VOLUME_CAPABILITIES = [{ mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } }];

/** name -> volume id of every volume created and not yet deleted. */
const live = new Map<string, string>();
const liveIds = new Set<string>();
/** Names whose CreateVolume failed in a way that may have created the volume nevertheless (e.g. a deadline). */
const uncertain = new Set<string>();
/** Status codes by which a driver says it did not create the volume. */
const DEFINITE_FAILURES = new Set<number>([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.OUT_OF_RANGE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ALREADY_EXISTS,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNIMPLEMENTED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
]);

function createRequest(name: string): object {
  return {
    name,
    capacity_range: { required_bytes: String(opts.capacity) },
    volume_capabilities: VOLUME_CAPABILITIES,
    parameters: opts.parameters,
  };
}

/** One CreateVolume; returns its latency in ms. */
async function createVolume(client: Client, name: string): Promise<number> {
  const t = now();
  let res: CreateVolumeResponse;
  try {
    res = await unary<CreateVolumeResponse>(client, 'CreateVolume', createRequest(name));
  } catch (e) {
    if (!DEFINITE_FAILURES.has((e as Partial<grpc.ServiceError>).code ?? -1)) uncertain.add(name);
    throw new Error(`CreateVolume ${name}: ${describeError(e)}`);
  }
  const dt = now() - t;
  const id = res.volume?.volume_id;
  if (!id) throw new Error(`CreateVolume ${name}: the response has no volume id`);
  if (liveIds.has(id)) throw new Error(`CreateVolume ${name}: volume id ${id} was already returned for another name`);
  const size = Number(res.volume!.capacity_bytes);
  if (size !== 0 && size < opts.capacity) throw new Error(`CreateVolume ${name}: capacity ${size} bytes is less than the ${opts.capacity} required`);
  live.set(name, id);
  liveIds.add(id);
  return dt;
}

/** One DeleteVolume; returns its latency in ms. */
async function deleteVolume(client: Client, name: string, id: string): Promise<number> {
  const t = now();
  try {
    await unary(client, 'DeleteVolume', { volume_id: id });
  } catch (e) {
    throw new Error(`DeleteVolume ${id} (${name}): ${describeError(e)}`);
  }
  const dt = now() - t;
  live.delete(name);
  liveIds.delete(id);
  return dt;
}

/**
 * Runs `task` over `items` with one worker per client, each taking the next item as soon as its
 * previous call returned. On the first failure (or an interruption) no further calls start; the
 * calls in flight finish before it throws, so every created volume is known.
 */
async function runWorkers<T>(clients: Client[], items: T[], task: (client: Client, item: T) => Promise<void>, options: { stopOnInterrupt?: boolean } = {}): Promise<void> {
  const stopOnInterrupt = options.stopOnInterrupt ?? true;
  let next = 0;
  let failure: unknown;
  await Promise.all(
    clients.map(async (client) => {
      while (failure === undefined && !(stopOnInterrupt && isInterrupted()) && next < items.length) {
        const item = items[next++]!;
        try {
          await task(client, item);
        } catch (e) {
          failure ??= e;
        }
      }
    }),
  );
  if (failure !== undefined) throw failure;
  if (stopOnInterrupt) checkInterrupted();
}

// ---------------------------------------------------------------------------------------------
// The benchmarks

async function benchSequential(client: Client): Promise<number[]> {
  progress(`1: ${WARMUP} warm-up + ${fmtInt(SEQUENTIAL)} sequential CreateVolume calls`);
  for (let i = 0; i < WARMUP; i++) {
    checkInterrupted();
    await createVolume(client, volumeName('w', i));
  }
  gc();
  const lat: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    checkInterrupted();
    lat.push(await createVolume(client, volumeName('s', i)));
  }
  return lat;
}

async function benchConcurrent(clients: Client[], phase: string, count: number): Promise<{ lat: number[]; ms: number }> {
  const names = Array.from({ length: count }, (_, i) => volumeName(phase, i));
  const lat: number[] = [];
  gc();
  const t = now();
  await runWorkers(clients, names, async (client, name) => {
    lat.push(await createVolume(client, name));
  });
  return { lat, ms: now() - t };
}

interface Walk {
  ms: number;
  pages: number[];
  seen: number;
  ours: number;
  foreign: number;
  duplicates: number;
  missing: number;
  oversized: number;
}

/** One ListVolumes walk in pages of PAGE, checked against the volumes this run holds. */
async function walk(client: Client): Promise<Walk> {
  const counts = new Map<string, number>();
  const pages: number[] = [];
  let oversized = 0;
  let token = '';
  const maxPages = Math.ceil(live.size / PAGE) * 4 + 1_000; // a token that never ends is a failure, not a hang
  const t0 = now();
  do {
    checkInterrupted();
    const t = now();
    let res: ListVolumesResponse;
    try {
      res = await unary<ListVolumesResponse>(client, 'ListVolumes', { max_entries: PAGE, starting_token: token });
    } catch (e) {
      throw new Error(`ListVolumes (page ${pages.length + 1}, starting_token ${JSON.stringify(token)}): ${describeError(e)}`);
    }
    pages.push(now() - t);
    const entries = res.entries ?? [];
    if (entries.length > PAGE) oversized++;
    for (const e of entries) {
      const id = e.volume?.volume_id ?? '';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    token = res.next_token ?? '';
    if (token !== '' && pages.length >= maxPages) throw new Error(`ListVolumes: still a next_token after ${pages.length} pages`);
  } while (token !== '');
  const ms = now() - t0;
  let ours = 0;
  let foreign = 0;
  let duplicates = 0;
  for (const [id, n] of counts) {
    if (n > 1) duplicates++;
    if (liveIds.has(id)) ours++;
    else foreign++;
  }
  return { ms, pages, seen: [...counts.values()].reduce((a, b) => a + b, 0), ours, foreign, duplicates, missing: liveIds.size - ours, oversized };
}

async function benchDelete(clients: Client[]): Promise<{ lat: number[]; ms: number; count: number }> {
  const items = [...live.entries()];
  const lat: number[] = [];
  gc();
  const t = now();
  await runWorkers(clients, items, async (client, [name, id]) => {
    lat.push(await deleteVolume(client, name, id));
  });
  return { lat, ms: now() - t, count: items.length };
}

/**
 * Deletes whatever this run still holds on the driver: the volumes created and not deleted, and
 * those whose CreateVolume failed (CreateVolume is idempotent: calling it again gives their id).
 */
async function deleteLeftovers(clients: Client[]): Promise<void> {
  if (live.size === 0 && uncertain.size === 0) return;
  progress(`cleanup: deleting ${fmtInt(live.size)} volumes${uncertain.size ? ` and ${uncertain.size} whose CreateVolume failed` : ''}`);
  const failures: string[] = [];
  const resolve = [...uncertain].filter((n) => !live.has(n));
  await runWorkers(
    clients,
    resolve,
    async (client, name) => {
      // createVolume puts the name back if the answer still leaves it open whether the volume exists.
      uncertain.delete(name);
      try {
        await createVolume(client, name);
      } catch (e) {
        failures.push((e as Error).message);
      }
    },
    { stopOnInterrupt: false },
  );
  await runWorkers(
    clients,
    [...live.entries()],
    async (client, [name, id]) => {
      try {
        await deleteVolume(client, name, id);
      } catch (e) {
        failures.push((e as Error).message);
      }
    },
    { stopOnInterrupt: false },
  );
  if (failures.length > 0) {
    process.stderr.write(`[bench] cleanup: ${failures.length} calls failed, e.g. ${failures[0]}\n`);
  }
  if (live.size > 0 || uncertain.size > 0) {
    const left: string[] = [];
    if (live.size > 0) left.push(`${live.size} volumes (${[...live.values()].slice(0, 5).join(', ')}${live.size > 5 ? ', …' : ''})`);
    if (uncertain.size > 0) left.push(`${uncertain.size} names that may exist (${[...uncertain].slice(0, 5).join(', ')}${uncertain.size > 5 ? ', …' : ''})`);
    process.stderr.write(`[bench] cleanup: left behind ${left.join(' and ')}\n`);
  }
}

// ---------------------------------------------------------------------------------------------

/** Starts famfs-csi's controller in this process on a sparse emulated pool under /dev/shm. */
async function startInProcess(): Promise<string> {
  scratch = mkdtempSync('/dev/shm/famfs-csi-bench-csi-');
  process.env.FAMFS_SYSTEM_UUID_FILE = join(scratch, 'system_uuid');
  const volume = roundUp(opts.capacity, ALLOC_UNIT);
  const size = Math.max(POOL_MIN_SIZE, roundUp(POOL_VOLUMES * volume + POOL_LOG + 2 * MiB, GiB));
  const config = parseConfig({ pools: [{ name: 'bench', device: join(scratch, 'bench.dax'), emulated: { size: `${size / GiB}Gi` }, logLength: `${POOL_LOG / MiB}Mi` }] });
  progress(`starting famfs-csi's controller in-process: ${size / GiB} GiB sparse pool, ${POOL_LOG / MiB} MiB log, in ${scratch}`);
  const endpoint = `unix://${join(scratch, 'csi.sock')}`;
  plugin = await startControllerPlugin({ config, endpoint, logger: createLogger({ silent: true }) });
  notes.push(
    `in-process: famfs-csi's controller (startControllerPlugin, silent logger) on one emulated pool "bench" of ${size / GiB} GiB (a sparse file on /dev/shm), ${POOL_LOG / MiB} MiB log. ` +
      'The clients and the controller share this process and its one JavaScript thread, so the latencies include the client side of grpc-js; point --endpoint at a separate `famfs-csi controller` to take it out.',
  );
  return endpoint;
}

async function main(): Promise<void> {
  const started = now();
  const loadBefore = loadavg()[0]!;
  opts = parseOptions(process.argv.slice(2));
  const external = opts.endpoint !== undefined;
  const endpoint = external ? opts.endpoint! : await startInProcess();
  const { target } = parseEndpoint(endpoint);

  const identity = newClient('Identity', target);
  const controller = newClient('Controller', target);
  const workers: Client[] = [];
  try {
    await waitReady(identity, 10_000);
    const info = await unary<{ name: string; vendor_version: string }>(identity, 'GetPluginInfo', {});
    const probe = await unary<{ ready: { value: boolean } | null }>(identity, 'Probe', {}).catch((e: unknown) => {
      throw new Error(`Probe: ${describeError(e)}`);
    });
    if (probe.ready && probe.ready.value === false) throw new Error(`${info.name} ${info.vendor_version} at ${target} is not ready (Probe)`);
    notes.push(`endpoint ${target} (${external ? 'an already-running driver' : 'in-process'}); driver ${info.name} ${info.vendor_version} (GetPluginInfo).`);
    notes.push(`every CreateVolume: required_bytes ${fmtInt(opts.capacity)} (${fmtBytes(opts.capacity)}), parameters ${JSON.stringify(opts.parameters)}, capabilities mount + MULTI_NODE_MULTI_WRITER; names csi-bench-${runId}-<phase>-<n>, all distinct.`);
    progress(`driver ${info.name} ${info.vendor_version} at ${target}`);
    await waitReady(controller, 10_000);

    // 1. sequential
    const seq = await benchSequential(controller);
    const p50 = median(seq);
    row(`1. CreateVolume ${fmtBytes(opts.capacity)}, sequential, 1 client: p50 of ${fmtInt(seq.length)}`, fmtMs(p50), '≤ 3 ms', p50 <= 3);
    row('   p99', fmtMs(percentile(seq, 99)));
    row('   mean (min … max)', `${fmtMs(mean(seq))} (${fmtMs(Math.min(...seq))} … ${fmtMs(Math.max(...seq))})`);
    notes.push(`1.: after ${WARMUP} untimed warm-up calls on the same channel; latency is client-side, from the call to its callback.`);

    // 2. concurrent
    for (let i = 0; i < CLIENTS; i++) workers.push(newClient('Controller', target));
    await Promise.all(workers.map((c) => waitReady(c, 10_000)));
    progress(`2: ${CLIENTS} clients creating ${fmtInt(CONCURRENT)} volumes`);
    const conc = await benchConcurrent(workers, 'c', CONCURRENT);
    row(`2. CreateVolume, ${CLIENTS} concurrent clients, ${fmtInt(CONCURRENT)} volumes`, fmtRate(CONCURRENT, conc.ms, 'volumes'));
    row('   p50 latency per call', fmtMs(median(conc.lat)));
    row('   p99 latency per call', fmtMs(percentile(conc.lat, 99)));
    row('   wall time', fmtMs(conc.ms));
    notes.push(`2.: ${CLIENTS} grpc-js client channels, each with its own connection (grpc.use_local_subchannel_pool), each issuing its next call as soon as the previous one returns.`);

    // fill up to LISTED volumes
    const fill = LISTED - live.size;
    if (fill > 0) {
      progress(`3: creating ${fmtInt(fill)} more volumes (${CLIENTS} clients) for ${fmtInt(LISTED)} in all`);
      const f = await benchConcurrent(workers, 'f', fill);
      row(`   (fill to ${fmtInt(LISTED)}: ${fmtInt(fill)} more, ${CLIENTS} clients)`, `${fmtRate(fill, f.ms, 'volumes')}, p50 ${fmtMs(median(f.lat))}, p99 ${fmtMs(percentile(f.lat, 99))}`);
    }

    // 3. list
    progress(`3: ${WALKS} ListVolumes walks of ${fmtInt(live.size)} volumes, pages of ${PAGE}`);
    const walks: Walk[] = [];
    gc();
    for (let i = 0; i < WALKS; i++) walks.push(await walk(controller));
    const totals = walks.map((w) => w.ms);
    const pageLat = walks.flatMap((w) => w.pages);
    const w0 = walks[0]!;
    row(`3. ListVolumes, ${fmtInt(live.size)} volumes, pages of ${PAGE}: full walk (median of ${WALKS})`, `${fmtMs(median(totals))} (${fmtMs(Math.min(...totals))} … ${fmtMs(Math.max(...totals))})`);
    row(`   per page p50 (${pageLat.length} pages)`, fmtMs(median(pageLat)));
    row('   per page p99', fmtMs(percentile(pageLat, 99)));
    const exact = walks.every((w) => w.missing === 0 && w.duplicates === 0 && w.oversized === 0 && w.ours === liveIds.size && w.seen === w.ours + w.foreign);
    const bad = walks.find((w) => !(w.missing === 0 && w.duplicates === 0 && w.oversized === 0)) ?? w0;
    row(
      '   walk returns each volume exactly once',
      exact ? `${fmtInt(w0.ours)}/${fmtInt(liveIds.size)} once, in every walk` : `${fmtInt(bad.ours)}/${fmtInt(liveIds.size)}: ${bad.missing} missing, ${bad.duplicates} duplicated, ${bad.oversized} pages > ${PAGE}`,
      'each once',
      exact,
    );
    notes.push(
      `3.: ${w0.pages.length} pages per walk (max_entries ${PAGE}, next_token until empty); ${w0.foreign === 0 ? 'the driver listed no other volumes' : `the driver also listed ${fmtInt(w0.foreign)} volumes this run did not create (not counted as ours)`}. ` +
        `The ${fmtInt(LISTED)} volumes are the ${fmtInt(WARMUP + SEQUENTIAL + CONCURRENT)} created by 1. and 2. plus ${fmtInt(Math.max(0, fill))} more.`,
    );

    // 4. delete
    progress(`4: deleting ${fmtInt(live.size)} volumes with ${CLIENTS} clients`);
    const del = await benchDelete(workers);
    row(`4. DeleteVolume of all ${fmtInt(del.count)}, ${CLIENTS} concurrent clients`, fmtRate(del.count, del.ms, 'deletes'));
    row('   p50 / p99 latency per call', `${fmtMs(median(del.lat))} / ${fmtMs(percentile(del.lat, 99))}`);
    const after = await walk(controller);
    row('   ListVolumes afterwards: volumes of this run left', fmtInt(after.seen - after.foreign), '0', after.seen - after.foreign === 0);

    notes.push(
      `node ${process.version}, ${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); 1-min load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end; ` +
        `total bench time ${((now() - started) / 1000).toFixed(1)} s.`,
    );
  } finally {
    if (external) {
      const cleaners = workers.length > 0 ? workers : [controller];
      await deleteLeftovers(cleaners);
    }
    for (const c of [identity, controller, ...workers]) c.close();
    if (plugin) {
      await plugin.stop(2_000);
      plugin = undefined;
    }
    removeScratch();
  }
  printTable();
}

try {
  await main();
} catch (e) {
  if (e instanceof Interrupted) {
    console.error('benchmark interrupted; cleaned up');
  } else {
    if (hasRows()) printTable();
    console.error('benchmark failed:', e instanceof Error ? e.message : e);
    process.exitCode = 1;
  }
} finally {
  removeScratch();
}
