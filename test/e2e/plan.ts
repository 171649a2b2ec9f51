import { join } from 'node:path';
import type { E2eOptions } from './options.js';
import { splitImage } from './options.js';

/** One command of the e2e setup or teardown, run in order; `input` goes to its stdin. */
export interface Step {
  title: string;
  argv: string[];
  input?: string;
  /** Teardown steps are attempted even when an earlier one failed. */
  mayFail?: boolean;
}

export interface Plan {
  setup: Step[];
  teardown: Step[];
  kindConfig: string | undefined;
  helmArgs: string[];
}

/** Paths and tools the plan refers to, resolved by run.ts (fixed strings in tests). */
export interface Tools {
  repoDir: string;
  helm: string;
  kubectl: string;
  kindConfigPath: string;
}

export function helmInstallArgs(o: E2eOptions, t: Tools): string[] {
  const { repository, tag } = splitImage(o.image);
  return [
    'upgrade', '--install', o.release, join(t.repoDir, 'charts', 'famfs-csi'),
    '--namespace', o.namespace, '--create-namespace',
    '--values', join(t.repoDir, 'test', 'e2e', 'values-kind.yaml'),
    '--set', `image.repository=${repository}`,
    '--set', `image.tag=${tag}`,
    ...(o.existingCluster ? ['--set', 'image.pullPolicy=IfNotPresent'] : []),
    '--wait', '--timeout', `${o.timeoutSeconds}s`,
  ];
}

export function buildPlan(o: E2eOptions, t: Tools, kindConfigText: string): Plan {
  const setup: Step[] = [];
  const teardown: Step[] = [];
  if (!o.existingCluster) {
    setup.push({ title: 'create the shared pool directory on the host', argv: ['mkdir', '-p', o.poolDir] });
    setup.push({
      title: 'create the kind cluster (1 control-plane + 2 workers, CSIVolumeHealth)',
      argv: ['kind', 'create', 'cluster', '--name', o.clusterName, '--config', t.kindConfigPath, '--wait', `${o.timeoutSeconds}s`],
    });
  }
  if (!o.skipBuild && !o.existingCluster) setup.push({ title: 'build the famfs-csi image', argv: ['docker', 'build', '-t', o.image, t.repoDir] });
  if (!o.existingCluster) setup.push({ title: 'load the image into the kind nodes', argv: ['kind', 'load', 'docker-image', o.image, '--name', o.clusterName] });
  setup.push({ title: 'install the chart and wait for its workloads', argv: [t.helm, ...helmInstallArgs(o, t)] });
  // Pods, not rollouts: the pool-server DaemonSet is OnDelete, which `rollout status` refuses.
  setup.push({
    title: 'wait until every pod of the release is ready',
    argv: [t.kubectl, '--namespace', o.namespace, 'wait', 'pod', '-l', `app.kubernetes.io/instance=${o.release}`, '--for=condition=Ready', `--timeout=${o.timeoutSeconds}s`],
  });
  if (!o.keep) {
    teardown.push({ title: 'delete the e2e namespaces left by scenarios', argv: [t.kubectl, 'delete', 'namespace', '-l', 'famfs-e2e/scenario', '--wait=true', `--timeout=${o.timeoutSeconds}s`], mayFail: true });
    if (o.existingCluster) {
      teardown.push({ title: 'uninstall the release', argv: [t.helm, 'uninstall', o.release, '--namespace', o.namespace, '--wait', '--timeout', `${o.timeoutSeconds}s`], mayFail: true });
    } else {
      teardown.push({ title: 'delete the kind cluster', argv: ['kind', 'delete', 'cluster', '--name', o.clusterName], mayFail: true });
      teardown.push({ title: 'remove the pool directory on the host', argv: ['rm', '-rf', '--', o.poolDir], mayFail: true });
    }
  }
  return { setup, teardown, kindConfig: o.existingCluster ? undefined : kindConfigText, helmArgs: helmInstallArgs(o, t) };
}

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function formatPlan(p: Plan): string {
  const lines: string[] = [];
  const section = (name: string, steps: Step[]) => {
    lines.push(`${name}:`);
    steps.forEach((s, i) => lines.push(`  ${i + 1}. ${s.title}${s.mayFail ? ' (always attempted)' : ''}`, `     $ ${s.argv.map(shellQuote).join(' ')}`));
  };
  section('setup', p.setup);
  lines.push('scenarios:', '  node --test --test-concurrency=1 dist/test/e2e/scenarios/*.test.js (diagnostics on failure)');
  section('teardown (also after a failure)', p.teardown);
  if (p.kindConfig) lines.push('kind config:', ...p.kindConfig.trimEnd().split('\n').map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}
