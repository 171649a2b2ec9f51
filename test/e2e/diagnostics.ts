import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kubectl } from './kubectl.js';

/**
 * On failure: `kubectl describe` and the logs (current and previous) of every container of the
 * release, plus the objects and Events of the given namespaces, into <dir>/<label>/. Each file is
 * named after what it shows; a failing command leaves its error in the file instead.
 */
export function collectDiagnostics(k: Kubectl, opts: { dir: string; label: string; releaseNamespace: string; release: string; namespaces?: string[] }): string {
  const out = join(opts.dir, opts.label.replace(/[^\w.-]+/g, '_'));
  mkdirSync(out, { recursive: true });
  const save = (file: string, args: string[]) => {
    const r = k.run(args, { allowFailure: true });
    writeFileSync(join(out, file), `$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr ? `\n[stderr]\n${r.stderr}` : ''}`);
  };
  const ns = opts.releaseNamespace;
  const selector = `app.kubernetes.io/instance=${opts.release}`;
  save('release-pods.txt', ['get', 'pods', '--namespace', ns, '-o', 'wide']);
  save('release-describe.txt', ['describe', 'pods,daemonsets,deployments', '--namespace', ns, '-l', selector]);
  save('release-events.txt', ['get', 'events', '--namespace', ns, '--sort-by=.lastTimestamp']);
  save('cluster-storage.txt', ['get', 'nodes,csinodes,csidrivers,storageclasses,pv', '-o', 'wide', '--show-labels']);
  save('csistoragecapacities.yaml', ['get', 'csistoragecapacities', '--all-namespaces', '-o', 'yaml']);
  const pods = k.run(['get', 'pods', '--namespace', ns, '-l', selector, '-o', 'jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.containers[*].name}{"\\n"}{end}'], { allowFailure: true });
  for (const line of pods.stdout.split('\n').filter(Boolean)) {
    const [pod, ...containers] = line.split(' ');
    for (const c of containers) {
      save(`logs-${pod}-${c}.txt`, ['logs', '--namespace', ns, pod!, '-c', c, '--timestamps']);
      save(`logs-${pod}-${c}-previous.txt`, ['logs', '--namespace', ns, pod!, '-c', c, '--previous', '--timestamps']);
    }
  }
  for (const n of opts.namespaces ?? []) {
    save(`ns-${n}-describe.txt`, ['describe', 'pods,pvc', '--namespace', n]);
    save(`ns-${n}-events.txt`, ['get', 'events', '--namespace', n, '--sort-by=.lastTimestamp']);
  }
  return out;
}
