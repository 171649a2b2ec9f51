import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { DEFAULT_LOG_LEN, MIN_LOG_LEN, isPowerOfTwo, parseByteSize } from '../famfs/index.js';
import type { FamfsVersion, Reclaim } from '../famfs/index.js';

/**
 * famfs-csi configuration (YAML):
 *
 *   stateDir: /var/lib/famfs-csi        # node: pool mounts; controller: nothing yet
 *   nodeId: worker-1                    # node only; default: the host name
 *   kubeletDir: /var/lib/kubelet        # node only: staging and target paths must lie inside it
 *   pools:
 *     - name: pool0                     # [a-z0-9-], at most 58 characters
 *       device: /dev/dax0.0             # devdax device, or a regular file when emulated
 *       emulated: { size: 8Gi }         # the device is a file of this size, created if missing
 *       logLength: 64Mi                 # when famfs-csi formats the pool
 *       famfsVersion: 48                # 48 (OMF 2.2) or 47 (OMF 2.1)
 *       reclaim: safe                   # never | safe; default safe when emulated, never otherwise
 *       format: ifMissing               # never | ifMissing: format a device without a superblock
 *       takeOver: false                 # make this controller the pool's master
 *       relaxStripeBuckets: false       # allow striping buckets under 1 GiB (small test pools)
 *       defaults: { mode: "0660", uid: 0, gid: 0, volumeSize: 16Mi }
 */
export interface PoolConfig {
  name: string;
  device: string;
  emulatedSize: number | undefined;
  logLength: number;
  famfsVersion: FamfsVersion;
  reclaim: Reclaim;
  format: 'never' | 'ifMissing';
  takeOver: boolean;
  relaxStripeBuckets: boolean;
  defaults: { mode: number; uid: number; gid: number; volumeSize: number };
}

export interface DriverConfig {
  stateDir: string;
  nodeId: string | undefined;
  /** Node only: the kubelet root; always set by parseConfig (default /var/lib/kubelet). */
  kubeletDir?: string;
  pools: PoolConfig[];
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(`config: ${message}`);
    this.name = 'ConfigError';
  }
}

export const POOL_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$/;
export const DEFAULT_STATE_DIR = '/var/lib/famfs-csi';
export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';
export const DEFAULT_VOLUME_SIZE = 16 * 1024 * 1024;

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Raw, where: string, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(`${where}${k}: unknown key (known: ${allowed.join(', ')})`);
  }
}

function str(obj: Raw, key: string, where: string, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(`${where}${key}: missing`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${where}${key}: ${JSON.stringify(v)} must be a non-empty string`);
  return v;
}

function size(obj: Raw, key: string, where: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' || typeof v === 'number' ? parseByteSize(v) : null;
  if (n === null || n <= 0) throw new ConfigError(`${where}${key}: ${JSON.stringify(v)} is not a size (examples: 8Gi, 64Mi, 1073741824)`);
  return n;
}

function int(obj: Raw, key: string, where: string, min: number, max: number): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${where}${key}: ${JSON.stringify(v)} must be an integer ${min}..${max}`);
  return v;
}

function bool(obj: Raw, key: string, where: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(`${where}${key}: ${JSON.stringify(v)} must be true or false`);
  return v;
}

function oneOf<T extends string>(obj: Raw, key: string, where: string, values: readonly T[]): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!values.includes(v as T)) throw new ConfigError(`${where}${key}: ${JSON.stringify(v)} must be one of ${values.join(', ')}`);
  return v as T;
}

/** Octal permission bits, written as "0660" (a string) or 0o660/432 (a YAML number). */
export function parseModeValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0o7777 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^(?:0o?)?([0-7]{1,4})$/.exec(v);
  return m ? parseInt(m[1]!, 8) : null;
}

function parsePool(raw: unknown, i: number): PoolConfig {
  const where = `pools[${i}].`;
  if (!isObject(raw)) throw new ConfigError(`pools[${i}]: must be a mapping with name and device`);
  checkKeys(raw, where, ['name', 'device', 'emulated', 'logLength', 'famfsVersion', 'reclaim', 'format', 'takeOver', 'relaxStripeBuckets', 'defaults']);
  const name = str(raw, 'name', where, true)!;
  if (!POOL_NAME_RE.test(name)) throw new ConfigError(`${where}name: "${name}" must be 1-58 lower-case letters, digits and '-', starting and ending with a letter or digit`);
  const device = str(raw, 'device', where, true)!;
  if (!device.startsWith('/')) throw new ConfigError(`${where}device: "${device}" must be an absolute path`);
  let emulatedSize: number | undefined;
  if (raw.emulated !== undefined && raw.emulated !== null) {
    if (!isObject(raw.emulated)) throw new ConfigError(`${where}emulated: must be a mapping like { size: 8Gi }`);
    checkKeys(raw.emulated, `${where}emulated.`, ['size']);
    emulatedSize = size(raw.emulated, 'size', `${where}emulated.`);
    if (emulatedSize === undefined) throw new ConfigError(`${where}emulated.size: missing`);
    if (emulatedSize % (2 * 1024 * 1024) !== 0) throw new ConfigError(`${where}emulated.size: ${emulatedSize} must be a multiple of 2 MiB`);
  }
  const logLength = size(raw, 'logLength', where) ?? DEFAULT_LOG_LEN;
  if (!isPowerOfTwo(logLength) || logLength < MIN_LOG_LEN) throw new ConfigError(`${where}logLength: ${logLength} must be a power of two of at least 8Mi`);
  const famfsVersion = (int(raw, 'famfsVersion', where, 47, 48) ?? 48) as FamfsVersion;
  const defaults: PoolConfig['defaults'] = { mode: 0o660, uid: 0, gid: 0, volumeSize: DEFAULT_VOLUME_SIZE };
  if (raw.defaults !== undefined && raw.defaults !== null) {
    const d = raw.defaults;
    const dw = `${where}defaults.`;
    if (!isObject(d)) throw new ConfigError(`${where}defaults: must be a mapping`);
    checkKeys(d, dw, ['mode', 'uid', 'gid', 'volumeSize']);
    if (d.mode !== undefined) {
      const mode = parseModeValue(d.mode);
      if (mode === null) throw new ConfigError(`${dw}mode: ${JSON.stringify(d.mode)} must be octal permission bits such as "0660"`);
      defaults.mode = mode;
    }
    defaults.uid = int(d, 'uid', dw, 0, 0xfffffffe) ?? 0;
    defaults.gid = int(d, 'gid', dw, 0, 0xfffffffe) ?? 0;
    defaults.volumeSize = size(d, 'volumeSize', dw) ?? DEFAULT_VOLUME_SIZE;
  }
  return {
    name,
    device,
    emulatedSize,
    logLength,
    famfsVersion,
    reclaim: oneOf(raw, 'reclaim', where, ['never', 'safe'] as const) ?? (emulatedSize !== undefined ? 'safe' : 'never'),
    format: oneOf(raw, 'format', where, ['never', 'ifMissing'] as const) ?? (emulatedSize !== undefined ? 'ifMissing' : 'never'),
    takeOver: bool(raw, 'takeOver', where) ?? false,
    relaxStripeBuckets: bool(raw, 'relaxStripeBuckets', where) ?? false,
    defaults,
  };
}

/** Validates a parsed YAML document; errors name the key and the value. */
export function parseConfig(doc: unknown): DriverConfig {
  if (!isObject(doc)) throw new ConfigError('the document must be a mapping with a pools list');
  checkKeys(doc, '', ['stateDir', 'nodeId', 'kubeletDir', 'pools']);
  const stateDir = str(doc, 'stateDir', '', false) ?? DEFAULT_STATE_DIR;
  if (!stateDir.startsWith('/')) throw new ConfigError(`stateDir: "${stateDir}" must be an absolute path`);
  const nodeId = str(doc, 'nodeId', '', false);
  const kubeletDir = str(doc, 'kubeletDir', '', false) ?? DEFAULT_KUBELET_DIR;
  if (!kubeletDir.startsWith('/')) throw new ConfigError(`kubeletDir: "${kubeletDir}" must be an absolute path`);
  if (!Array.isArray(doc.pools) || doc.pools.length === 0) throw new ConfigError('pools: missing or empty; name at least one pool');
  const pools = doc.pools.map(parsePool);
  const seen = new Set<string>();
  for (const p of pools) {
    if (seen.has(p.name)) throw new ConfigError(`pools: pool name "${p.name}" appears twice`);
    seen.add(p.name);
  }
  return { stateDir, nodeId, kubeletDir, pools };
}

export function loadConfigFile(path: string): DriverConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid YAML: ${(e as Error).message}`);
  }
  return parseConfig(doc);
}

/**
 * A pool given on the command line: NAME=DEVICE[,size=8Gi][,reclaim=safe][,logLength=64Mi]
 * [,famfsVersion=47][,format=ifMissing][,takeOver=true][,relaxStripeBuckets=true].
 */
export function parsePoolFlag(flag: string, index: number): PoolConfig {
  const [head, ...opts] = flag.split(',');
  const eq = head!.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--pool "${flag}": expected NAME=DEVICE[,size=8Gi,...]`);
  const raw: Raw = { name: head!.slice(0, eq), device: head!.slice(eq + 1) };
  for (const o of opts) {
    const [k, v] = o.split('=', 2);
    if (!k || v === undefined) throw new ConfigError(`--pool "${flag}": option "${o}" must be key=value`);
    if (k === 'size') raw.emulated = { size: v };
    else if (k === 'famfsVersion') raw.famfsVersion = Number(v);
    else if (k === 'takeOver' || k === 'relaxStripeBuckets') raw[k] = v === 'true';
    else raw[k] = v;
  }
  return parsePool(raw, index);
}
