import { run } from './exec.js';
import type { RunResult } from './exec.js';

/** kubectl, the only way the scenarios touch the cluster. */
export class Kubectl {
  constructor(private readonly bin: string, readonly timeoutSeconds: number) {}

  run(args: string[], opts: { input?: string; allowFailure?: boolean } = {}): RunResult {
    return run([this.bin, ...args], { ...opts, timeoutMs: (this.timeoutSeconds + 30) * 1000 });
  }

  json<T>(args: string[]): T {
    return JSON.parse(this.run([...args, '-o', 'json']).stdout) as T;
  }

  apply(namespace: string, manifest: object | object[]): void {
    const items = Array.isArray(manifest) ? manifest : [manifest];
    this.run(['apply', '--namespace', namespace, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  }

  wait(namespace: string, what: string, condition: string): void {
    this.run(['wait', '--namespace', namespace, what, `--for=${condition}`, `--timeout=${this.timeoutSeconds}s`]);
  }

  /** `kubectl exec` of a shell command; the result (status and output) without throwing. */
  exec(namespace: string, pod: string, container: string | undefined, command: string[]): RunResult {
    return this.run(['exec', '--namespace', namespace, pod, ...(container ? ['-c', container] : []), '--', ...command], { allowFailure: true });
  }

  sh(namespace: string, pod: string, script: string, container?: string): string {
    const r = this.exec(namespace, pod, container, ['sh', '-c', script]);
    if (r.status !== 0) throw new Error(`kubectl exec ${pod} -- sh -c '${script}' failed (exit ${r.status}): ${r.stderr.trim()}`);
    return r.stdout;
  }
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(what: string, timeoutSeconds: number, check: () => T | undefined, intervalMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutSeconds}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
