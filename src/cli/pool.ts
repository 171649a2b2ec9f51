import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  DEFAULT_LOG_LEN,
  FamfsError,
  Pool,
  createEmulatedDevice,
  existingSystemUuid,
  fsck,
  isFamfsVersion,
  killFilesystem,
  mkfs,
  openDaxDevice,
  stripsLength,
} from '../famfs/index.js';
import type { FamfsNode, FileNode, InterleaveParams, Reclaim } from '../famfs/index.js';
import { UsageError, optionalString, parseInteger, parseMode, parseSize } from './args.js';
import { fields, formatBytes, printJson, progressReporter, table } from './output.js';
import { POOL_ERRORS_USAGE, poolClearErrors, poolInjectError, poolListErrors } from './poolErrors.js';

export const POOL_USAGE = `famfs-csi pool <command> <device> [options]

A <device> is a devdax character device (/dev/daxX.Y) or a regular file used as an emulated
dax device (e.g. /dev/shm/pool0.dax).

Commands:
  mkfs <device> [--size SIZE] [--log-length SIZE] [--famfs-version 48|47] [--force] [--kill]
      Format a pool. --size creates or grows an emulated device file. --log-length defaults
      to 64M (a power of two, at least 8M). --kill only invalidates an existing superblock.
  fsck <device> [--reclaim never|safe]
      Check superblock, log and allocations; exit status 1 on any error.
  ls <device> [PATH]
      Pool summary and the files and directories under PATH (default: all).
  mkdir <device> PATH [-p] [--mode 0755] [--uid N] [--gid N]
  creat <device> PATH --size SIZE [--mode 0644] [--uid N] [--gid N]
        [--nstrips N --chunk-size SIZE [--nbuckets N]] [--relax-buckets]
      Allocate (contiguous, or striped with --nstrips), zero-fill and log a file.
  rm <device> PATH
      Append a delete tombstone for PATH (a file, or a directory and everything under it).

${POOL_ERRORS_USAGE}
Common options:
  --json            machine-readable output
  --reclaim MODE    never | safe (default: safe for emulated devices, never for devdax)
  --take-over       make this host the pool's master before writing
`;

const COMMON = {
  json: { type: 'boolean' },
  reclaim: { type: 'string' },
  'take-over': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseReclaim(v: string | undefined): Reclaim | undefined {
  if (v === undefined) return undefined;
  if (v !== 'never' && v !== 'safe') throw new UsageError(`--reclaim: "${v}" must be never or safe`);
  return v;
}

function deviceArg(positionals: string[], command: string): string {
  const device = positionals[0];
  if (!device) throw new UsageError(`pool ${command}: missing <device>`);
  return device;
}

function pathArg(positionals: string[], command: string): string {
  const p = positionals[1];
  if (p === undefined) throw new UsageError(`pool ${command}: missing PATH`);
  return p.replace(/^\/+/, '');
}

export async function poolCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'mkfs':
      return poolMkfs(rest);
    case 'fsck':
      return poolFsck(rest);
    case 'ls':
      return poolLs(rest);
    case 'mkdir':
      return poolMkdir(rest);
    case 'creat':
    case 'create':
      return poolCreat(rest);
    case 'rm':
      return poolRm(rest);
    case 'inject-error':
      return poolInjectError(rest);
    case 'clear-errors':
      return poolClearErrors(rest);
    case 'errors':
      return poolListErrors(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(POOL_USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown pool command "${command}"\n\n${POOL_USAGE}`);
  }
}

async function poolMkfs(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, size: { type: 'string' }, 'log-length': { type: 'string' }, 'famfs-version': { type: 'string' }, force: { type: 'boolean', short: 'f' }, kill: { type: 'boolean', short: 'k' } },
  });
  const path = deviceArg(positionals, 'mkfs');
  const size = values.size === undefined ? undefined : parseSize('--size', values.size);
  const logLength = values['log-length'] === undefined ? DEFAULT_LOG_LEN : parseSize('--log-length', values['log-length']);
  const version = values['famfs-version'] === undefined ? 48 : parseInteger('--famfs-version', values['famfs-version'], 47, 48);
  if (!isFamfsVersion(version)) throw new UsageError(`--famfs-version: ${version} must be 48 or 47`);
  if (size !== undefined) createEmulatedDevice(path, size);
  else if (!existsSync(path)) throw new UsageError(`${path} does not exist; give --size to create an emulated dax device there`);
  const dev = openDaxDevice(path);
  try {
    if (values.kill) {
      if (!values.force) throw new UsageError('--kill requires --force');
      killFilesystem(dev);
      if (!values.json) process.stdout.write(`killed the famfs superblock on ${path}\n`);
      else printJson({ device: path, killed: true });
      return 0;
    }
    const progress = values.json ? undefined : progressReporter(`zeroing the ${formatBytes(logLength)} log`);
    const result = await mkfs(dev, { logLength, version, force: values.force ?? false, progress });
    progress?.end();
    if (values.json) printJson({ device: path, kind: dev.kind, ...result });
    else {
      process.stdout.write(
        fields([
          ['device', `${path} (${dev.kind})`],
          ['size', `${formatBytes(result.deviceSize)} (${result.deviceSize} bytes)`],
          ['famfs version', `${result.version} (OMF ${result.version === 48 ? '2.2' : '2.1'})`],
          ['log', `${formatBytes(result.logLength)}, ${Math.floor((result.logLength - 48) / 544)} entries`],
          ['file system uuid', result.uuid],
          ['device uuid', result.devUuid],
          ['master (system uuid)', result.systemUuid],
        ]) + '\n',
      );
    }
    return 0;
  } finally {
    dev.close();
  }
}

async function poolFsck(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON });
  const dev = openDaxDevice(deviceArg(positionals, 'fsck'), { writable: false });
  try {
    const report = fsck(dev, { reclaim: parseReclaim(values.reclaim), progress: replayProgress(values.json) });
    if (values.json) printJson(report);
    else {
      const s = report.summary;
      if (s) {
        process.stdout.write(
          fields([
            ['device', `${report.device} (${formatBytes(s.deviceSize)})`],
            ['famfs version', `${s.version} (OMF ${s.omf})`],
            ['uuid', s.uuid],
            ['master', s.master],
            ['log entries', `${s.logEntriesUsed} used of ${s.logEntriesTotal}`],
            ['files', s.files],
            ['directories', s.directories],
            ['tombstones', s.tombstones],
            ['allocation collisions', s.collisions],
            ['used', formatBytes(s.usedBytes)],
            ['free', formatBytes(s.freeBytes)],
            ['largest free run', formatBytes(s.largestFreeRun)],
          ]) + '\n',
        );
      }
      for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
      for (const e of report.errors) process.stdout.write(`error: ${e}\n`);
      process.stdout.write(report.ok ? 'fsck: clean\n' : `fsck: ${report.errors.length} error(s)\n`);
    }
    return report.ok ? 0 : 1;
  } finally {
    dev.close();
  }
}

/** Replay progress goes to stderr for logs big enough to take noticeable time. */
function replayProgress(json: boolean | undefined): ((done: number, total: number) => void) | undefined {
  if (json) return undefined;
  let reporter: ReturnType<typeof progressReporter> | undefined;
  return (done, total) => {
    if (total < 100_000) return;
    reporter ??= progressReporter('replaying the log');
    reporter(done, total);
    if (done === total) reporter.end();
  };
}

function openForRead(path: string, reclaim: Reclaim | undefined, json: boolean | undefined): Pool {
  return Pool.open(path, { writable: false, reclaim, systemUuid: existingSystemUuid(), replayProgress: replayProgress(json) });
}

function openForWrite(path: string, values: { reclaim?: string; 'take-over'?: boolean; json?: boolean }, relaxBuckets = false): Pool {
  return Pool.open(path, { reclaim: parseReclaim(values.reclaim), takeOver: values['take-over'] ?? false, allocator: { relaxBucketMinimum: relaxBuckets }, replayProgress: replayProgress(values.json) });
}

function describeFmap(f: FileNode): string {
  if (f.fmap.kind === 'simple') return f.fmap.extents.map((e) => `[${e.offset}, +${formatBytes(e.length)}]`).join(' ');
  const ie = f.fmap.extents[0]!;
  return `${ie.strips.length} strips × ${formatBytes(ie.strips[0]!.length)}, chunk ${formatBytes(ie.chunkSize)} (${formatBytes(stripsLength(ie))})`;
}

function nodeJson(n: FamfsNode): Record<string, unknown> {
  const base = { path: n.relpath, type: n.kind === 'file' ? 'file' : 'directory', mode: '0' + n.mode.toString(8), uid: n.uid, gid: n.gid, logIndex: n.index };
  return n.kind === 'file' ? { ...base, size: n.size, fmap: n.fmap } : base;
}

async function poolLs(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON });
  const pool = openForRead(deviceArg(positionals, 'ls'), parseReclaim(values.reclaim), values.json);
  try {
    const under = (positionals[1] ?? '').replace(/^\/+|\/+$/g, '');
    const start = pool.lookup(under);
    if (!start) throw new FamfsError('NOT_FOUND', `"${under}" does not exist in the pool`);
    const nodes: FamfsNode[] = start.kind === 'file' ? [start] : [...pool.namespace.walk()].filter((n) => under === '' || n.relpath.startsWith(under + '/'));
    const stats = pool.stats();
    if (values.json) {
      printJson({ pool: stats, entries: nodes.map(nodeJson), problems: pool.replay.problems });
      return 0;
    }
    process.stdout.write(
      fields([
        ['device', `${stats.device} (${stats.kind}, ${formatBytes(stats.deviceSize)})`],
        ['famfs version', `${stats.version} (OMF ${stats.omf})`],
        ['uuid', stats.uuid],
        ['master', `${stats.master}${stats.isMaster ? ' (this host)' : ''}`],
        ['reclaim', stats.reclaim],
        ['space', `${formatBytes(stats.usedBytes)} used, ${formatBytes(stats.freeBytes)} free, largest free run ${formatBytes(stats.largestFreeRun)}`],
        ['log entries', `${stats.logEntriesUsed} used, ${stats.logEntriesFree} free of ${stats.logEntriesTotal}`],
        ['files / directories / tombstones', `${stats.files} / ${stats.directories} / ${stats.tombstones}`],
      ]) + '\n\n',
    );
    if (nodes.length === 0) process.stdout.write('(no files)\n');
    else {
      const rows = nodes.map((n) => [n.kind === 'dir' ? `${n.relpath}/` : n.relpath, n.kind === 'file' ? formatBytes(n.size) : '-', '0' + n.mode.toString(8), `${n.uid}:${n.gid}`, n.kind === 'file' ? describeFmap(n) : '']);
      process.stdout.write(table(['PATH', 'SIZE', 'MODE', 'OWNER', 'EXTENTS'], rows) + '\n');
    }
    for (const p of pool.replay.problems) process.stdout.write(`${p.severity}: log entry ${p.index}: ${p.reason}\n`);
    return 0;
  } finally {
    pool.close();
  }
}

function ownership(values: { mode?: string; uid?: string; gid?: string }) {
  return {
    mode: values.mode === undefined ? undefined : parseMode('--mode', values.mode),
    uid: values.uid === undefined ? undefined : parseInteger('--uid', values.uid, 0, 0xfffffffe),
    gid: values.gid === undefined ? undefined : parseInteger('--gid', values.gid, 0, 0xfffffffe),
  };
}

const OWNERSHIP = { mode: { type: 'string', short: 'm' }, uid: { type: 'string' }, gid: { type: 'string' } } as const;

async function poolMkdir(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, ...OWNERSHIP, parents: { type: 'boolean', short: 'p' } } });
  const relpath = pathArg(positionals, 'mkdir');
  const pool = openForWrite(deviceArg(positionals, 'mkdir'), values);
  try {
    const dir = await pool.mkdir(relpath, { ...ownership(values), parents: values.parents ?? false });
    if (values.json) printJson(nodeJson(dir));
    else process.stdout.write(`${dir.relpath}/\n`);
    return 0;
  } finally {
    pool.close();
  }
}

async function poolCreat(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, ...OWNERSHIP, size: { type: 'string', short: 's' }, nstrips: { type: 'string', short: 'N' }, 'chunk-size': { type: 'string', short: 'C' }, nbuckets: { type: 'string', short: 'B' }, 'relax-buckets': { type: 'boolean' } },
  });
  const relpath = pathArg(positionals, 'creat');
  if (values.size === undefined) throw new UsageError('pool creat: --size is required (famfs files are pre-allocated)');
  const size = parseSize('--size', values.size);
  let interleave: InterleaveParams | undefined;
  if (values.nstrips !== undefined || values['chunk-size'] !== undefined || values.nbuckets !== undefined) {
    const nstrips = parseInteger('--nstrips', optionalString(values.nstrips) ?? '', 1, 16);
    interleave = {
      nstrips,
      chunkSize: values['chunk-size'] === undefined ? 2 * 1024 * 1024 : parseSize('--chunk-size', values['chunk-size']),
      nbuckets: values.nbuckets === undefined ? nstrips : parseInteger('--nbuckets', values.nbuckets, 1, 64),
    };
  }
  const pool = openForWrite(deviceArg(positionals, 'creat'), values, values['relax-buckets'] ?? false);
  try {
    const progress = values.json || size < 256 * 1024 * 1024 ? undefined : progressReporter(`zero-filling ${relpath}`);
    const file = await pool.createFile(relpath, size, { ...ownership(values), interleave, progress });
    progress?.end();
    if (values.json) printJson(nodeJson(file));
    else process.stdout.write(`${file.relpath}  ${formatBytes(file.size)}  ${describeFmap(file)}\n`);
    return 0;
  } finally {
    pool.close();
  }
}

async function poolRm(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON });
  const relpath = pathArg(positionals, 'rm');
  const pool = openForWrite(deviceArg(positionals, 'rm'), values);
  try {
    await pool.remove(relpath);
    if (values.json) printJson({ removed: relpath });
    else process.stdout.write(`removed ${relpath} (tombstone appended; reclaim: ${pool.reclaim})\n`);
    return 0;
  } finally {
    pool.close();
  }
}
