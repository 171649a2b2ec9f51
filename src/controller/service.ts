import { ALLOC_UNIT } from '../famfs/index.js';
import type { Pool } from '../famfs/index.js';
import type { PoolConfig } from '../csi/config.js';
import { aborted, alreadyExists, invalidArgument, notFound, outOfRange, resourceExhausted, unavailable } from '../csi/errors.js';
import { capabilityProblem, requireCapabilities } from '../csi/capabilities.js';
import type { RpcTable } from '../csi/rpc.js';
import { TOPOLOGY_PREFIX, VOLUMES_DIR, parseVolumeId, volumeDataPath, volumeDir, volumeKey } from '../csi/volumeId.js';
import type {
  ControllerGetCapabilitiesResponse,
  ControllerGetVolumeRequest,
  ControllerGetVolumeResponse,
  CreateVolumeRequest,
  CreateVolumeResponse,
  DeleteVolumeRequest,
  DeleteVolumeResponse,
  GetCapacityRequest,
  GetCapacityResponse,
  ListVolumesRequest,
  ListVolumesResponse,
  Topology,
  TopologyRequirement,
  ValidateVolumeCapabilitiesRequest,
  ValidateVolumeCapabilitiesResponse,
  ControllerCapabilityName,
} from '../csi/types.js';
import { effectiveOwnership, parseParameters } from './parameters.js';
import type { VolumeParameters } from './parameters.js';
import { parseCapacityRange, sizeSatisfies, volumeSize } from './capacity.js';
import { findVolume, listPoolVolumes, volumeMessage } from './volumes.js';
import type { PoolVolume } from './volumes.js';
import type { PoolSet } from './pools.js';
import type { ControllerHealth } from './health.js';
import { HEALTHY_MESSAGE } from '../csi/health/condition.js';
import type { Metrics } from '../csi/metrics.js';

/**
 * LIST_VOLUMES + GET_VOLUME + VOLUME_CONDITION is what the external-health-monitor-controller
 * needs to start; with VOLUME_CONDITION every ListVolumes entry and ControllerGetVolume answer
 * carries a volume_condition.
 */
export const CONTROLLER_CAPABILITIES: ControllerCapabilityName[] = ['CREATE_DELETE_VOLUME', 'LIST_VOLUMES', 'GET_CAPACITY', 'GET_VOLUME', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER'];

export interface ControllerServiceOptions {
  health?: ControllerHealth;
  metrics?: Metrics;
}

/** CSI names are at most 128 bytes (spec "Size Limits"); control characters are refused. */
const MAX_NAME_BYTES = 128;

function checkName(name: string): void {
  if (!name) throw invalidArgument('name: missing (a CreateVolume request must name the volume)');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) throw invalidArgument(`name: ${bytes} bytes is longer than the ${MAX_NAME_BYTES} bytes CSI allows`);
  if (/\p{Cc}/u.test(name)) throw invalidArgument(`name: ${JSON.stringify(name)} contains control characters`);
}

/** Pool names a topology segment map points at (keys famfs.csi.io/pool-<name> with value "true"). */
function poolsOfTopology(t: Topology): string[] {
  return Object.entries(t.segments ?? {})
    .filter(([k, v]) => k.startsWith(TOPOLOGY_PREFIX) && v === 'true')
    .map(([k]) => k.slice(TOPOLOGY_PREFIX.length));
}

export class ControllerService {
  private listCache: { stamp: string; all: { volume: PoolVolume; config: PoolConfig; pool: Pool }[] } | undefined;

  constructor(
    private readonly pools: PoolSet,
    private readonly opts: ControllerServiceOptions = {},
  ) {}

  private condition(volume: PoolVolume): { abnormal: boolean; message: string } {
    const h = this.opts.health?.volumeHealth(volume);
    return h ? { abnormal: h.abnormal, message: h.message } : { abnormal: false, message: HEALTHY_MESSAGE };
  }

  private openPool(name: string): { config: PoolConfig; pool: Pool } {
    const config = this.pools.config(name);
    if (!config) throw invalidArgument(`parameters.pool: "${name}" is not a configured pool (configured: ${this.pools.configs.map((c) => c.name).join(', ')})`);
    const pool = this.pools.get(name);
    if (!pool) throw unavailable(`pool ${name} is not open yet: ${this.pools.problem(name) ?? 'starting'}`);
    pool.refresh();
    return { config, pool };
  }

  /** The pool a new volume goes to: the parameter, else the topology, else the only pool. */
  private choosePool(params: VolumeParameters, topology: TopologyRequirement | null): string {
    const requisite = topology?.requisite ?? [];
    const preferred = topology?.preferred ?? [];
    const allowed = requisite.length > 0 ? new Set(requisite.flatMap(poolsOfTopology)) : undefined;
    if (params.pool !== undefined) {
      if (allowed && !allowed.has(params.pool)) throw resourceExhausted(`pool ${params.pool} is not in the requisite topology (${[...allowed].join(', ') || 'no famfs pool'})`);
      return params.pool;
    }
    const known = this.pools.configs.map((c) => c.name);
    const candidates = [...preferred.flatMap(poolsOfTopology), ...requisite.flatMap(poolsOfTopology)].filter((p) => known.includes(p));
    if (candidates.length > 0) return candidates[0]!;
    if (allowed) throw resourceExhausted(`no configured pool is in the requisite topology`);
    if (known.length === 1) return known[0]!;
    throw invalidArgument(`parameters.pool: missing; this driver has ${known.length} pools (${known.join(', ')}), name one in the StorageClass`);
  }

  async createVolume(req: CreateVolumeRequest): Promise<CreateVolumeResponse> {
    checkName(req.name);
    requireCapabilities(req.volume_capabilities, 'volume_capabilities');
    if (req.volume_content_source) throw invalidArgument('volume_content_source: famfs-csi cannot create volumes from snapshots or other volumes');
    if (Object.keys(req.mutable_parameters ?? {}).length > 0) throw invalidArgument('mutable_parameters: famfs-csi has no mutable parameters (MODIFY_VOLUME is not supported)');
    const params = parseParameters(req.parameters ?? {});
    const range = parseCapacityRange(req.capacity_range);
    const poolName = this.choosePool(params, req.accessibility_requirements);
    const { config, pool } = this.openPool(poolName);
    const ref = { pool: poolName, id: volumeKey(req.name) };
    const own = effectiveOwnership(params, config);

    for (const other of this.pools.all()) {
      if (other.config.name === poolName) continue;
      other.pool.refresh();
      if (findVolume(other.pool, { pool: other.config.name, id: ref.id })) {
        throw alreadyExists(`name ${JSON.stringify(req.name)}: a volume of that name exists in pool ${other.config.name}, not in ${poolName}`);
      }
    }
    const existing = findVolume(pool, ref);
    if (existing) return { volume: volumeMessage(config, pool, this.checkCompatible(req.name, existing, range, own, params)) };

    const size = volumeSize(range, config.defaults.volumeSize);
    const space = pool.replay.space;
    const dataSize = space.unitCount * space.allocUnit - space.reservedBytes;
    if (size > dataSize) throw outOfRange(`capacity_range: ${size} bytes is larger than pool ${poolName} (${dataSize} bytes of data space)`);
    const entriesNeeded = (pool.lookup(VOLUMES_DIR) ? 0 : 1) + (pool.lookup(volumeDir(ref)) ? 0 : 1) + 1;
    const entriesFree = pool.log.entriesLeft(pool.replay.applied);
    if (entriesFree < entriesNeeded) {
      throw resourceExhausted(`pool ${poolName}: log full (${entriesFree} of ${pool.log.lastIndex + 1} entries left, a volume needs ${entriesNeeded}); deleting volumes does not help, the pool needs a bigger log`);
    }
    // One writer session: allocation first, so a request that cannot fit logs nothing (retries of
    // it must not use up log entries), then csi/<id>/ and csi/<id>/data.
    const started = process.hrtime.bigint();
    await pool.createFile(volumeDataPath(ref), size, { ...own, interleave: params.interleave, parents: true });
    this.opts.metrics?.observeAllocation(poolName, Number(process.hrtime.bigint() - started) / 1e9);
    const created = findVolume(pool, ref)!;
    return { volume: volumeMessage(config, pool, created) };
  }

  private checkCompatible(name: string, v: PoolVolume, range: ReturnType<typeof parseCapacityRange>, own: { mode: number; uid: number; gid: number }, params: VolumeParameters): PoolVolume {
    const f = v.file;
    const mismatch = (what: string) => alreadyExists(`name ${JSON.stringify(name)}: volume ${v.volumeId} exists with ${what}`);
    if (!sizeSatisfies(f.size, range)) throw mismatch(`capacity ${f.size} bytes, outside the requested range [${range.required}, ${range.limit || '∞'}]`);
    if (f.mode !== own.mode || f.uid !== own.uid || f.gid !== own.gid) throw mismatch(`mode 0${f.mode.toString(8)} uid ${f.uid} gid ${f.gid}, not 0${own.mode.toString(8)} ${own.uid} ${own.gid}`);
    const want = params.interleave;
    const striped = f.fmap.kind === 'interleaved';
    // famfs allocates a file smaller than one chunk contiguously even when stripes are asked for.
    const wantStriped = want !== undefined && f.size >= want.chunkSize;
    if (striped && wantStriped) {
      const ie = f.fmap.kind === 'interleaved' ? f.fmap.extents[0]! : undefined;
      if (ie && (ie.strips.length !== want.nstrips || ie.chunkSize !== want.chunkSize)) throw mismatch(`${ie.strips.length} stripes of chunk ${ie.chunkSize}, not ${want.nstrips} of ${want.chunkSize}`);
    } else if (striped) throw mismatch('striped allocation, but no stripes were requested');
    else if (wantStriped) throw mismatch(`contiguous allocation, but ${want.nstrips} stripes were requested`);
    return v;
  }

  async deleteVolume(req: DeleteVolumeRequest): Promise<DeleteVolumeResponse> {
    if (!req.volume_id) throw invalidArgument('volume_id: missing');
    const ref = parseVolumeId(req.volume_id);
    if (!ref || !this.pools.config(ref.pool)) return {}; // not one of ours: it does not exist
    const { pool } = this.openPool(ref.pool);
    if (pool.lookup(volumeDir(ref))) await pool.remove(volumeDir(ref));
    return {};
  }

  private lookupVolume(volumeId: string): { config: PoolConfig; pool: Pool; volume: PoolVolume } {
    if (!volumeId) throw invalidArgument('volume_id: missing');
    const ref = parseVolumeId(volumeId);
    if (!ref || !this.pools.config(ref.pool)) throw notFound(`volume ${JSON.stringify(volumeId)} does not exist (not a famfs-csi volume id of a configured pool)`);
    const { config, pool } = this.openPool(ref.pool);
    const volume = findVolume(pool, ref);
    if (!volume) throw notFound(`volume ${volumeId} does not exist in pool ${ref.pool}`);
    return { config, pool, volume };
  }

  async validateVolumeCapabilities(req: ValidateVolumeCapabilitiesRequest): Promise<ValidateVolumeCapabilitiesResponse> {
    if (!req.volume_id) throw invalidArgument('volume_id: missing');
    if (!req.volume_capabilities || req.volume_capabilities.length === 0) throw invalidArgument('volume_capabilities: at least one volume capability is required');
    this.lookupVolume(req.volume_id);
    const problems = req.volume_capabilities.map((c, i) => capabilityProblem(c, `volume_capabilities[${i}]`)).filter((p): p is string => p !== null);
    try {
      parseParameters(req.parameters ?? {});
    } catch (e) {
      problems.push((e as Error).message);
    }
    if (problems.length > 0) return { message: problems.join('; ') };
    return { confirmed: { volume_context: req.volume_context, volume_capabilities: req.volume_capabilities, parameters: req.parameters } };
  }

  /** Every volume of every open pool in volume id order, rebuilt only when a pool's log moved. */
  private volumeIndex(): { volume: PoolVolume; config: PoolConfig; pool: Pool }[] {
    const key: number[] = [];
    for (const { pool } of this.pools.all()) {
      pool.refresh();
      key.push(pool.replay.applied);
    }
    const stamp = key.join(',');
    if (this.listCache?.stamp !== stamp) {
      const all = this.pools.all().flatMap(({ config, pool }) => listPoolVolumes(config.name, pool).map((volume) => ({ volume, config, pool })));
      all.sort((a, b) => (a.volume.volumeId < b.volume.volumeId ? -1 : 1));
      this.listCache = { stamp, all };
    }
    return this.listCache.all;
  }

  async listVolumes(req: ListVolumesRequest): Promise<ListVolumesResponse> {
    if (req.max_entries < 0) throw invalidArgument(`max_entries: ${req.max_entries} must not be negative`);
    // The token is the last volume id returned: still meaningful after that volume is deleted.
    const token = req.starting_token;
    if (token && !parseVolumeId(token)) throw aborted(`starting_token: ${JSON.stringify(token)} is not a token this plugin issued`);
    const all = this.volumeIndex();
    let lo = 0;
    if (token) {
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (all[mid]!.volume.volumeId <= token) lo = mid + 1;
        else hi = mid;
      }
    }
    const max = req.max_entries > 0 ? req.max_entries : all.length;
    const page = all.slice(lo, lo + max);
    return {
      entries: page.map(({ volume, config, pool }) => ({ volume: volumeMessage(config, pool, volume), status: { published_node_ids: [], volume_condition: this.condition(volume) } })),
      next_token: lo + max < all.length ? page[page.length - 1]!.volume.volumeId : '',
    };
  }

  async getCapacity(req: GetCapacityRequest): Promise<GetCapacityResponse> {
    const params = parseParameters(req.parameters ?? {});
    for (const [i, c] of (req.volume_capabilities ?? []).entries()) {
      if (capabilityProblem(c, `volume_capabilities[${i}]`)) return { available_capacity: 0, maximum_volume_size: { value: 0 } };
    }
    let names = this.pools.configs.map((c) => c.name);
    if (params.pool !== undefined) names = names.filter((n) => n === params.pool);
    if (req.accessible_topology) {
      const wanted = poolsOfTopology(req.accessible_topology);
      names = names.filter((n) => wanted.includes(n));
    }
    let available = 0;
    let maximum = 0;
    for (const name of names) {
      const pool = this.pools.get(name);
      if (!pool) continue;
      pool.refresh();
      const s = pool.stats();
      const entriesNeeded = pool.lookup(VOLUMES_DIR) ? 2 : 3;
      if (s.logEntriesFree < entriesNeeded) continue; // log full: no further volume fits
      available += s.freeBytes;
      maximum = Math.max(maximum, s.largestFreeRun);
    }
    return { available_capacity: available, maximum_volume_size: { value: maximum }, minimum_volume_size: { value: ALLOC_UNIT } };
  }

  async controllerGetVolume(req: ControllerGetVolumeRequest): Promise<ControllerGetVolumeResponse> {
    const { config, pool, volume } = this.lookupVolume(req.volume_id);
    return { volume: volumeMessage(config, pool, volume), status: { published_node_ids: [], volume_condition: this.condition(volume) } };
  }

  async getCapabilities(): Promise<ControllerGetCapabilitiesResponse> {
    return { capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) };
  }

  rpcs(): RpcTable {
    return {
      // Create (by name) and Delete (by id) of one volume take the same lock: the id's <id> part.
      CreateVolume: { handler: (r: CreateVolumeRequest) => this.createVolume(r), lockKey: (r: CreateVolumeRequest) => (r.name ? `volume:${volumeKey(r.name)}` : undefined) },
      DeleteVolume: {
        handler: (r: DeleteVolumeRequest) => this.deleteVolume(r),
        lockKey: (r: DeleteVolumeRequest) => (r.volume_id ? `volume:${parseVolumeId(r.volume_id)?.id ?? r.volume_id}` : undefined),
      },
      ValidateVolumeCapabilities: { handler: (r: ValidateVolumeCapabilitiesRequest) => this.validateVolumeCapabilities(r) },
      ListVolumes: { handler: (r: ListVolumesRequest) => this.listVolumes(r) },
      GetCapacity: { handler: (r: GetCapacityRequest) => this.getCapacity(r) },
      ControllerGetVolume: { handler: (r: ControllerGetVolumeRequest) => this.controllerGetVolume(r) },
      ControllerGetCapabilities: { handler: () => this.getCapabilities() },
    };
  }
}
