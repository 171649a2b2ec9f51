import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import type { ErrorSource, MemoryError } from './memoryError.js';
import { bootTimeMs } from './procTimes.js';
import type { KmsgReader } from './kmsgReader.js';
import type { FamfsKernelEvent } from './kmsgRecord.js';

export interface KmsgErrorSourceOptions {
  reader: KmsgReader;
  /** The pool's device as configured (/dev/dax0.0); matched by its basename and its realpath's. */
  device: string;
  /**
   * When this host's mount of the pool started, in ms since boot: the kernel clears a daxdev's
   * error only on unmount, so lines from before belong to an earlier mount. undefined: not
   * known, every line counts.
   */
  since?: () => number | undefined;
  /** Lines with only a daxdev index ("daxdev=0 error") count only when this is the one pool here. */
  onlyPoolOnHost?: () => boolean;
  /** Set on the errors: the node that saw them. */
  node?: string;
  /** Default bootTimeMs(); read once, so firstSeen does not drift between polls. */
  bootTimeMs?: () => number;
}

/**
 * The famfs kernel's memory errors on one pool's device. The kernel disables the whole daxdev,
 * so there is at most one error: the earliest line that applies to this device and mount.
 */
export class KmsgErrorSource implements ErrorSource {
  readonly name = 'kmsg' as const;
  private readonly names = new Set<string>();
  private resolved = false;
  private boot: number | undefined;
  private firstSeen: { seq: number; iso: string } | undefined;

  constructor(private readonly opts: KmsgErrorSourceOptions) {
    this.names.add(basename(opts.device));
  }

  poll(): MemoryError[] {
    const { reader, device } = this.opts;
    reader.poll();
    this.resolve();
    const since = this.opts.since?.();
    const only = this.opts.onlyPoolOnHost?.() ?? false;
    const hit = reader.events().find((e) => (since === undefined || e.tsUsec / 1000 >= since) && this.applies(e.event, only));
    if (!hit) return [];
    if (this.firstSeen?.seq !== hit.seq) {
      this.boot ??= (this.opts.bootTimeMs ?? bootTimeMs)();
      this.firstSeen = { seq: hit.seq, iso: new Date(Math.round(this.boot + hit.tsUsec / 1000)).toISOString() };
    }
    const error: MemoryError = { device, range: null, kind: 'memory-error', source: 'kmsg', firstSeen: this.firstSeen.iso, detail: `${hit.message.trim()} [kernel seq ${hit.seq}]` };
    if (this.opts.node) error.node = this.opts.node;
    return [error];
  }

  private resolve(): void {
    if (this.resolved) return;
    try {
      this.names.add(basename(realpathSync(this.opts.device)));
      this.resolved = true;
    } catch {
      // not there (yet): the configured name alone
    }
  }

  private applies(e: FamfsKernelEvent, onlyPool: boolean): boolean {
    if (e.kind === 'daxdev-error') return e.daxdev === this.opts.device || this.names.has(basename(e.daxdev));
    // Index 0 is the primary daxdev of whichever famfs mount logged it.
    if (e.kind === 'access-error') return onlyPool && e.index === 0;
    return false;
  }
}
