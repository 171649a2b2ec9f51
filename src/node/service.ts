import { existsSync, lstatSync, mkdirSync, rmdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { openDaxDevice, readSuperblock } from '../famfs/index.js';
import type { PoolConfig } from '../csi/config.js';
import { requireCapability } from '../csi/capabilities.js';
import { alreadyExists, failedPrecondition, internal, invalidArgument, notFound, unavailable } from '../csi/errors.js';
import type { Logger } from '../csi/logger.js';
import type { RpcTable } from '../csi/rpc.js';
import { DATA_FILE, VOLUMES_DIR, parseVolumeId, poolTopology } from '../csi/volumeId.js';
import type { VolumeRef } from '../csi/volumeId.js';
import type {
  NodeCapabilityName,
  NodeGetCapabilitiesResponse,
  NodeGetInfoResponse,
  NodeGetVolumeStatsRequest,
  NodeGetVolumeStatsResponse,
  NodePublishVolumeRequest,
  NodePublishVolumeResponse,
  NodeStageVolumeRequest,
  NodeStageVolumeResponse,
  NodeUnpublishVolumeRequest,
  NodeUnpublishVolumeResponse,
  NodeUnstageVolumeRequest,
  NodeUnstageVolumeResponse,
  VolumeCapability,
} from '../csi/types.js';
import { MountError, parseMountFlags } from './mounter.js';
import type { MountFlags, Mounter } from './mounter.js';
import { containingMount, findMount, isReadOnlyMount, readMountinfo, sameDevice } from '../fuse/mountTable.js';
import type { MountInfo } from '../fuse/mountTable.js';
import { canonicalParent, checkPathSyntax, checkTargetPath } from './paths.js';
import type { PathPolicy } from './paths.js';
import { FUSE_FSTYPE } from './poolServers.js';
import type { PoolServers } from './poolServers.js';
import { isDeadMountCode, probePath, sleep } from './probe.js';
import type { NodeHealth } from './health.js';
import { HEALTHY_MESSAGE } from '../csi/health/condition.js';

/**
 * The CSI Node service (DESIGN decisions 6-8).
 *
 * - NodeStageVolume: makes sure the pool's FUSE server runs (PoolServers), waits until the volume
 *   is visible in it, and bind-mounts `<pool mount>/csi/<id>` onto the staging path.
 * - NodePublishVolume: bind-mounts the staging path onto the target (read-only by bind + remount).
 * - NodeUnpublishVolume / NodeUnstageVolume: unmount, OK when there is nothing to do.
 * - NodeGetVolumeStats: size of the volume file and a VolumeCondition.
 *
 * All state comes from the mount table: a staged or published volume is a `fuse.famfs` mount
 * whose root (the path inside the pool's namespace) is `/csi/<id>`. So every RPC is idempotent
 * and a restarted plugin knows exactly what its predecessor did.
 *
 * Capabilities: STAGE_UNSTAGE_VOLUME, GET_VOLUME_STATS, SINGLE_NODE_MULTI_WRITER and
 * VOLUME_CONDITION. VOLUME_CONDITION is advertised because the kubelet copies `abnormal` and
 * `message` of NodeGetVolumeStats into events and metrics only when the node has it (and the
 * CSIVolumeHealth gate is on); with it, the spec requires volume_condition in every stats answer,
 * which this service always fills in.
 */
export const NODE_CAPABILITIES: NodeCapabilityName[] = ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'SINGLE_NODE_MULTI_WRITER', 'VOLUME_CONDITION'];

const READ_ONLY_MODES: readonly string[] = ['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY'];
/** Stacked mounts at one path are removed one by one; more than this is not ours. */
const MAX_STACKED = 16;

export interface NodeServiceOptions {
  pools: PoolConfig[];
  nodeId: string | undefined;
  /** Canonical state directory (symlinks resolved). */
  stateDir: string;
  kubeletDir: string;
  logger: Logger;
  mounter: Mounter;
  servers: PoolServers;
  /** How long NodeStage waits for a volume to appear in the pool mount (default 5 s). */
  volumeWaitMs?: number;
  /** stat timeout for paths on FUSE mounts (default 5 s). */
  probeTimeoutMs?: number;
  /** Memory errors under volumes: stats conditions and refused stages. */
  health?: NodeHealth;
}

/** The famfs path of a volume's directory, as the root field of its bind mounts shows it. */
export function volumeRoot(ref: VolumeRef): string {
  return `/${VOLUMES_DIR}/${ref.id}`;
}

/** Is `m` a bind mount of this volume's directory out of a famfs FUSE mount? */
export function isVolumeMount(m: MountInfo | undefined, ref: VolumeRef): m is MountInfo {
  return m !== undefined && m.fsType === FUSE_FSTYPE && m.root === volumeRoot(ref);
}

function describe(m: MountInfo): string {
  return `${m.fsType} mount of ${m.source}${m.root === '/' ? '' : ` (root ${m.root})`}`;
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

export class NodeService {
  private readonly policy: PathPolicy;
  private readonly volumeWaitMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly opts: NodeServiceOptions) {
    this.policy = { kubeletDir: opts.kubeletDir, stateDir: opts.stateDir };
    this.volumeWaitMs = opts.volumeWaitMs ?? 5_000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 5_000;
  }

  get nodeId(): string {
    return this.opts.nodeId ?? hostname();
  }

  private get log(): Logger {
    return this.opts.logger;
  }

  /** The volume a request names, or NOT_FOUND (unparsable id, unknown pool). */
  private volume(volumeId: string): { ref: VolumeRef; pool: PoolConfig } {
    const ref = parseVolumeId(volumeId);
    if (!ref) throw notFound(`volume ${JSON.stringify(volumeId)} does not exist (not a famfs-csi volume id)`);
    const pool = this.opts.pools.find((p) => p.name === ref.pool);
    if (!pool) throw notFound(`volume ${volumeId}: pool ${ref.pool} is not configured on this node (configured: ${this.opts.pools.map((p) => p.name).join(', ') || 'none'})`);
    return { ref, pool };
  }

  private requireVolumeId(volumeId: string): void {
    if (!volumeId) throw invalidArgument('volume_id: missing');
  }

  private capabilityFlags(cap: VolumeCapability | null | undefined): { cap: VolumeCapability; flags: MountFlags } {
    const c = requireCapability(cap, 'volume_capability');
    const flags = parseMountFlags(c.mount?.mount_flags ?? [], 'volume_capability.mount.mount_flags');
    return { cap: c, flags };
  }

  /** The pool's device is here and holds a famfs superblock with the uuid the volume was made in. */
  private checkPool(pool: PoolConfig, volumeId: string, poolUuid: string | undefined): void {
    if (!existsSync(pool.device)) throw failedPrecondition(`volume ${volumeId}: pool ${pool.name}'s device ${pool.device} does not exist on node ${this.nodeId}`);
    let dev;
    try {
      dev = openDaxDevice(pool.device, { writable: false });
    } catch (e) {
      throw unavailable(`pool ${pool.name}: ${(e as Error).message}`);
    }
    try {
      const verdict = readSuperblock(dev);
      if (!verdict.ok) throw failedPrecondition(`pool ${pool.name}: ${pool.device}: ${verdict.reason}`);
      if (poolUuid && verdict.superblock.uuid !== poolUuid) {
        throw failedPrecondition(
          `volume ${volumeId} was created in pool ${pool.name} with file system uuid ${poolUuid}, but ${pool.device} now holds famfs uuid ${verdict.superblock.uuid} (was the pool re-formatted?)`,
        );
      }
    } finally {
      dev.close();
    }
  }

  /** Creates the leaf directory `path` if it is missing (never its parents). */
  private makeLeafDir(field: string, path: string): void {
    try {
      mkdirSync(path, { mode: 0o750 });
      return;
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') throw failedPrecondition(`${field}: the parent directory of ${path} does not exist (the CO creates it)`);
      if (code !== 'EEXIST') throw internal(`${field}: cannot create ${path}: ${(e as Error).message}`);
    }
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      throw internal(`${field}: cannot stat ${path}: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw failedPrecondition(`${field}: ${path} exists and is not a directory`);
  }

  /**
   * Unmounts every famfs mount stacked at `path`; a dead one (its server is gone) is detached
   * lazily when a normal unmount fails. A mount that is not famfs is left alone: FAILED_PRECONDITION.
   */
  private async unmountAll(field: string, path: string, ref: VolumeRef | null): Promise<number> {
    let n = 0;
    for (; n < MAX_STACKED; n++) {
      const m = findMount(path);
      if (!m) return n;
      if (m.fsType !== FUSE_FSTYPE) throw failedPrecondition(`${field}: ${path} holds a ${describe(m)}, not a famfs volume; not unmounting it`);
      if (ref && m.root !== volumeRoot(ref)) this.log.warn('unmounting a famfs mount of another volume', { path, root: m.root, volume: `${ref.pool}:${ref.id}` });
      try {
        await this.opts.mounter.unmount(path);
      } catch (e) {
        const probe = await probePath(path, this.probeTimeoutMs);
        if (probe.ok || !isDeadMountCode(probe.code)) throw e instanceof MountError ? internal(e.message) : e;
        this.log.warn('unmount of a dead FUSE mount failed; detaching it lazily', { path, error: (e as Error).message });
        await this.opts.mounter.unmount(path, { lazy: true });
      }
    }
    throw internal(`${field}: ${path} still has mounts after ${MAX_STACKED} unmounts`);
  }

  /** Polls until `<mp>/csi/<id>/data` is visible (the server catches up with the log on lookup). */
  private async waitVisible(mp: string, ref: VolumeRef, volumeId: string): Promise<void> {
    const data = join(mp, VOLUMES_DIR, ref.id, DATA_FILE);
    const deadline = Date.now() + this.volumeWaitMs;
    let last = '';
    for (;;) {
      const probe = await probePath(data, this.probeTimeoutMs);
      if (probe.ok) {
        if (!probe.stats.isFile()) throw internal(`volume ${volumeId}: ${data} is not a regular file`);
        return;
      }
      if (isDeadMountCode(probe.code) || probe.code === 'ETIMEDOUT') throw unavailable(`volume ${volumeId}: the FUSE server of pool ${ref.pool} stopped answering: ${probe.message}`);
      last = probe.code;
      if (Date.now() >= deadline) break;
      await sleep(100);
    }
    throw notFound(`volume ${volumeId} does not exist in pool ${ref.pool} (${VOLUMES_DIR}/${ref.id}/${DATA_FILE} not visible after ${this.volumeWaitMs} ms: ${last}); it was deleted or never created`);
  }

  /** Binds the volume's directory in the pool mount onto `staging` (which holds no mount). */
  private async stageInto(staging: string, ref: VolumeRef, pool: PoolConfig, volumeId: string, flags: MountFlags): Promise<void> {
    const mp = await this.opts.servers.ensureMounted(pool);
    await this.waitVisible(mp, ref, volumeId);
    this.makeLeafDir('staging_target_path', staging);
    try {
      await this.opts.mounter.bindWithFlags(join(mp, VOLUMES_DIR, ref.id), staging, flags.readOnly ?? false, flags.extra);
    } catch (e) {
      throw e instanceof MountError ? internal(`volume ${volumeId}: ${e.message}`) : e;
    }
    if (!isVolumeMount(findMount(staging), ref)) throw internal(`volume ${volumeId}: the bind mount at ${staging} does not show in the mount table`);
    this.log.info('volume staged', { volume: volumeId, staging, pool: pool.name });
  }

  /**
   * An existing mount of this volume at `path`: 'ok' when it answers, 'dead' (after detaching it)
   * when its FUSE server is gone. A live mount served from another configured pool's device (the
   * same <id> in two pools, which the controller never creates) is ALREADY_EXISTS. A live mount
   * from an older server of the same pool (its pool mount was unmounted, the server still serves
   * the bind mounts) is fine: it shows the same memory.
   */
  private async checkExistingVolumeMount(field: string, path: string, m: MountInfo, ref: VolumeRef, volumeId: string, pool: PoolConfig): Promise<'ok' | 'dead'> {
    const probe = await probePath(path, this.probeTimeoutMs);
    if (probe.ok) {
      const other = this.opts.pools.find((p) => p.name !== pool.name && p.device === m.source);
      if (other) throw alreadyExists(`${field}: ${path} holds ${volumeRoot(ref).slice(1)} of pool ${other.name} (${m.source}), not volume ${volumeId}`);
      return 'ok';
    }
    if (!isDeadMountCode(probe.code)) throw unavailable(`${field}: ${path}: the FUSE server does not answer: ${probe.message}`);
    this.log.error('a mount of this volume is dead (its FUSE server is gone); replacing it', { volume: volumeId, path, error: probe.message });
    await this.unmountAll(field, path, ref);
    return 'dead';
  }

  async nodeStageVolume(req: NodeStageVolumeRequest): Promise<NodeStageVolumeResponse> {
    this.requireVolumeId(req.volume_id);
    checkPathSyntax('staging_target_path', req.staging_target_path);
    const { flags } = this.capabilityFlags(req.volume_capability);
    const staging = checkTargetPath('staging_target_path', req.staging_target_path, this.policy);
    const { ref, pool } = this.volume(req.volume_id);
    this.checkPool(pool, req.volume_id, req.volume_context?.poolUuid);
    const health = this.opts.health?.volumeHealth(ref);
    if (health?.abnormal) {
      throw failedPrecondition(`volume ${req.volume_id}: not staging a volume whose memory has errors: ${health.message}. Clear the errors first (emulated pools: famfs-csi pool clear-errors; devdax: see README "When memory fails")`);
    }

    const existing = findMount(staging);
    if (existing) {
      if (!isVolumeMount(existing, ref)) throw alreadyExists(`staging_target_path: ${staging} already holds a ${describe(existing)}, not volume ${req.volume_id}`);
      if ((await this.checkExistingVolumeMount('staging_target_path', staging, existing, ref, req.volume_id, pool)) === 'ok') {
        if (flags.readOnly !== undefined && flags.readOnly !== isReadOnlyMount(existing)) {
          throw alreadyExists(`staging_target_path: volume ${req.volume_id} is already staged at ${staging} ${isReadOnlyMount(existing) ? 'read-only' : 'read-write'}`);
        }
        return {};
      }
    }
    await this.stageInto(staging, ref, pool, req.volume_id, flags);
    return {};
  }

  async nodeUnstageVolume(req: NodeUnstageVolumeRequest): Promise<NodeUnstageVolumeResponse> {
    this.requireVolumeId(req.volume_id);
    const staging = checkTargetPath('staging_target_path', req.staging_target_path, this.policy);
    const n = await this.unmountAll('staging_target_path', staging, parseVolumeId(req.volume_id));
    if (n > 0) this.log.info('volume unstaged', { volume: req.volume_id, staging });
    return {};
  }

  async nodePublishVolume(req: NodePublishVolumeRequest): Promise<NodePublishVolumeResponse> {
    this.requireVolumeId(req.volume_id);
    checkPathSyntax('staging_target_path', req.staging_target_path);
    checkPathSyntax('target_path', req.target_path);
    const { cap, flags } = this.capabilityFlags(req.volume_capability);
    const staging = checkTargetPath('staging_target_path', req.staging_target_path, this.policy);
    const target = checkTargetPath('target_path', req.target_path, this.policy);
    if (staging === target) throw invalidArgument(`target_path: ${JSON.stringify(req.target_path)} is the staging path`);
    const { ref, pool } = this.volume(req.volume_id);
    // Read-only wins: the request's readonly, an "ro" flag, a reader-only access mode, or a
    // staging mount that is read-only (a bind mount of it would be read-only anyway).
    let readOnly = req.readonly || flags.readOnly === true || READ_ONLY_MODES.includes(String(cap.access_mode?.mode));

    let staged = findMount(staging);
    if (!isVolumeMount(staged, ref)) {
      throw failedPrecondition(`staging_target_path: volume ${req.volume_id} is not staged at ${staging}${staged ? ` (it holds a ${describe(staged)})` : ''}; call NodeStageVolume first`);
    }
    const stagedProbe = await probePath(staging, this.probeTimeoutMs);
    if (!stagedProbe.ok) {
      if (!isDeadMountCode(stagedProbe.code)) throw unavailable(`staging_target_path: ${staging}: the FUSE server does not answer: ${stagedProbe.message}`);
      // The pool's server died since NodeStage: stage again (a new server) before publishing.
      this.log.error('the staged volume is dead (its FUSE server is gone); staging it again', { volume: req.volume_id, staging, error: stagedProbe.message });
      await this.unmountAll('staging_target_path', staging, ref);
      this.checkPool(pool, req.volume_id, req.volume_context?.poolUuid);
      await this.stageInto(staging, ref, pool, req.volume_id, { readOnly: undefined, extra: flags.extra });
      staged = findMount(staging)!;
    }
    readOnly ||= isReadOnlyMount(staged);

    const existing = findMount(target);
    if (existing) {
      if (!isVolumeMount(existing, ref)) throw alreadyExists(`target_path: ${target} already holds a ${describe(existing)}, not volume ${req.volume_id}`);
      // Same device as the (live) staged mount: live as well. Otherwise look at it.
      if (sameDevice(existing, staged) || (await this.checkExistingVolumeMount('target_path', target, existing, ref, req.volume_id, pool)) === 'ok') {
        if (isReadOnlyMount(existing) !== readOnly) {
          throw alreadyExists(`target_path: volume ${req.volume_id} is already published at ${target} ${isReadOnlyMount(existing) ? 'read-only' : 'read-write'}, not ${readOnly ? 'read-only' : 'read-write'}`);
        }
        return {};
      }
    }
    this.makeLeafDir('target_path', target);
    try {
      await this.opts.mounter.bindWithFlags(staging, target, readOnly, flags.extra);
    } catch (e) {
      throw e instanceof MountError ? internal(`volume ${req.volume_id}: ${e.message}`) : e;
    }
    const now = findMount(target);
    if (!isVolumeMount(now, ref) || isReadOnlyMount(now) !== readOnly) throw internal(`volume ${req.volume_id}: the bind mount at ${target} does not show in the mount table as expected`);
    this.log.info('volume published', { volume: req.volume_id, target, readOnly });
    return {};
  }

  async nodeUnpublishVolume(req: NodeUnpublishVolumeRequest): Promise<NodeUnpublishVolumeResponse> {
    this.requireVolumeId(req.volume_id);
    const target = checkTargetPath('target_path', req.target_path, this.policy);
    const n = await this.unmountAll('target_path', target, parseVolumeId(req.volume_id));
    try {
      rmdirSync(target);
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw failedPrecondition(`target_path: ${target} is not a mount any more but holds files; not removing them`);
      if (code === 'ENOTDIR') throw failedPrecondition(`target_path: ${target} is not a directory; not removing it`);
      if (code !== 'ENOENT') throw internal(`target_path: cannot remove ${target}: ${(e as Error).message}`);
    }
    if (n > 0) this.log.info('volume unpublished', { volume: req.volume_id, target });
    return {};
  }

  /**
   * Usage of a famfs volume: its file is fully allocated when the volume is created and never
   * changes size, so BYTES total = used = the file size and available = 0; INODES 1/1/0.
   * A dead FUSE server or a vanished file gives abnormal: true (and zero usage), never an error.
   */
  async nodeGetVolumeStats(req: NodeGetVolumeStatsRequest): Promise<NodeGetVolumeStatsResponse> {
    this.requireVolumeId(req.volume_id);
    if (!req.volume_path) throw invalidArgument('volume_path: missing');
    checkPathSyntax('volume_path', req.volume_path);
    const ref = parseVolumeId(req.volume_id);
    if (!ref) throw notFound(`volume ${JSON.stringify(req.volume_id)} does not exist (not a famfs-csi volume id)`);
    let path: string;
    try {
      path = canonicalParent(req.volume_path);
    } catch (e) {
      throw notFound(`volume_path: ${req.volume_path}: ${(e as Error).message}`);
    }
    const mounts = readMountinfo();
    const found = containingMount(path, mounts);
    const root = volumeRoot(ref);
    if (!found || found.mount.fsType !== FUSE_FSTYPE || (found.fsPath !== root && !found.fsPath.startsWith(root + '/'))) {
      throw notFound(`volume_path: ${req.volume_path} is not a mount of volume ${req.volume_id} on this node`);
    }
    const { mount } = found;
    // The data file, reached through the mount that holds the volume directory.
    const dataFs = `${root}/${DATA_FILE}`;
    const relRoot = mount.root === '/' ? '' : mount.root;
    if (dataFs !== relRoot && !dataFs.startsWith(relRoot + '/')) throw notFound(`volume_path: ${req.volume_path} is not a mount of volume ${req.volume_id} on this node`);
    const data = `${mount.mountPoint === '/' ? '' : mount.mountPoint}${dataFs.slice(relRoot.length)}` || '/';
    const probe = await probePath(data, this.probeTimeoutMs);
    if (probe.ok) {
      const size = probe.stats.size;
      const health = this.opts.health?.volumeHealth(ref);
      if (health?.abnormal) this.log.warn('volume is abnormal', { volume: req.volume_id, volume_path: req.volume_path, condition: health.message });
      return {
        usage: [
          { unit: 'BYTES', total: size, used: size, available: 0 },
          { unit: 'INODES', total: 1, used: 1, available: 0 },
        ],
        volume_condition: health?.abnormal ? { abnormal: true, message: health.message } : { abnormal: false, message: HEALTHY_MESSAGE },
      };
    }
    const poolMount = this.opts.servers.mountpoint(ref.pool);
    const when = new Date().toISOString();
    let message: string;
    if (isDeadMountCode(probe.code)) {
      message = `the famfs FUSE server of pool ${ref.pool} (mounted at ${poolMount}) is gone: ${probe.code} at ${when}; restart the pod after the next volume stage on this node starts a new server`;
    } else if (probe.code === 'ENOENT') {
      message = `the volume's file ${VOLUMES_DIR}/${ref.id}/${DATA_FILE} no longer exists in pool ${ref.pool} (deleted while in use?), seen at ${when}`;
    } else {
      message = `cannot stat the volume's file through the pool ${ref.pool} FUSE mount ${poolMount}: ${probe.message} at ${when}`;
    }
    this.log.error('volume is abnormal', { volume: req.volume_id, volume_path: req.volume_path, error: probe.message, code: probe.code });
    return {
      usage: [
        { unit: 'BYTES', total: 0, used: 0, available: 0 },
        { unit: 'INODES', total: 0, used: 0, available: 0 },
      ],
      volume_condition: { abnormal: true, message },
    };
  }

  async nodeGetCapabilities(): Promise<NodeGetCapabilitiesResponse> {
    return { capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) };
  }

  /** Topology: one segment per configured pool whose device exists on this node. */
  async nodeGetInfo(): Promise<NodeGetInfoResponse> {
    const segments: Record<string, string> = {};
    for (const p of this.opts.pools) if (existsSync(p.device)) Object.assign(segments, poolTopology(p.name).segments);
    return { node_id: this.nodeId, max_volumes_per_node: 0, accessible_topology: { segments } };
  }

  rpcs(): RpcTable {
    const byId = (r: { volume_id: string }) => (r.volume_id ? `id:${r.volume_id}` : undefined);
    return {
      NodeStageVolume: { handler: (r: NodeStageVolumeRequest) => this.nodeStageVolume(r), lockKey: byId },
      NodeUnstageVolume: { handler: (r: NodeUnstageVolumeRequest) => this.nodeUnstageVolume(r), lockKey: byId },
      NodePublishVolume: { handler: (r: NodePublishVolumeRequest) => this.nodePublishVolume(r), lockKey: byId },
      NodeUnpublishVolume: { handler: (r: NodeUnpublishVolumeRequest) => this.nodeUnpublishVolume(r), lockKey: byId },
      // Stats only read; they never wait behind a slow stage of the same volume.
      NodeGetVolumeStats: { handler: (r: NodeGetVolumeStatsRequest) => this.nodeGetVolumeStats(r) },
      NodeGetCapabilities: { handler: () => this.nodeGetCapabilities() },
      NodeGetInfo: { handler: () => this.nodeGetInfo() },
    };
  }
}
