/**
 * TypeScript shapes of the CSI v1.12.0 messages (proto/csi.proto) for the
 * Identity, Controller and Node services, as @grpc/proto-loader produces and
 * accepts them with
 *   { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }.
 *
 * Conventions
 * - Requests are the DECODED shapes a server handler receives: every field is
 *   present (defaults filled in), strings default to '', maps to {}, repeated
 *   fields to [], int64 arrives as a decimal string, enums as their names, and
 *   unset sub-messages as null. Oneof members are present only when set, and
 *   the oneof itself appears as a virtual field naming the member that is set
 *   (e.g. `access_type: 'mount'`), absent when none is.
 *   An enum number unknown to this schema decodes as a plain number at run
 *   time; the enum name unions below do not model that, so always keep a
 *   default branch when switching on them.
 * - Responses are the ENCODE shapes a handler returns: int64 may be a number
 *   or a decimal string, enums a name or a number, every field may be omitted
 *   except those the spec marks REQUIRED, and sub-messages may be null.
 *   Every decoded shape is assignable to the matching `...Input` shape, so
 *   request data can be echoed back in a response.
 * - google.protobuf wrappers are `{ value }` objects; Timestamp is
 *   `{ seconds, nanos }`.
 *
 * The `..._NAMES` arrays list enum names in wire-number order, so
 * `ACCESS_MODES[n]` is the name of wire value n.
 */

// ---- Scalars and well-known types --------------------------------------------

/** int64 as decoded (longs: String): a decimal string. */
export type Int64 = string;
/** int64 as accepted on encode. */
export type Int64Input = string | number;
/** A string map (proto `map<string, string>`). */
export type StringMap = Record<string, string>;

/** google.protobuf.Timestamp, decoded. */
export interface Timestamp {
  seconds: Int64;
  nanos: number;
}
/** google.protobuf.Timestamp, for encoding. */
export interface TimestampInput {
  seconds: Int64Input;
  nanos?: number;
}
/** google.protobuf.BoolValue, for encoding. */
export interface BoolValueInput {
  value?: boolean;
}
/** google.protobuf.Int64Value, for encoding. */
export interface Int64ValueInput {
  value?: Int64Input;
}

// ---- Enums (names in wire-number order) ---------------------------------------

/** VolumeCapability.AccessMode.Mode (6 and 7 are alpha). */
export const ACCESS_MODES = [
  'UNKNOWN',
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'MULTI_NODE_READER_ONLY',
  'MULTI_NODE_SINGLE_WRITER',
  'MULTI_NODE_MULTI_WRITER',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
] as const;
export type AccessModeName = (typeof ACCESS_MODES)[number];

/** PluginCapability.Service.Type (4 is alpha). */
export const PLUGIN_SERVICE_TYPES = [
  'UNKNOWN',
  'CONTROLLER_SERVICE',
  'VOLUME_ACCESSIBILITY_CONSTRAINTS',
  'GROUP_CONTROLLER_SERVICE',
  'SNAPSHOT_METADATA_SERVICE',
] as const;
export type PluginServiceType = (typeof PLUGIN_SERVICE_TYPES)[number];

/** PluginCapability.VolumeExpansion.Type. */
export const VOLUME_EXPANSION_TYPES = ['UNKNOWN', 'ONLINE', 'OFFLINE'] as const;
export type VolumeExpansionType = (typeof VOLUME_EXPANSION_TYPES)[number];

/** ControllerServiceCapability.RPC.Type (11, 12, 13 and 15 are alpha). */
export const CONTROLLER_CAPABILITIES = [
  'UNKNOWN',
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'PUBLISH_READONLY',
  'EXPAND_VOLUME',
  'LIST_VOLUMES_PUBLISHED_NODES',
  'VOLUME_CONDITION',
  'GET_VOLUME',
  'SINGLE_NODE_MULTI_WRITER',
  'MODIFY_VOLUME',
  'GET_SNAPSHOT',
] as const;
export type ControllerCapabilityName = (typeof CONTROLLER_CAPABILITIES)[number];

/** NodeServiceCapability.RPC.Type (4 and 5 are alpha). */
export const NODE_CAPABILITIES = [
  'UNKNOWN',
  'STAGE_UNSTAGE_VOLUME',
  'GET_VOLUME_STATS',
  'EXPAND_VOLUME',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
  'VOLUME_MOUNT_GROUP',
] as const;
export type NodeCapabilityName = (typeof NODE_CAPABILITIES)[number];

/** VolumeUsage.Unit. */
export const VOLUME_USAGE_UNITS = ['UNKNOWN', 'BYTES', 'INODES'] as const;
export type VolumeUsageUnit = (typeof VOLUME_USAGE_UNITS)[number];

// ---- Shared volume types ------------------------------------------------------

/** VolumeCapability.BlockVolume: no fields. */
export type BlockVolume = Record<string, never>;

/** VolumeCapability.MountVolume, decoded. */
export interface MountVolume {
  fs_type: string;
  mount_flags: string[];
  volume_mount_group: string;
}

/** VolumeCapability.AccessMode, decoded. */
export interface AccessMode {
  mode: AccessModeName;
}

/** VolumeCapability, decoded: oneof access_type { block = 1; mount = 2 }. */
export interface VolumeCapability {
  block?: BlockVolume;
  mount?: MountVolume;
  access_type?: 'block' | 'mount';
  access_mode: AccessMode | null;
}

/** VolumeCapability, for encoding. */
export interface VolumeCapabilityInput {
  block?: BlockVolume | null;
  mount?: Partial<MountVolume> | null;
  access_type?: 'block' | 'mount';
  access_mode?: { mode?: AccessModeName | number } | null;
}

/** CapacityRange, decoded ('0' = unspecified). */
export interface CapacityRange {
  required_bytes: Int64;
  limit_bytes: Int64;
}

/** Topology, decoded: segment key/value pairs. */
export interface Topology {
  segments: StringMap;
}

/** Topology, for encoding. */
export interface TopologyInput {
  segments?: StringMap;
}

/** TopologyRequirement, decoded. */
export interface TopologyRequirement {
  requisite: Topology[];
  preferred: Topology[];
}

/** VolumeContentSource, decoded: oneof type { snapshot = 1; volume = 2 }. */
export interface VolumeContentSource {
  snapshot?: { snapshot_id: string };
  volume?: { volume_id: string };
  type?: 'snapshot' | 'volume';
}

/** VolumeContentSource, for encoding. */
export interface VolumeContentSourceInput {
  snapshot?: { snapshot_id?: string } | null;
  volume?: { volume_id?: string } | null;
  type?: 'snapshot' | 'volume';
}

/** Volume, decoded (as a CO client sees it). */
export interface Volume {
  capacity_bytes: Int64;
  volume_id: string;
  volume_context: StringMap;
  content_source: VolumeContentSource | null;
  accessible_topology: Topology[];
}

/** Volume, for encoding. */
export interface VolumeInput {
  capacity_bytes?: Int64Input;
  volume_id: string;
  volume_context?: StringMap;
  content_source?: VolumeContentSourceInput | null;
  accessible_topology?: TopologyInput[];
}

/** VolumeCondition (alpha message), decoded. */
export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}

/** VolumeCondition, for encoding. */
export interface VolumeConditionInput {
  abnormal: boolean;
  message: string;
}

/** VolumeUsage, decoded. */
export interface VolumeUsage {
  available: Int64;
  total: Int64;
  used: Int64;
  unit: VolumeUsageUnit;
}

/** VolumeUsage, for encoding. */
export interface VolumeUsageInput {
  available?: Int64Input;
  total?: Int64Input;
  used?: Int64Input;
  unit: VolumeUsageUnit | number;
}

/** Snapshot, decoded (as a CO client sees it). */
export interface Snapshot {
  size_bytes: Int64;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: Timestamp | null;
  ready_to_use: boolean;
  group_snapshot_id: string;
}

/** Snapshot, for encoding. */
export interface SnapshotInput {
  size_bytes?: Int64Input;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: TimestampInput | null;
  ready_to_use: boolean;
  group_snapshot_id?: string;
}

// ---- Identity service ------------------------------------------------------------

export type GetPluginInfoRequest = Record<string, never>;
export interface GetPluginInfoResponse {
  name: string;
  vendor_version: string;
  manifest?: StringMap;
}

export type GetPluginCapabilitiesRequest = Record<string, never>;
/** PluginCapability, decoded: oneof type { service = 1; volume_expansion = 2 }. */
export interface PluginCapability {
  service?: { type: PluginServiceType };
  volume_expansion?: { type: VolumeExpansionType };
  type?: 'service' | 'volume_expansion';
}
/** PluginCapability, for encoding. */
export interface PluginCapabilityInput {
  service?: { type?: PluginServiceType | number } | null;
  volume_expansion?: { type?: VolumeExpansionType | number } | null;
  type?: 'service' | 'volume_expansion';
}
export interface GetPluginCapabilitiesResponse {
  capabilities?: PluginCapabilityInput[];
}

export type ProbeRequest = Record<string, never>;
/** An omitted `ready` means ready. */
export interface ProbeResponse {
  ready?: BoolValueInput | null;
}

// ---- Controller service ------------------------------------------------------------

export interface CreateVolumeRequest {
  name: string;
  capacity_range: CapacityRange | null;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  /** csi_secret: never log. */
  secrets: StringMap;
  volume_content_source: VolumeContentSource | null;
  accessibility_requirements: TopologyRequirement | null;
  mutable_parameters: StringMap;
}
export interface CreateVolumeResponse {
  volume: VolumeInput | null;
}

export interface DeleteVolumeRequest {
  volume_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
}
export type DeleteVolumeResponse = Record<string, never>;

export interface ControllerPublishVolumeRequest {
  volume_id: string;
  node_id: string;
  volume_capability: VolumeCapability | null;
  readonly: boolean;
  /** csi_secret: never log. */
  secrets: StringMap;
  volume_context: StringMap;
}
export interface ControllerPublishVolumeResponse {
  publish_context?: StringMap;
}

export interface ControllerUnpublishVolumeRequest {
  volume_id: string;
  node_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
}
export type ControllerUnpublishVolumeResponse = Record<string, never>;

export interface ValidateVolumeCapabilitiesRequest {
  volume_id: string;
  volume_context: StringMap;
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  /** csi_secret: never log. */
  secrets: StringMap;
  mutable_parameters: StringMap;
}
/** ValidateVolumeCapabilitiesResponse.Confirmed, for encoding. */
export interface ValidateVolumeCapabilitiesConfirmedInput {
  volume_context?: StringMap;
  volume_capabilities: VolumeCapabilityInput[];
  parameters?: StringMap;
  mutable_parameters?: StringMap;
}
/** `confirmed` is set only if every requested capability is supported. */
export interface ValidateVolumeCapabilitiesResponse {
  confirmed?: ValidateVolumeCapabilitiesConfirmedInput | null;
  message?: string;
}

export interface ListVolumesRequest {
  max_entries: number;
  starting_token: string;
}
/** ListVolumesResponse.VolumeStatus, for encoding. */
export interface ListVolumesVolumeStatusInput {
  published_node_ids?: string[];
  /** alpha field. */
  volume_condition?: VolumeConditionInput | null;
}
/** ListVolumesResponse.Entry, for encoding. */
export interface ListVolumesEntryInput {
  volume: VolumeInput | null;
  status?: ListVolumesVolumeStatusInput | null;
}
export interface ListVolumesResponse {
  entries?: ListVolumesEntryInput[];
  next_token?: string;
}

/** alpha message. */
export interface ControllerGetVolumeRequest {
  volume_id: string;
}
/** ControllerGetVolumeResponse.VolumeStatus, for encoding. */
export interface ControllerGetVolumeStatusInput {
  published_node_ids?: string[];
  volume_condition?: VolumeConditionInput | null;
}
/** alpha message. */
export interface ControllerGetVolumeResponse {
  volume: VolumeInput | null;
  status?: ControllerGetVolumeStatusInput | null;
}

export interface ControllerModifyVolumeRequest {
  volume_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
  mutable_parameters: StringMap;
}
export type ControllerModifyVolumeResponse = Record<string, never>;

export interface GetCapacityRequest {
  volume_capabilities: VolumeCapability[];
  parameters: StringMap;
  accessible_topology: Topology | null;
}
export interface GetCapacityResponse {
  available_capacity?: Int64Input;
  maximum_volume_size?: Int64ValueInput | null;
  /** alpha field. */
  minimum_volume_size?: Int64ValueInput | null;
}

export type ControllerGetCapabilitiesRequest = Record<string, never>;
/** ControllerServiceCapability, decoded: oneof type { rpc = 1 }. */
export interface ControllerServiceCapability {
  rpc?: { type: ControllerCapabilityName };
  type?: 'rpc';
}
/** ControllerServiceCapability, for encoding. */
export interface ControllerServiceCapabilityInput {
  rpc?: { type?: ControllerCapabilityName | number } | null;
  type?: 'rpc';
}
export interface ControllerGetCapabilitiesResponse {
  capabilities?: ControllerServiceCapabilityInput[];
}

export interface CreateSnapshotRequest {
  source_volume_id: string;
  name: string;
  /** csi_secret: never log. */
  secrets: StringMap;
  parameters: StringMap;
}
export interface CreateSnapshotResponse {
  snapshot: SnapshotInput | null;
}

export interface DeleteSnapshotRequest {
  snapshot_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
}
export type DeleteSnapshotResponse = Record<string, never>;

export interface ListSnapshotsRequest {
  max_entries: number;
  starting_token: string;
  source_volume_id: string;
  snapshot_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
}
export interface ListSnapshotsResponse {
  entries?: { snapshot: SnapshotInput | null }[];
  next_token?: string;
}

/** alpha message. */
export interface GetSnapshotRequest {
  snapshot_id: string;
  /** csi_secret: never log. */
  secrets: StringMap;
}
/** alpha message. */
export interface GetSnapshotResponse {
  snapshot: SnapshotInput | null;
}

export interface ControllerExpandVolumeRequest {
  volume_id: string;
  capacity_range: CapacityRange | null;
  /** csi_secret: never log. */
  secrets: StringMap;
  volume_capability: VolumeCapability | null;
}
export interface ControllerExpandVolumeResponse {
  capacity_bytes: Int64Input;
  node_expansion_required: boolean;
}

// ---- Node service ------------------------------------------------------------------

export interface NodeStageVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  volume_capability: VolumeCapability | null;
  /** csi_secret: never log. */
  secrets: StringMap;
  volume_context: StringMap;
}
export type NodeStageVolumeResponse = Record<string, never>;

export interface NodeUnstageVolumeRequest {
  volume_id: string;
  staging_target_path: string;
}
export type NodeUnstageVolumeResponse = Record<string, never>;

export interface NodePublishVolumeRequest {
  volume_id: string;
  publish_context: StringMap;
  staging_target_path: string;
  target_path: string;
  volume_capability: VolumeCapability | null;
  readonly: boolean;
  /** csi_secret: never log. */
  secrets: StringMap;
  volume_context: StringMap;
}
export type NodePublishVolumeResponse = Record<string, never>;

export interface NodeUnpublishVolumeRequest {
  volume_id: string;
  target_path: string;
}
export type NodeUnpublishVolumeResponse = Record<string, never>;

export interface NodeGetVolumeStatsRequest {
  volume_id: string;
  volume_path: string;
  staging_target_path: string;
}
export interface NodeGetVolumeStatsResponse {
  usage?: VolumeUsageInput[];
  /** alpha field. */
  volume_condition?: VolumeConditionInput | null;
}

export interface NodeExpandVolumeRequest {
  volume_id: string;
  volume_path: string;
  capacity_range: CapacityRange | null;
  staging_target_path: string;
  volume_capability: VolumeCapability | null;
  /** csi_secret (and alpha): never log. */
  secrets: StringMap;
}
export interface NodeExpandVolumeResponse {
  capacity_bytes?: Int64Input;
}

export type NodeGetCapabilitiesRequest = Record<string, never>;
/** NodeServiceCapability, decoded: oneof type { rpc = 1 }. */
export interface NodeServiceCapability {
  rpc?: { type: NodeCapabilityName };
  type?: 'rpc';
}
/** NodeServiceCapability, for encoding. */
export interface NodeServiceCapabilityInput {
  rpc?: { type?: NodeCapabilityName | number } | null;
  type?: 'rpc';
}
export interface NodeGetCapabilitiesResponse {
  capabilities?: NodeServiceCapabilityInput[];
}

export type NodeGetInfoRequest = Record<string, never>;
export interface NodeGetInfoResponse {
  node_id: string;
  max_volumes_per_node?: Int64Input;
  accessible_topology?: TopologyInput | null;
}

// ---- Method tables (request/response per rpc, types only) ----------------------------

/** Identity rpcs. */
export interface IdentityRpcs {
  GetPluginInfo: { request: GetPluginInfoRequest; response: GetPluginInfoResponse };
  GetPluginCapabilities: {
    request: GetPluginCapabilitiesRequest;
    response: GetPluginCapabilitiesResponse;
  };
  Probe: { request: ProbeRequest; response: ProbeResponse };
}

/** Controller rpcs (GetSnapshot and ControllerGetVolume are alpha). */
export interface ControllerRpcs {
  CreateVolume: { request: CreateVolumeRequest; response: CreateVolumeResponse };
  DeleteVolume: { request: DeleteVolumeRequest; response: DeleteVolumeResponse };
  ControllerPublishVolume: {
    request: ControllerPublishVolumeRequest;
    response: ControllerPublishVolumeResponse;
  };
  ControllerUnpublishVolume: {
    request: ControllerUnpublishVolumeRequest;
    response: ControllerUnpublishVolumeResponse;
  };
  ValidateVolumeCapabilities: {
    request: ValidateVolumeCapabilitiesRequest;
    response: ValidateVolumeCapabilitiesResponse;
  };
  ListVolumes: { request: ListVolumesRequest; response: ListVolumesResponse };
  GetCapacity: { request: GetCapacityRequest; response: GetCapacityResponse };
  ControllerGetCapabilities: {
    request: ControllerGetCapabilitiesRequest;
    response: ControllerGetCapabilitiesResponse;
  };
  CreateSnapshot: { request: CreateSnapshotRequest; response: CreateSnapshotResponse };
  DeleteSnapshot: { request: DeleteSnapshotRequest; response: DeleteSnapshotResponse };
  ListSnapshots: { request: ListSnapshotsRequest; response: ListSnapshotsResponse };
  GetSnapshot: { request: GetSnapshotRequest; response: GetSnapshotResponse };
  ControllerExpandVolume: {
    request: ControllerExpandVolumeRequest;
    response: ControllerExpandVolumeResponse;
  };
  ControllerGetVolume: {
    request: ControllerGetVolumeRequest;
    response: ControllerGetVolumeResponse;
  };
  ControllerModifyVolume: {
    request: ControllerModifyVolumeRequest;
    response: ControllerModifyVolumeResponse;
  };
}

/** Node rpcs. */
export interface NodeRpcs {
  NodeStageVolume: { request: NodeStageVolumeRequest; response: NodeStageVolumeResponse };
  NodeUnstageVolume: { request: NodeUnstageVolumeRequest; response: NodeUnstageVolumeResponse };
  NodePublishVolume: { request: NodePublishVolumeRequest; response: NodePublishVolumeResponse };
  NodeUnpublishVolume: {
    request: NodeUnpublishVolumeRequest;
    response: NodeUnpublishVolumeResponse;
  };
  NodeGetVolumeStats: {
    request: NodeGetVolumeStatsRequest;
    response: NodeGetVolumeStatsResponse;
  };
  NodeExpandVolume: { request: NodeExpandVolumeRequest; response: NodeExpandVolumeResponse };
  NodeGetCapabilities: {
    request: NodeGetCapabilitiesRequest;
    response: NodeGetCapabilitiesResponse;
  };
  NodeGetInfo: { request: NodeGetInfoRequest; response: NodeGetInfoResponse };
}
