import { LOG_OFFSET, logCapacity } from './constants.js';
import type { DaxDevice } from './dax/device.js';
import { invalidateCache } from './dax/native.js';
import { SUPERBLOCK_STRUCT_SIZE } from './superblock.js';
import { readSuperblock } from './readSuperblock.js';
import { decodeLogHeader, logHeaderProblem } from './logHeader.js';
import { Replayer } from './replay.js';
import type { Reclaim, ReplayProblem } from './replay.js';

export interface FsckSummary {
  version: number;
  omf: string;
  uuid: string;
  master: string;
  deviceSize: number;
  superblockDeviceSize: number;
  logLength: number;
  logEntriesUsed: number;
  logEntriesTotal: number;
  files: number;
  directories: number;
  tombstones: number;
  collisions: number;
  usedBytes: number;
  freeBytes: number;
  largestFreeRun: number;
}

export interface FsckReport {
  device: string;
  ok: boolean;
  errors: string[];
  warnings: string[];
  summary: FsckSummary | null;
}

/**
 * Checks a pool without changing it: superblock, log header, every entry (integrity, paths,
 * fmaps, extents inside the device), allocation collisions. `ok` is false on any error.
 */
export function fsck(dev: DaxDevice, opts: { reclaim?: Reclaim; progress?: (done: number, total: number) => void } = {}): FsckReport {
  const report: FsckReport = { device: dev.path, ok: false, errors: [], warnings: [], summary: null };
  if (dev.size < SUPERBLOCK_STRUCT_SIZE) {
    report.errors.push(`device is ${dev.size} bytes, too small to hold a superblock`);
    return report;
  }
  const verdict = readSuperblock(dev);
  if (!verdict.ok) {
    report.errors.push(`superblock: ${verdict.reason}`);
    return report;
  }
  const sb = verdict.superblock;
  if (sb.deviceSize > dev.size) report.errors.push(`superblock device size ${sb.deviceSize} exceeds the device's ${dev.size} bytes`);
  else if (sb.deviceSize < dev.size) report.warnings.push(`superblock device size ${sb.deviceSize} is smaller than the device's ${dev.size} bytes; the rest is unused`);
  if (LOG_OFFSET + sb.logLen > dev.size) {
    report.errors.push(`log [${LOG_OFFSET}, ${LOG_OFFSET + sb.logLen}) extends beyond the ${dev.size}-byte device`);
    return report;
  }
  const log = dev.map(LOG_OFFSET, sb.logLen);
  invalidateCache(log);
  const headerProblem = logHeaderProblem(log, sb.logLen);
  if (headerProblem) {
    report.errors.push(`log header: ${headerProblem}`);
    return report;
  }
  const header = decodeLogHeader(log);
  if (header.nextSeqnum !== header.nextIndex) report.warnings.push(`log header next_seqnum ${header.nextSeqnum} differs from next_index ${header.nextIndex} (an append was cut short; the next append repairs it)`);
  const replayer = new Replayer({
    version: sb.version,
    allocUnit: sb.allocUnit,
    deviceSize: Math.min(sb.deviceSize, dev.size),
    reservedBytes: LOG_OFFSET + sb.logLen,
    reclaim: opts.reclaim ?? (dev.kind === 'emulated' ? 'safe' : 'never'),
  });
  replayer.apply(log, header.nextIndex, opts.progress);
  for (const p of replayer.problems) (p.severity === 'warning' ? report.warnings : report.errors).push(describe(p));
  const space = replayer.space;
  report.summary = {
    version: sb.version,
    omf: `${sb.omfMajor}.${sb.omfMinor}`,
    uuid: sb.uuid,
    master: sb.systemUuid,
    deviceSize: dev.size,
    superblockDeviceSize: sb.deviceSize,
    logLength: sb.logLen,
    logEntriesUsed: header.nextIndex,
    logEntriesTotal: logCapacity(sb.logLen),
    files: replayer.namespace.fileCount,
    directories: replayer.namespace.dirCount,
    tombstones: replayer.tombstones.length,
    collisions: replayer.collisions,
    usedBytes: space.usedBytes - LOG_OFFSET - sb.logLen,
    freeBytes: space.freeBytes,
    largestFreeRun: space.largestFreeRun(),
  };
  report.ok = report.errors.length === 0;
  return report;
}

function describe(p: ReplayProblem): string {
  const prefix = p.severity === 'fatal' ? `log entry ${p.index} (replay stops here)` : `log entry ${p.index}`;
  return `${prefix}: ${p.reason.replace(/^entry \d+: /, '')}`;
}
