/**
 * ValidateVolumeCapabilities, ControllerGetVolume, ControllerGetCapabilities, and the RPCs the
 * controller does not implement.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_CAP, MiB, capacity, createReq, expectError, expectedId, grpc, mountCap, startPlugin } from './harness.js';

const { INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED } = grpc.status;

interface Vol {
  volume_id: string;
  capacity_bytes: string;
  volume_context: Record<string, string>;
  accessible_topology: unknown[];
}

test('ValidateVolumeCapabilities: required fields, unknown volumes, supported and unsupported capabilities', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const v = (await c.call<{ volume: Vol }>('CreateVolume', createReq('vvc', capacity(4 * MiB)))).volume;
  await expectError(c.call('ValidateVolumeCapabilities', { volume_capabilities: [mountCap()] }), INVALID_ARGUMENT, /volume_id: missing/);
  await expectError(c.call('ValidateVolumeCapabilities', { volume_id: v.volume_id }), INVALID_ARGUMENT, /volume_capabilities: at least one volume capability is required/);
  await expectError(c.call('ValidateVolumeCapabilities', { volume_id: v.volume_id, volume_capabilities: [] }), INVALID_ARGUMENT, /volume_capabilities/);
  await expectError(c.call('ValidateVolumeCapabilities', { volume_id: expectedId('nope'), volume_capabilities: [mountCap()] }), NOT_FOUND, /does not exist in pool p0/);
  await expectError(c.call('ValidateVolumeCapabilities', { volume_id: 'garbage', volume_capabilities: [mountCap()] }), NOT_FOUND, /"garbage" does not exist/);
  await expectError(c.call('ValidateVolumeCapabilities', { volume_id: 'other:0123456789abcdef0123456789abcdef', volume_capabilities: [mountCap()] }), NOT_FOUND, /not a famfs-csi volume id of a configured pool/);

  const caps = [mountCap('MULTI_NODE_MULTI_WRITER'), mountCap('SINGLE_NODE_READER_ONLY', 'famfs')];
  const ok = await c.call<{ confirmed: { volume_capabilities: { mount: { fs_type: string }; access_mode: { mode: string } }[]; volume_context: Record<string, string>; parameters: Record<string, string> } | null; message: string }>(
    'ValidateVolumeCapabilities',
    { volume_id: v.volume_id, volume_capabilities: caps, volume_context: v.volume_context, parameters: { mode: '0660' } },
  );
  assert.ok(ok.confirmed, `confirmed: ${ok.message}`);
  assert.deepEqual(ok.confirmed.volume_capabilities.map((x) => [x.mount.fs_type, x.access_mode.mode]), [['', 'MULTI_NODE_MULTI_WRITER'], ['famfs', 'SINGLE_NODE_READER_ONLY']]);
  assert.deepEqual(ok.confirmed.volume_context, v.volume_context);
  assert.deepEqual(ok.confirmed.parameters, { mode: '0660' });
  for (const mode of ['SINGLE_NODE_WRITER', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER']) {
    assert.ok((await c.call<{ confirmed: unknown }>('ValidateVolumeCapabilities', { volume_id: v.volume_id, volume_capabilities: [mountCap(mode)] })).confirmed, mode);
  }

  const unsupported: [object[], RegExp][] = [
    [[BLOCK_CAP], /volume_capabilities\[0\]: block volumes are not supported/],
    [[mountCap(), BLOCK_CAP], /volume_capabilities\[1\]: block volumes are not supported/],
    [[mountCap('SINGLE_NODE_WRITER', 'ext4')], /fs_type: "ext4" is not supported/],
    [[mountCap('UNKNOWN')], /UNKNOWN is not a known access mode/],
  ];
  for (const [volume_capabilities, message] of unsupported) {
    const r = await c.call<{ confirmed: unknown; message: string }>('ValidateVolumeCapabilities', { volume_id: v.volume_id, volume_capabilities });
    assert.equal(r.confirmed, null, 'not confirmed');
    assert.match(r.message, message);
  }
  const badParams = await c.call<{ confirmed: unknown; message: string }>('ValidateVolumeCapabilities', { volume_id: v.volume_id, volume_capabilities: [mountCap()], parameters: { color: 'blue' } });
  assert.equal(badParams.confirmed, null);
  assert.match(badParams.message, /unknown key "color"/);
  env.assertClean();
});

test('ControllerGetVolume: required id, unknown volumes, an existing volume', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  await expectError(c.call('ControllerGetVolume', { volume_id: '' }), INVALID_ARGUMENT, /volume_id: missing/);
  await expectError(c.call('ControllerGetVolume', { volume_id: expectedId('ghost') }), NOT_FOUND, /volume p0:[0-9a-f]{32} does not exist in pool p0/);
  await expectError(c.call('ControllerGetVolume', { volume_id: 'p0:zz' }), NOT_FOUND, /does not exist/);
  const v = (await c.call<{ volume: Vol }>('CreateVolume', createReq('get-me', capacity(10 * MiB)))).volume;
  const got = await c.call<{ volume: Vol & { content_source: unknown }; status: { published_node_ids: string[]; volume_condition: unknown } }>('ControllerGetVolume', { volume_id: v.volume_id });
  assert.deepEqual(got.volume, { ...v, content_source: null });
  assert.equal(got.volume.capacity_bytes, String(10 * MiB));
  assert.deepEqual(got.status.published_node_ids, []);
  env.assertClean();
});

test('ControllerGetCapabilities lists exactly what the controller implements', async (t) => {
  const env = await startPlugin(t);
  const r = await env.client.call<{ capabilities: { rpc: { type: string } }[] }>('ControllerGetCapabilities', {});
  assert.deepEqual(r.capabilities.map((x) => x.rpc.type).sort(), ['CREATE_DELETE_VOLUME', 'GET_CAPACITY', 'GET_VOLUME', 'LIST_VOLUMES', 'SINGLE_NODE_MULTI_WRITER', 'VOLUME_CONDITION']);
});

test('RPCs the controller does not implement are UNIMPLEMENTED', async (t) => {
  const env = await startPlugin(t);
  const c = env.client;
  const calls: [string, object][] = [
    ['ControllerPublishVolume', { volume_id: expectedId('x'), node_id: 'n1', volume_capability: mountCap() }],
    ['ControllerUnpublishVolume', { volume_id: expectedId('x'), node_id: 'n1' }],
    ['CreateSnapshot', { source_volume_id: expectedId('x'), name: 'snap' }],
    ['DeleteSnapshot', { snapshot_id: 's' }],
    ['ListSnapshots', {}],
    ['GetSnapshot', { snapshot_id: 's' }],
    ['ControllerExpandVolume', { volume_id: expectedId('x'), capacity_range: { required_bytes: String(64 * MiB) } }],
    ['ControllerModifyVolume', { volume_id: expectedId('x'), mutable_parameters: { a: 'b' } }],
    ['GroupControllerGetCapabilities', {}],
    ['CreateVolumeGroupSnapshot', { name: 'g', source_volume_ids: [expectedId('x')] }],
    ['NodeGetInfo', {}],
    ['NodeGetCapabilities', {}],
    ['NodePublishVolume', { volume_id: expectedId('x'), target_path: '/mnt/x', volume_capability: mountCap() }],
  ];
  for (const [method, req] of calls) await expectError(c.call(method, req), UNIMPLEMENTED, /does not implement the method/);
  env.assertClean();
});
