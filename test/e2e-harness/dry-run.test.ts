import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The e2e entry point itself, as npm run e2e runs it, in the modes that need no cluster.
const RUN = fileURLToPath(new URL('../e2e/run.js', import.meta.url));

/** The runner's own environment variables would change its defaults: leave them out. */
function withoutE2eEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FAMFS_E2E_')));
}

function e2e(args: string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', env: withoutE2eEnv() });
}

test('--dry-run prints setup, scenarios, teardown, kind config and scenario environment', () => {
  const r = e2e(['--dry-run', '--cluster-name', 'dry', '--timeout', '120']);
  assert.equal(r.status, 0, r.stderr);
  for (const want of [/kind create cluster --name dry/, /docker build -t famfs-csi:e2e/, /kind load docker-image famfs-csi:e2e --name dry/, /helm upgrade --install famfs-csi/, /kind delete cluster --name dry/, /CSIVolumeHealth: true/, /hostPath: \/dev\/shm\/dry-pool/, /07-bad-parameters\.test\.js/, /"poolDevice":"\/var\/lib\/famfs-csi-pool\/pool0\.img"/]) {
    assert.match(r.stdout, want);
  }
});

test('--help prints the usage; an unknown flag is a usage error (exit 2)', () => {
  const help = e2e(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /npm run e2e -- \[options\]/);
  const bad = e2e(['--no-such-flag']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no-such-flag/);
});
