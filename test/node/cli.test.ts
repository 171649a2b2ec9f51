import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../../src/csi/config.js';
import { CLI } from '../helpers/cluster.js';

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('famfs-csi node: help, usage errors', () => {
  const help = run(['node', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^famfs-csi node \[options\]/);
  assert.match(help.stdout, /--kubelet-dir DIR/);
  assert.match(help.stdout, /--state-dir DIR/);
  assert.match(run(['help']).stdout, /\n {2}node {9}run the CSI node plugin/);

  const rel = run(['node', '--pool', 'p=/dev/null', '--kubelet-dir', 'var/lib/kubelet']);
  assert.equal(rel.code, 2);
  assert.match(rel.stderr, /--kubelet-dir: "var\/lib\/kubelet" must be an absolute path/);
  const missing = run(['node', '--pool', 'p=/dev/null', '--kubelet-dir']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /kubelet-dir/);
  const env = run(['node', '--pool', 'p=/dev/null'], { FAMFS_CSI_KUBELET_DIR: 'relative' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /FAMFS_CSI_KUBELET_DIR: "relative" must be an absolute path/);
  const nopools = run(['node']);
  assert.equal(nopools.code, 2);
  assert.match(nopools.stderr, /no pools/);
});


test('config: kubeletDir is optional, absolute, default /var/lib/kubelet', () => {
  const pools = [{ name: 'p', device: '/dev/dax0.0' }];
  assert.equal(parseConfig({ pools }).kubeletDir, '/var/lib/kubelet');
  assert.equal(parseConfig({ pools, kubeletDir: '/data/kubelet' }).kubeletDir, '/data/kubelet');
  assert.throws(() => parseConfig({ pools, kubeletDir: 'kubelet' }), /config: kubeletDir: "kubelet" must be an absolute path/);
  assert.throws(() => parseConfig({ pools, kubeletDir: 7 }), /config: kubeletDir: 7 must be a non-empty string/);
});
