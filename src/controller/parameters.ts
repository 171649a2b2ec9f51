import { ALLOC_UNIT, MAX_NBUCKETS, MAX_STRIPS, isPowerOfTwo, parseByteSize } from '../famfs/index.js';
import type { InterleaveParams } from '../famfs/index.js';
import { parseModeValue } from '../csi/config.js';
import type { PoolConfig } from '../csi/config.js';
import { invalidArgument } from '../csi/errors.js';

/**
 * StorageClass parameters:
 *   pool       pool name (required when the driver has more than one pool and no topology says)
 *   mode       octal permission bits of the volume file, e.g. "0660"
 *   uid, gid   owner of the volume file
 *   stripes    interleave the volume across this many strips (1..16); absent: contiguous
 *   chunkSize  bytes per chunk when striped (power of two multiple of 2Mi; default 2Mi)
 *   buckets    buckets the pool is divided into when striped (default: stripes)
 * Keys under csi.storage.k8s.io/ (added by the external-provisioner) are accepted and ignored.
 */
export const PARAMETER_KEYS = ['pool', 'mode', 'uid', 'gid', 'stripes', 'chunkSize', 'buckets'] as const;
const K8S_PREFIX = 'csi.storage.k8s.io/';

export interface VolumeParameters {
  pool: string | undefined;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  interleave: InterleaveParams | undefined;
}

function integer(key: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidArgument(`parameters.${key}: "${value}" must be an integer ${min}..${max}`);
  return n;
}

export function parseParameters(params: Record<string, string>): VolumeParameters {
  for (const key of Object.keys(params)) {
    if (!(PARAMETER_KEYS as readonly string[]).includes(key) && !key.startsWith(K8S_PREFIX)) {
      throw invalidArgument(`parameters: unknown key "${key}" (known: ${PARAMETER_KEYS.join(', ')})`);
    }
  }
  let mode: number | undefined;
  if (params.mode !== undefined) {
    const m = parseModeValue(params.mode);
    if (m === null) throw invalidArgument(`parameters.mode: "${params.mode}" must be octal permission bits such as "0660"`);
    mode = m;
  }
  let interleave: InterleaveParams | undefined;
  if (params.stripes !== undefined) {
    const nstrips = integer('stripes', params.stripes, 1, MAX_STRIPS);
    let chunkSize = 2 * 1024 * 1024;
    if (params.chunkSize !== undefined) {
      const c = parseByteSize(params.chunkSize);
      if (c === null || c <= 0) throw invalidArgument(`parameters.chunkSize: "${params.chunkSize}" is not a size (example: 2Mi)`);
      chunkSize = c;
    }
    if (!isPowerOfTwo(chunkSize) || chunkSize % ALLOC_UNIT !== 0 || chunkSize > 0xffffffff) {
      throw invalidArgument(`parameters.chunkSize: "${params.chunkSize}" must be a power of two multiple of 2Mi below 4Gi`);
    }
    const nbuckets = params.buckets === undefined ? nstrips : integer('buckets', params.buckets, 1, MAX_NBUCKETS);
    if (nstrips > nbuckets) throw invalidArgument(`parameters.stripes: ${nstrips} must not exceed parameters.buckets (${nbuckets})`);
    interleave = { nstrips, chunkSize, nbuckets };
  } else if (params.chunkSize !== undefined || params.buckets !== undefined) {
    throw invalidArgument(`parameters: ${params.chunkSize !== undefined ? 'chunkSize' : 'buckets'} is only meaningful with stripes`);
  }
  if (params.pool !== undefined && params.pool.length === 0) throw invalidArgument('parameters.pool: must not be empty');
  return {
    pool: params.pool,
    mode,
    uid: params.uid === undefined ? undefined : integer('uid', params.uid, 0, 0xfffffffe),
    gid: params.gid === undefined ? undefined : integer('gid', params.gid, 0, 0xfffffffe),
    interleave,
  };
}

/** Parameters with the pool's defaults filled in: what a volume gets. */
export function effectiveOwnership(p: VolumeParameters, pool: PoolConfig): { mode: number; uid: number; gid: number } {
  return { mode: p.mode ?? pool.defaults.mode, uid: p.uid ?? pool.defaults.uid, gid: p.gid ?? pool.defaults.gid };
}
