import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { CsiError } from '../../src/csi/errors.js';
import { canonicalParent, checkPathSyntax, checkTargetPath } from '../../src/node/paths.js';
import { scratchDir } from '../helpers/tmpPool.js';

function invalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CsiError, `expected a CsiError, got ${String(e)}`);
    assert.equal(e.code, status.INVALID_ARGUMENT);
    assert.match(e.message, re);
    return true;
  });
}

function layout() {
  const s = scratchDir();
  const kubelet = join(s.dir, 'kubelet');
  const state = join(s.dir, 'state');
  const outside = join(s.dir, 'outside');
  for (const d of [kubelet, state, outside, join(kubelet, 'pods', 'p1', 'volumes')]) mkdirSync(d, { recursive: true });
  return { ...s, kubelet, state, outside, policy: { kubeletDir: kubelet, stateDir: state } };
}

test('paths: syntax: absolute, normalized, no NUL', () => {
  assert.equal(checkPathSyntax('target_path', '/var/lib/kubelet/pods/x/mount'), '/var/lib/kubelet/pods/x/mount');
  invalid(() => checkPathSyntax('target_path', ''), /^target_path: missing$/);
  invalid(() => checkPathSyntax('target_path', 'var/lib/kubelet/x'), /target_path: "var\/lib\/kubelet\/x" must be an absolute path/);
  invalid(() => checkPathSyntax('target_path', './x'), /must be an absolute path/);
  for (const bad of ['/var/lib/kubelet/../../etc', '/var/lib/kubelet/./x', '/var/lib/kubelet/x/', '/var//lib/kubelet/x', '/var/lib/kubelet/x/..', '/var/lib/kubelet/x/.']) {
    invalid(() => checkPathSyntax('staging_target_path', bad), /staging_target_path: .* is not a normalized path/);
  }
  invalid(() => checkPathSyntax('target_path', '/var/lib/kubelet/x\0y'), /contains a NUL byte/);
  invalid(() => checkPathSyntax('target_path', '/' + 'a'.repeat(5000)), /longer than 4096 bytes/);
});

test('paths: inside the kubelet directory, never in the state directory', (t) => {
  const l = layout();
  t.after(l.cleanup);
  const ok = join(l.kubelet, 'pods', 'p1', 'volumes', 'mount');
  assert.equal(checkTargetPath('target_path', ok, l.policy), ok);
  // missing intermediate directories are fine (the CO creates them), the result stays canonical
  const deep = join(l.kubelet, 'plugins', 'kubernetes.io', 'csi', 'x', 'globalmount');
  assert.equal(checkTargetPath('staging_target_path', deep, l.policy), deep);

  invalid(() => checkTargetPath('target_path', join(l.outside, 'mount'), l.policy), /target_path: ".*outside\/mount" is not inside the kubelet directory/);
  invalid(() => checkTargetPath('target_path', '/etc', l.policy), /not inside the kubelet directory/);
  invalid(() => checkTargetPath('target_path', l.kubelet, l.policy), /not inside the kubelet directory/);
  invalid(() => checkTargetPath('target_path', l.kubelet + '-evil/x', l.policy), /not inside the kubelet directory/);
  invalid(() => checkTargetPath('target_path', `${l.kubelet}/../outside`, l.policy), /not a normalized path/);
  invalid(() => checkTargetPath('target_path', join(l.state, 'pools', 'pool0'), l.policy), /inside the plugin's state directory/);
  invalid(() => checkTargetPath('target_path', l.state, l.policy), /inside the plugin's state directory/);

  // a state directory inside the kubelet directory is still off limits
  const nested = { kubeletDir: l.kubelet, stateDir: join(l.kubelet, 'plugins', 'famfs.csi.io') };
  mkdirSync(nested.stateDir, { recursive: true });
  invalid(() => checkTargetPath('staging_target_path', join(nested.stateDir, 'pools', 'p'), nested), /inside the plugin's state directory/);
  assert.equal(checkTargetPath('staging_target_path', join(l.kubelet, 'plugins', 'other'), nested), join(l.kubelet, 'plugins', 'other'));
});

test('paths: symlinks cannot lead out of the kubelet directory', (t) => {
  const l = layout();
  t.after(l.cleanup);
  // an ancestor that is a symlink to a foreign directory
  symlinkSync(l.outside, join(l.kubelet, 'pods', 'escape'));
  invalid(() => checkTargetPath('target_path', join(l.kubelet, 'pods', 'escape', 'mount'), l.policy), /resolves to .*outside\/mount, outside the kubelet directory/);
  invalid(() => checkTargetPath('target_path', join(l.kubelet, 'pods', 'escape', 'a', 'b', 'mount'), l.policy), /outside the kubelet directory/);
  // ... or into the state directory
  symlinkSync(l.state, join(l.kubelet, 'pods', 'tostate'));
  invalid(() => checkTargetPath('target_path', join(l.kubelet, 'pods', 'tostate', 'pools'), l.policy), /inside the plugin's state directory/);
  // the leaf itself a symlink: mount(8) would follow it
  symlinkSync(l.outside, join(l.kubelet, 'pods', 'p1', 'volumes', 'mount'));
  invalid(() => checkTargetPath('target_path', join(l.kubelet, 'pods', 'p1', 'volumes', 'mount'), l.policy), /is a symbolic link/);
  // a symlink that stays inside is resolved to the canonical path
  symlinkSync(join(l.kubelet, 'pods', 'p1'), join(l.kubelet, 'pods', 'alias'));
  assert.equal(checkTargetPath('target_path', join(l.kubelet, 'pods', 'alias', 'volumes', 'x'), l.policy), join(l.kubelet, 'pods', 'p1', 'volumes', 'x'));
});

test('paths: a kubelet directory that is itself a symlink', (t) => {
  const l = layout();
  t.after(l.cleanup);
  const link = join(l.dir, 'kubelet-link');
  symlinkSync(l.kubelet, link);
  const policy = { kubeletDir: link, stateDir: l.state };
  assert.equal(checkTargetPath('target_path', join(link, 'pods', 'p1', 'volumes', 'm'), policy), join(l.kubelet, 'pods', 'p1', 'volumes', 'm'));
  assert.equal(checkTargetPath('target_path', join(l.kubelet, 'pods', 'p1', 'volumes', 'm'), policy), join(l.kubelet, 'pods', 'p1', 'volumes', 'm'));
  invalid(() => checkTargetPath('target_path', join(l.outside, 'm'), policy), /not inside the kubelet directory/);
});

test('paths: canonicalParent resolves existing ancestors only', (t) => {
  const l = layout();
  t.after(l.cleanup);
  symlinkSync(l.outside, join(l.kubelet, 'link'));
  assert.equal(canonicalParent(join(l.kubelet, 'link', 'x', 'y')), join(l.outside, 'x', 'y'));
  assert.equal(canonicalParent(join(l.kubelet, 'link')), join(l.kubelet, 'link'), 'the leaf is not followed');
  assert.equal(canonicalParent('/'), '/');
});
