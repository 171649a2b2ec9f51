import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_DIR } from './helm.js';
import { contextCopySources, isIgnored, parseDockerfile, parseDockerignore, readText } from './dockerfile.js';

// The image cannot be built here (no Docker engine); what can be checked is its build context:
// every COPY source exists and survives .dockerignore, and the stages are what the roles need.

const instructions = parseDockerfile(readText(join(REPO_DIR, 'Dockerfile')));
const rules = parseDockerignore(readText(join(REPO_DIR, '.dockerignore')));

function filesUnder(path: string): string[] {
  const abs = join(REPO_DIR, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs).flatMap((n) => filesUnder(relative(REPO_DIR, join(abs, n))));
}

test('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
  const sources = contextCopySources(instructions);
  for (const need of ['package.json', 'package-lock.json', 'binding.gyp', 'native', 'src', 'proto', 'tsconfig.json']) assert.ok(sources.includes(need), `COPY ${need}`);
  for (const s of sources) {
    assert.ok(existsSync(join(REPO_DIR, s)), `COPY source ${s} does not exist`);
    for (const f of filesUnder(s)) assert.ok(!isIgnored(rules, f), `${f} (COPY ${s}) is excluded by .dockerignore`);
  }
});

test('.dockerignore keeps heavy and local trees out of the context', () => {
  for (const p of ['node_modules/x/index.js', 'dist/src/cli/main.js', 'build/Release/famfs_dax.node', '.git/HEAD', 'test/chart/helm.ts', 'charts/famfs-csi/values.yaml']) {
    assert.ok(isIgnored(rules, p), `${p} should not be sent to the Docker daemon`);
  }
});

test('the ignore matcher follows Docker semantics (last rule wins, ! re-includes, ** spans directories)', () => {
  const r = parseDockerignore('*\n!src/**\nsrc/**/*.test.ts\n!keep.md\n');
  assert.equal(isIgnored(r, 'README.md'), true);
  assert.equal(isIgnored(r, 'keep.md'), false);
  assert.equal(isIgnored(r, 'src/cli/main.ts'), false);
  assert.equal(isIgnored(r, 'src/cli/main.test.ts'), true);
});

test('multi-stage: the build stage has the toolchain, the runtime stage only what runs', () => {
  const from = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args);
  assert.equal(from.length, 2);
  assert.match(from[0]!, /node:\$\{NODE_VERSION\}-bookworm AS build/);
  assert.match(from[1]!, /-slim$/);
  const build = instructions.filter((i) => i.stage === 'build' && i.keyword === 'RUN').map((i) => i.args).join('\n');
  assert.match(build, /npm ci/);
  assert.match(build, /npm prune --omit=dev/);
  const runtime = instructions.filter((i) => i.stage !== 'build');
  const copies = runtime.filter((i) => i.keyword === 'COPY').map((i) => i.args);
  for (const need of ['/app/dist/src', '/app/build/Release/famfs_dax.node', '/app/package.json', '/app/proto', '/app/node_modules']) {
    assert.ok(copies.some((c) => c.includes(`--from=build ${need}`)), `runtime stage lacks ${need}`);
  }
  const runtimeRuns = runtime.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
  assert.match(runtimeRuns, /apt-get install -y --no-install-recommends mount util-linux/);
  assert.match(runtimeRuns, /\/usr\/local\/bin\/famfs-csi/);
  assert.doesNotMatch(runtimeRuns, /\b(g\+\+|make|python3|build-essential)\b/, 'no toolchain in the runtime image');
  const entry = runtime.find((i) => i.keyword === 'ENTRYPOINT')!;
  assert.deepEqual(JSON.parse(entry.args), ['node', '/app/dist/src/cli/main.js']);
});

test('what the runtime image copies from the build stage is what the code loads at run time', () => {
  // dist/src/cli/main.js reads ../../../package.json; the addon is found by walking up to build/Release.
  assert.ok(existsSync(join(REPO_DIR, 'proto', 'csi.proto')));
  assert.ok(existsSync(join(REPO_DIR, 'src', 'cli', 'main.ts')));
  assert.match(readText(join(REPO_DIR, 'src', 'famfs', 'dax', 'native.ts')), /'build', 'Release', 'famfs_dax\.node'/);
  assert.match(readText(join(REPO_DIR, 'src', 'fuse', 'session.ts')), /'\/bin\/mount'/);
});
