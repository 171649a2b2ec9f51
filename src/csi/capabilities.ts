import { invalidArgument } from './errors.js';
import type { VolumeCapability } from './types.js';

/** File system types a volume capability may ask for: famfs volumes are famfs files. */
export const SUPPORTED_FS_TYPES = ['', 'famfs'];

/** Why famfs-csi cannot serve this capability, or null when it can. */
export function capabilityProblem(cap: VolumeCapability, where: string): string | null {
  if (cap.access_type === 'block' || cap.block) return `${where}: block volumes are not supported (famfs-csi serves volumeMode Filesystem only)`;
  if (cap.access_type !== 'mount' || !cap.mount) return `${where}: access_type must be mount`;
  const fsType = cap.mount.fs_type ?? '';
  if (!SUPPORTED_FS_TYPES.includes(fsType)) return `${where}.mount.fs_type: "${fsType}" is not supported (famfs volumes take "" or "famfs")`;
  const mode = cap.access_mode?.mode;
  if (mode === undefined || mode === null) return `${where}.access_mode: missing`;
  if (typeof mode !== 'string' || mode === 'UNKNOWN') return `${where}.access_mode.mode: ${String(mode)} is not a known access mode`;
  return null;
}

/** Requires a non-empty list of capabilities that famfs-csi can all serve (INVALID_ARGUMENT). */
export function requireCapabilities(caps: VolumeCapability[] | undefined, field: string): void {
  if (!caps || caps.length === 0) throw invalidArgument(`${field}: at least one volume capability is required`);
  caps.forEach((c, i) => {
    const problem = capabilityProblem(c, `${field}[${i}]`);
    if (problem) throw invalidArgument(problem);
  });
}

export function requireCapability(cap: VolumeCapability | null | undefined, field: string): VolumeCapability {
  if (!cap) throw invalidArgument(`${field}: missing`);
  const problem = capabilityProblem(cap, field);
  if (problem) throw invalidArgument(problem);
  return cap;
}
