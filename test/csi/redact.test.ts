import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { protoPath } from '../../src/csi/proto.js';
import { redactSecrets } from '../../src/csi/redact.js';

// protobufjs as bundled by @grpc/proto-loader (which also registers descriptor.proto with it).
const require = createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'));
const protobuf = require('protobufjs') as { Root: new () => { loadSync(path: string, opts: object): { resolveAll(): void } } };

interface Reflected {
  name: string;
  fieldsArray?: { name: string; options?: Record<string, unknown> }[];
  nestedArray?: Reflected[];
}

test('every csi_secret field of CSI v1.12.0 is named "secrets", so redaction by name is complete', () => {
  const root = new protobuf.Root().loadSync(protoPath(), { keepCase: true });
  root.resolveAll();

  const secret: string[] = [];
  const visit = (n: Reflected, path: string) => {
    for (const f of n.fieldsArray ?? []) if (f.options?.['(csi_secret)'] === true) secret.push(`${path}.${f.name}`);
    for (const c of n.nestedArray ?? []) visit(c, `${path}.${c.name}`);
  };
  visit(root as unknown as Reflected, '');
  assert.ok(secret.length >= 19, `found ${secret.length} secret fields`);
  for (const s of secret) assert.match(s, /\.secrets$/, `${s} is secret but not named "secrets"`);
});

test('redactSecrets keeps key names, drops values, at any depth, without touching the input', () => {
  const req = { name: 'v', secrets: { password: 'hunter2', token: 't0p' }, nested: [{ publish_secrets: { k: 'v' } }], parameters: { secretive: 'no' } };
  const out = redactSecrets(req);
  assert.deepEqual(out, { name: 'v', secrets: { password: '<redacted>', token: '<redacted>' }, nested: [{ publish_secrets: { k: '<redacted>' } }], parameters: { secretive: 'no' } });
  assert.equal(req.secrets.password, 'hunter2');
  assert.doesNotMatch(JSON.stringify(out), /hunter2|t0p/);
  assert.deepEqual(redactSecrets({ secrets: {} }), {}, 'empty secret maps are dropped');
  const publish = { volume_context: { pool: 'p0', 'csi.storage.k8s.io/serviceAccount.tokens': '{"aud":{"token":"eyJ..."}}' } };
  assert.deepEqual(redactSecrets(publish), { volume_context: { pool: 'p0', 'csi.storage.k8s.io/serviceAccount.tokens': '<redacted>' } });
});
