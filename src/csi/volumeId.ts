import { createHash } from 'node:crypto';
import { POOL_NAME_RE } from './config.js';

/**
 * Volume ids: "<pool>:<id>", where <id> is the first 32 hex digits of SHA-256 of the CSI volume
 * name. The same name always gives the same id, so CreateVolume stays idempotent across restarts
 * without any state besides the pool's log. The volume is the famfs directory csi/<id> holding
 * one file, data (41 bytes of path, well within famfs's 78).
 */
export const VOLUMES_DIR = 'csi';
export const DATA_FILE = 'data';
const ID_RE = /^[0-9a-f]{32}$/;

export interface VolumeRef {
  pool: string;
  id: string;
}

export function volumeKey(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 32);
}

export function formatVolumeId(ref: VolumeRef): string {
  return `${ref.pool}:${ref.id}`;
}

/** Parses a volume id; null for anything that is not one of ours. */
export function parseVolumeId(volumeId: string): VolumeRef | null {
  const i = volumeId.indexOf(':');
  if (i < 0) return null;
  const pool = volumeId.slice(0, i);
  const id = volumeId.slice(i + 1);
  return POOL_NAME_RE.test(pool) && ID_RE.test(id) ? { pool, id } : null;
}

export function volumeDir(ref: VolumeRef): string {
  return `${VOLUMES_DIR}/${ref.id}`;
}

export function volumeDataPath(ref: VolumeRef): string {
  return `${VOLUMES_DIR}/${ref.id}/${DATA_FILE}`;
}

/** Topology: one segment key per pool; a node that sees the pool reports it with value "true". */
export const TOPOLOGY_PREFIX = 'famfs.csi.io/pool-';

export function poolTopologyKey(pool: string): string {
  return TOPOLOGY_PREFIX + pool;
}

export function poolTopology(pool: string): { segments: Record<string, string> } {
  return { segments: { [poolTopologyKey(pool)]: 'true' } };
}
