import type { FileNode, Pool } from '../famfs/index.js';
import type { PoolConfig } from '../csi/config.js';
import { VOLUMES_DIR, DATA_FILE, formatVolumeId, poolTopology, volumeDataPath } from '../csi/volumeId.js';
import type { VolumeRef } from '../csi/volumeId.js';
import type { VolumeInput } from '../csi/types.js';

/** A volume as the pool's namespace has it: csi/<id>/data. */
export interface PoolVolume {
  ref: VolumeRef;
  volumeId: string;
  file: FileNode;
}

export function findVolume(pool: Pool, ref: VolumeRef): PoolVolume | undefined {
  const node = pool.lookup(volumeDataPath(ref));
  return node?.kind === 'file' ? { ref, volumeId: formatVolumeId(ref), file: node } : undefined;
}

/** Every volume of a pool, in volume id order. */
export function listPoolVolumes(poolName: string, pool: Pool): PoolVolume[] {
  const dir = pool.lookup(VOLUMES_DIR);
  if (dir?.kind !== 'dir') return [];
  const out: PoolVolume[] = [];
  for (const [id, node] of dir.children) {
    if (node.kind !== 'dir') continue;
    const data = node.children.get(DATA_FILE);
    if (data?.kind === 'file') out.push({ ref: { pool: poolName, id }, volumeId: formatVolumeId({ pool: poolName, id }), file: data });
  }
  return out.sort((a, b) => (a.volumeId < b.volumeId ? -1 : a.volumeId > b.volumeId ? 1 : 0));
}

/**
 * volume_context handed to the node: which pool, where the volume file is inside it, and the
 * pool's file system UUID so a node never serves a volume from a re-formatted pool.
 */
export function volumeContext(config: PoolConfig, pool: Pool, v: PoolVolume): Record<string, string> {
  return { pool: config.name, path: volumeDataPath(v.ref), poolUuid: pool.superblock.uuid };
}

export function volumeMessage(config: PoolConfig, pool: Pool, v: PoolVolume): VolumeInput {
  return {
    volume_id: v.volumeId,
    capacity_bytes: v.file.size,
    volume_context: volumeContext(config, pool, v),
    accessible_topology: [poolTopology(config.name)],
  };
}
