import { aborted } from './errors.js';

/**
 * Blocking per-key locks (as TopoLVM): a second call for the same volume waits for the first
 * instead of failing, up to `timeoutMs`, then gets ABORTED so the CO retries.
 */
export class KeyedLocks {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly timeoutMs: number) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    const done = () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        previous,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(aborted(`another operation on ${key} is still in progress after ${this.timeoutMs} ms; retry later`)), this.timeoutMs);
        }),
      ]);
    } catch (e) {
      // Give up our turn without blocking those queued behind us.
      void previous.then(done);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    try {
      return await fn();
    } finally {
      done();
    }
  }

  /** Keys with an operation running or queued. */
  get size(): number {
    return this.tails.size;
  }
}
