#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { E2E_USAGE, E2eUsageError, parseE2eOptions } from './options.js';
import type { E2eOptions } from './options.js';
import { kindConfig } from './kindConfig.js';
import { buildPlan, formatPlan } from './plan.js';
import type { Step, Tools } from './plan.js';
import { available } from './exec.js';
import { E2E_ENV_VAR } from './env.js';
import type { E2eEnv } from './env.js';
import { Kubectl } from './kubectl.js';
import { collectDiagnostics } from './diagnostics.js';
import { layerTool } from '../chart/layerTools.js';

/**
 * npm run e2e: kind cluster (or the current context with --existing-cluster) -> image -> helm
 * install -> scenarios (node --test, one at a time) -> diagnostics on failure -> teardown, always.
 */
const HERE = dirname(fileURLToPath(import.meta.url)); // dist/test/e2e
const REPO_DIR = resolve(HERE, '..', '..', '..');

function log(msg: string): void {
  process.stderr.write(`[e2e] ${msg}\n`);
}

function kubectlBinary(): string {
  return available(['kubectl', 'version', '--client']) ? 'kubectl' : layerTool('kubectl');
}

export function scenarioFiles(): string[] {
  const dir = join(HERE, 'scenarios');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(dir, f));
}

export function scenarioEnv(o: E2eOptions, kubectl: string): E2eEnv {
  const values = yaml.load(readFileSync(join(REPO_DIR, 'test', 'e2e', 'values-kind.yaml'), 'utf8')) as {
    pools: Array<{ name: string; device: string }>;
    storageClasses: Array<{ name: string }>;
  };
  return {
    kubectl,
    namespace: o.namespace,
    release: o.release,
    image: o.image,
    timeoutSeconds: o.timeoutSeconds,
    diagnosticsDir: resolve(o.diagnosticsDir),
    pool: values.pools[0]!.name,
    poolDevice: values.pools[0]!.device,
    storageClass: values.storageClasses[0]!.name,
  };
}

function runStep(s: Step): void {
  log(`${s.title}\n      $ ${s.argv.join(' ')}`);
  const r = spawnSync(s.argv[0]!, s.argv.slice(1), { stdio: [s.input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'], input: s.input });
  if (r.error || r.status !== 0) throw new Error(`${s.title} failed (${r.error ? r.error.message : `exit ${r.status}`})`);
}

function teardown(steps: Step[]): void {
  for (const s of steps) {
    try {
      runStep(s);
    } catch (e) {
      log(`teardown: ${(e as Error).message} (continuing)`);
    }
  }
}

function preflight(o: E2eOptions): void {
  const need: Array<[string, string[]]> = [];
  if (!o.existingCluster) need.push(['docker', ['docker', 'info']], ['kind', ['kind', 'version']]);
  const missing = need.filter(([, argv]) => !available(argv)).map(([n]) => n);
  if (missing.length > 0) {
    throw new Error(`${missing.join(' and ')} not usable here (docker needs a running engine). The e2e needs Docker and kind; ` + 'use --existing-cluster to test a cluster you already have, or --dry-run to see the plan.');
  }
}

async function main(argv: string[]): Promise<number> {
  let o: E2eOptions;
  try {
    o = parseE2eOptions(argv);
  } catch (e) {
    if (e instanceof E2eUsageError) {
      process.stderr.write(`e2e: ${e.message}\n\n${E2E_USAGE}`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(E2E_USAGE);
    return 0;
  }
  const work = o.dryRun ? join(tmpdir(), 'famfs-csi-e2e-DRYRUN') : mkdtempSync(join(tmpdir(), 'famfs-csi-e2e-'));
  const tools: Tools = { repoDir: REPO_DIR, helm: layerTool('helm'), kubectl: o.dryRun ? 'kubectl' : kubectlBinary(), kindConfigPath: join(work, 'kind-config.yaml') };
  const config = kindConfig({ poolDir: o.poolDir, nodeImage: o.kindNodeImage });
  const plan = buildPlan(o, tools, config);
  if (o.dryRun) {
    process.stdout.write(formatPlan(plan));
    process.stdout.write(`scenario files:\n${scenarioFiles().map((f) => `  ${f}`).join('\n')}\n`);
    process.stdout.write(`scenario environment (${E2E_ENV_VAR}):\n  ${JSON.stringify(scenarioEnv(o, tools.kubectl))}\n`);
    return 0;
  }
  preflight(o);
  if (plan.kindConfig) writeFileSync(tools.kindConfigPath, plan.kindConfig);
  const env = scenarioEnv(o, tools.kubectl);
  const k = new Kubectl(tools.kubectl, o.timeoutSeconds);
  let status = 1;
  let tornDown = false;
  const stop = (signal: string) => {
    log(`${signal}: tearing down`);
    if (!tornDown) {
      tornDown = true;
      teardown(plan.teardown);
    }
    process.exit(130);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  try {
    try {
      for (const s of plan.setup) runStep(s);
    } catch (e) {
      log(`setup failed: ${(e as Error).message}`);
      const dir = collectDiagnostics(k, { dir: env.diagnosticsDir, label: 'setup', releaseNamespace: o.namespace, release: o.release });
      log(`diagnostics (describe and logs of every component): ${dir}`);
      return 1;
    }
    log(`running ${scenarioFiles().length} scenario files`);
    const r = spawnSync(
      process.execPath,
      ['--test', '--test-concurrency=1', '--test-reporter=spec', ...(o.focus ? ['--test-name-pattern', o.focus] : []), ...scenarioFiles()],
      { stdio: 'inherit', env: { ...process.env, [E2E_ENV_VAR]: JSON.stringify(env) } },
    );
    status = r.status ?? 1;
    if (status !== 0) {
      const dir = collectDiagnostics(k, { dir: env.diagnosticsDir, label: 'after-scenarios', releaseNamespace: o.namespace, release: o.release });
      log(`scenarios failed; diagnostics: ${dir}`);
    }
    return status;
  } finally {
    if (!tornDown) {
      tornDown = true;
      if (o.keep) log(`--keep: leaving the cluster${o.existingCluster ? '' : ` ${o.clusterName}`} and release ${o.release} in place`);
      teardown(plan.teardown);
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`e2e: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
