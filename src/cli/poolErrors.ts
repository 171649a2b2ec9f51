import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FamfsError, Pool, existingSystemUuid } from '../famfs/index.js';
import { deviceRangesOf } from '../famfs/health/damage.js';
import { describeRange, hex } from '../famfs/health/memoryError.js';
import type { ByteRange, MemoryErrorKind } from '../famfs/health/memoryError.js';
import { EMULATED_ERROR_KINDS, clearErrors, injectError, poisonListPath, readPoisonList } from '../famfs/health/poisonList.js';
import type { PoisonEntry } from '../famfs/health/poisonList.js';
import { loadConfigFile } from '../csi/config.js';
import { parseVolumeId, volumeDataPath } from '../csi/volumeId.js';
import { UsageError, parseSize } from './args.js';
import { printJson, table } from './output.js';

export const POOL_ERRORS_USAGE = `Memory errors of emulated pools (a poison list beside the device file, shared by every host):
  inject-error (<device> | --pool NAME) (--offset O --length L | --whole-device)
               [--kind poison|timeout|offline] [--volume VOLUME_ID | --file PATH]
      Record an error. Offsets are device bytes; with --volume or --file they are bytes of
      that file (an interleaved file gives one entry per strip piece). O and L take 4096,
      0x1000, 4K, 2M.
  clear-errors (<device> | --pool NAME) [--offset O --length L]
      Remove every error (or those overlapping the range).
  errors (<device> | --pool NAME)
      List the errors.
  --pool NAME looks the device up in the configuration (--config FILE or FAMFS_CSI_CONFIG).
`;

const OPTIONS = {
  pool: { type: 'string' },
  config: { type: 'string', short: 'c' },
  offset: { type: 'string' },
  length: { type: 'string' },
  'whole-device': { type: 'boolean' },
  kind: { type: 'string' },
  volume: { type: 'string' },
  file: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseOffset(option: string, value: string): number {
  if (/^0x[0-9a-f]+$/i.test(value)) {
    const n = Number(value);
    if (Number.isSafeInteger(n)) return n;
  }
  return parseSize(option, value);
}

/** The device a command names: a positional <device>, or --pool NAME from the configuration. */
function resolveDevice(command: string, positionals: string[], values: { pool?: string; config?: string }): { device: string; pool?: string } {
  if (positionals[0] !== undefined) {
    if (values.pool !== undefined) throw new UsageError(`pool ${command}: give either <device> or --pool, not both`);
    return { device: positionals[0] };
  }
  if (values.pool === undefined) throw new UsageError(`pool ${command}: missing <device> or --pool NAME`);
  const file = values.config ?? process.env.FAMFS_CSI_CONFIG;
  if (!file) throw new UsageError(`--pool: "${values.pool}" needs a configuration to look it up in (--config FILE or FAMFS_CSI_CONFIG)`);
  const config = loadConfigFile(file);
  const pool = config.pools.find((p) => p.name === values.pool);
  if (!pool) throw new UsageError(`--pool: "${values.pool}" is not in ${file} (pools: ${config.pools.map((p) => p.name).join(', ') || 'none'})`);
  return { device: pool.device, pool: pool.name };
}

function entryRows(entries: PoisonEntry[]): string[][] {
  return entries.map((e) => [e.kind, e.range ? hex(e.range.offset) : 'whole device', e.range ? String(e.range.length) : '-', e.firstSeen, e.by]);
}

function printEntries(entries: PoisonEntry[], json: boolean | undefined, device: string): void {
  if (json) printJson({ device, list: poisonListPath(device), errors: entries });
  else if (entries.length === 0) process.stdout.write(`${device}: no memory errors\n`);
  else process.stdout.write(table(['KIND', 'OFFSET', 'LENGTH', 'FIRST SEEN', 'BY'], entryRows(entries)) + '\n');
}

/** Device ranges of file bytes [offset, offset+length) of a volume or famfs file. */
function fileRanges(device: string, pool: string | undefined, values: { volume?: string; file?: string }, offset: number, length: number): ByteRange[] {
  let relpath: string;
  if (values.volume !== undefined) {
    const ref = parseVolumeId(values.volume);
    if (!ref) throw new UsageError(`--volume: "${values.volume}" is not a famfs-csi volume id (<pool>:<32 hex digits>)`);
    if (pool !== undefined && ref.pool !== pool) throw new UsageError(`--volume: "${values.volume}" belongs to pool ${ref.pool}, not ${pool}`);
    relpath = volumeDataPath(ref);
  } else relpath = values.file!.replace(/^\/+/, '');
  const p = Pool.open(device, { writable: false, systemUuid: existingSystemUuid() });
  try {
    const node = p.lookup(relpath);
    if (node?.kind !== 'file') throw new FamfsError('NOT_FOUND', `${values.volume !== undefined ? `volume ${values.volume}` : relpath} is not a file in the pool on ${device}`);
    if (offset + length > node.size) throw new UsageError(`--offset/--length: ${offset}+${length} ends past the end of the file (${node.size} bytes)`);
    return deviceRangesOf(node.fmap, node.size, offset, length);
  } finally {
    p.close();
  }
}

/** Options a command does not use are refused rather than silently ignored. */
function refuse(command: string, values: Record<string, unknown>, names: string[]): void {
  for (const n of names) if (values[n] !== undefined) throw new UsageError(`pool ${command}: --${n} does not apply here`);
}

function checkInsideDevice(device: string, range: ByteRange): void {
  let st;
  try {
    st = statSync(device);
  } catch {
    return; // injectError reports a missing device
  }
  if (!st.isFile()) return; // injectError says it is not an emulated pool
  const size = st.size;
  if (range.offset + range.length > size) throw new UsageError(`--offset/--length: ${range.offset}+${range.length} ends past the end of ${device} (${size} bytes)`);
}

export async function poolInjectError(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help) {
    process.stdout.write(POOL_ERRORS_USAGE);
    return 0;
  }
  const { device, pool } = resolveDevice('inject-error', positionals, values);
  const kind = (values.kind ?? 'poison') as MemoryErrorKind;
  if (!EMULATED_ERROR_KINDS.includes(kind)) throw new UsageError(`--kind: "${values.kind}" must be one of ${EMULATED_ERROR_KINDS.join(', ')}`);
  const whole = values['whole-device'] ?? false;
  const ranged = values.offset !== undefined || values.length !== undefined;
  if (whole === ranged) throw new UsageError('inject-error: give either --offset O --length L or --whole-device');
  if (whole && (values.volume !== undefined || values.file !== undefined)) throw new UsageError('--whole-device cannot be combined with --volume or --file');
  if (values.volume !== undefined && values.file !== undefined) throw new UsageError('give --volume or --file, not both');
  let ranges: (ByteRange | null)[] = [null];
  if (!whole) {
    if (values.offset === undefined || values.length === undefined) throw new UsageError('inject-error: --offset and --length go together');
    const offset = parseOffset('--offset', values.offset);
    const length = parseOffset('--length', values.length);
    if (length === 0) throw new UsageError('--length: must be more than 0 bytes');
    if (values.volume !== undefined || values.file !== undefined) ranges = fileRanges(device, pool, values, offset, length);
    else {
      checkInsideDevice(device, { offset, length });
      ranges = [{ offset, length }];
    }
  }
  const entries = ranges.map((range) => injectError(device, { range, kind }));
  if (values.json) printJson({ device, list: poisonListPath(device), injected: entries });
  else for (const e of entries) process.stdout.write(`injected ${e.kind} on ${device} ${describeRange(e.range)} (first seen ${e.firstSeen})\n`);
  return 0;
}

export async function poolClearErrors(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help) {
    process.stdout.write(POOL_ERRORS_USAGE);
    return 0;
  }
  refuse('clear-errors', values, ['volume', 'file', 'kind', 'whole-device']);
  const { device } = resolveDevice('clear-errors', positionals, values);
  let range: ByteRange | undefined;
  if (values.offset !== undefined || values.length !== undefined) {
    if (values.offset === undefined || values.length === undefined) throw new UsageError('clear-errors: --offset and --length go together');
    range = { offset: parseOffset('--offset', values.offset), length: parseOffset('--length', values.length) };
    if (range.length === 0) throw new UsageError('--length: must be more than 0 bytes');
  }
  const removed = clearErrors(device, range);
  if (values.json) printJson({ device, cleared: removed });
  else process.stdout.write(`cleared ${removed.length} error(s) on ${device}\n`);
  return 0;
}

export async function poolListErrors(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help) {
    process.stdout.write(POOL_ERRORS_USAGE);
    return 0;
  }
  refuse('errors', values, ['volume', 'file', 'kind', 'whole-device', 'offset', 'length']);
  const { device } = resolveDevice('errors', positionals, values);
  printEntries(readPoisonList(device), values.json, device);
  return 0;
}
