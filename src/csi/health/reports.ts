import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MEMORY_ERROR_KINDS } from '../../famfs/health/memoryError.js';
import type { MemoryError, MemoryErrorKind, MemoryErrorSource } from '../../famfs/health/memoryError.js';

/**
 * What a node plugin tells the controller about memory errors it sees (DESIGN: the node → 
 * controller health channel). A node rewrites its report when its errors change and at least
 * every REPORT_REFRESH_MS; the controller ignores reports older than REPORT_EXPIRY_MS (a node
 * that is gone no longer speaks for its pools).
 */
export interface NodeHealthReport {
  node: string;
  /** ISO-8601 time the node wrote the report. */
  updatedAt: string;
  /** Errors by pool name (pools without errors may be absent). */
  pools: Record<string, MemoryError[]>;
}

export const REPORT_REFRESH_MS = 60_000;
export const REPORT_EXPIRY_MS = 3 * REPORT_REFRESH_MS;

/** Where node reports go: a directory (local mode, tests) or ConfigMaps (a cluster). */
export interface HealthReportChannel {
  /** Human-readable: "directory /x" or "configmaps in namespace y". */
  readonly description: string;
  publish(report: NodeHealthReport): Promise<void>;
  /** Every report present, fresh or not; unreadable ones are skipped. */
  readAll(): Promise<NodeHealthReport[]>;
}

const SOURCES: readonly MemoryErrorSource[] = ['emulated', 'kmsg', 'badblocks', 'probe'];

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function decodeError(v: unknown): MemoryError | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (typeof e.device !== 'string' || typeof e.firstSeen !== 'string') return undefined;
  if (!MEMORY_ERROR_KINDS.includes(e.kind as MemoryErrorKind) || !SOURCES.includes(e.source as MemoryErrorSource)) return undefined;
  let range: MemoryError['range'] = null;
  if (e.range !== null) {
    const r = e.range as Record<string, unknown> | undefined;
    if (!r || !isCount(r.offset) || !isCount(r.length) || r.length === 0) return undefined;
    range = { offset: r.offset, length: r.length };
  }
  return {
    device: e.device,
    range,
    kind: e.kind as MemoryErrorKind,
    firstSeen: e.firstSeen,
    source: e.source as MemoryErrorSource,
    ...(typeof e.detail === 'string' ? { detail: e.detail } : {}),
    ...(typeof e.node === 'string' ? { node: e.node } : {}),
  };
}

export function encodeReport(r: NodeHealthReport): string {
  return JSON.stringify(r);
}

/** Parses a report; anything malformed gives undefined (a bad report is ignored, not fatal). */
export function decodeReport(text: string): NodeHealthReport | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.node !== 'string' || !r.node || typeof r.updatedAt !== 'string' || Number.isNaN(Date.parse(r.updatedAt))) return undefined;
  if (typeof r.pools !== 'object' || r.pools === null) return undefined;
  const pools: Record<string, MemoryError[]> = {};
  for (const [pool, list] of Object.entries(r.pools as Record<string, unknown>)) {
    if (!Array.isArray(list)) return undefined;
    const errors = list.map(decodeError);
    if (errors.some((e) => e === undefined)) return undefined;
    pools[pool] = errors as MemoryError[];
  }
  return { node: r.node, updatedAt: r.updatedAt, pools };
}

export function isFresh(r: NodeHealthReport, now = Date.now()): boolean {
  return now - Date.parse(r.updatedAt) <= REPORT_EXPIRY_MS;
}

/** File names are the node name with anything outside [A-Za-z0-9._-] replaced. */
function reportFile(dir: string, node: string): string {
  return join(dir, `${node.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}

/**
 * Reports as files in one directory, `<dir>/<node>.json` (the directory is created if missing,
 * its parent must exist), written to a temporary file and renamed so a reader never sees half a
 * report. Used in local mode and wherever the controller and the
 * nodes share a directory.
 */
export class DirectoryReportChannel implements HealthReportChannel {
  readonly description: string;

  constructor(private readonly dir: string) {
    this.description = `directory ${dir}`;
  }

  async publish(report: NodeHealthReport): Promise<void> {
    // Only the directory itself is created: a late write must never re-create a removed parent.
    try {
      mkdirSync(this.dir, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const file = reportFile(this.dir, report.node);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, encodeReport(report), { mode: 0o644 });
    renameSync(tmp, file);
  }

  async readAll(): Promise<NodeHealthReport[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: NodeHealthReport[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      let text: string;
      try {
        text = readFileSync(join(this.dir, name), 'utf8');
      } catch {
        continue;
      }
      const r = decodeReport(text);
      if (r) out.push(r);
    }
    return out;
  }
}
