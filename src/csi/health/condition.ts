import { fileDamage } from '../../famfs/health/damage.js';
import type { FileDamage } from '../../famfs/health/damage.js';
import { describeError, errorKey, hex } from '../../famfs/health/memoryError.js';
import type { MemoryError } from '../../famfs/health/memoryError.js';
import type { Fmap } from '../../famfs/index.js';

/** What a volume's memory looks like now: the CSI VolumeCondition plus what produced it. */
export interface VolumeHealth {
  abnormal: boolean;
  message: string;
  /** Stable identity of the set of errors under the volume ('' when healthy). */
  key: string;
  damage: FileDamage[];
}

export const HEALTHY_MESSAGE = 'volume is healthy: no memory errors under it';
/** Messages list at most this many errors, then "and N more". */
const MAX_LISTED = 4;

function fileRangesText(d: FileDamage, fileSize: number): string {
  const r = d.fileRanges;
  if (r.length === 1 && r[0]!.offset === 0 && r[0]!.length === fileSize) return 'the whole volume';
  const parts = r.slice(0, 3).map((x) => `${hex(x.offset)}-${hex(x.offset + x.length - 1)}`);
  return `volume bytes ${parts.join(', ')}${r.length > 3 ? ` and ${r.length - 3} more ranges` : ''}`;
}

/** The errors that touch one volume (its file's extents or strips), as a condition. */
export function volumeHealth(fmap: Fmap, fileSize: number, errors: readonly MemoryError[]): VolumeHealth {
  const damage = fileDamage(fmap, fileSize, errors);
  if (damage.length === 0) return { abnormal: false, message: HEALTHY_MESSAGE, key: '', damage };
  const listed = damage.slice(0, MAX_LISTED).map((d) => `${describeError(d.error)}; affects ${fileRangesText(d, fileSize)}`);
  const more = damage.length > MAX_LISTED ? `; and ${damage.length - MAX_LISTED} more errors` : '';
  const keys = damage.map((d) => `${errorKey(d.error)}@${d.error.node ?? ''}`).sort();
  return {
    abnormal: true,
    message: `dax memory error under this volume: ${listed.join(' | ')}${more}`,
    key: keys.join('|'),
    damage,
  };
}
