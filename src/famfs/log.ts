import { LOG_ENTRY_SIZE, LOG_HEADER_SIZE } from './constants.js';
import { writeU64 } from './bytes.js';
import { FamfsError } from './errors.js';
import { HEADER_OFF, decodeLogHeader } from './logHeader.js';
import type { LogHeader } from './logHeader.js';
import { encodeEntry } from './logEntry.js';
import type { NewLogEntry } from './logEntry.js';
import { flushCache, invalidateCache, populatePages } from './dax/native.js';

/** One store or cache operation of an append, in the order they reach memory. */
export interface AppendStep {
  name: string;
  run(): void;
}

/**
 * The famfs log in device memory (`region` starts at the log header). The single writer appends
 * an entry in this order:
 *   1. write the 544-byte entry into slot next_index (seqnum = next_index, CRC set);
 *   2. flush the entry from the CPU cache;
 *   3. next_seqnum = next_index + 1;
 *   4. next_index = next_index + 1  (the commit point: readers only see entries below next_index);
 *   5. flush the header.
 * A crash before step 4 leaves the old state (the slot is beyond next_index); after it, the new
 * state. famfs increments next_seqnum from its own value; using next_index for both keeps a log
 * whose append was cut between steps 3 and 4 appendable.
 */
export class FamfsLog {
  constructor(
    readonly region: Buffer,
    readonly lastIndex: number,
  ) {}

  /** Reads the header fresh from memory (after invalidating it: another host may have appended). */
  header(): LogHeader {
    invalidateCache(this.region, 0, LOG_HEADER_SIZE);
    return decodeLogHeader(this.region);
  }

  /** Prepares entries [from, to) to be read: pages faulted in, stale cache lines invalidated. */
  readyEntries(from: number, to: number): void {
    if (to <= from) return;
    const start = LOG_HEADER_SIZE + from * LOG_ENTRY_SIZE;
    const length = (to - from) * LOG_ENTRY_SIZE;
    populatePages(this.region, start, length);
    invalidateCache(this.region, start, length);
  }

  entriesLeft(nextIndex: number): number {
    return this.lastIndex + 1 - nextIndex;
  }

  /** The append as discrete steps (tests cut it after any step); append() runs them all. */
  appendSteps(entry: NewLogEntry): { index: number; steps: AppendStep[] } {
    const index = this.header().nextIndex;
    if (index > this.lastIndex) {
      throw new FamfsError('LOG_FULL', `log full: all ${this.lastIndex + 1} entries are used; the pool cannot record another file, directory or delete`, {
        entries: this.lastIndex + 1,
      });
    }
    const bytes = encodeEntry(entry, index);
    const slot = LOG_HEADER_SIZE + index * LOG_ENTRY_SIZE;
    const half = LOG_ENTRY_SIZE / 2;
    const steps: AppendStep[] = [
      { name: 'write entry, first half', run: () => bytes.copy(this.region, slot, 0, half) },
      { name: 'write entry, second half', run: () => bytes.copy(this.region, slot + half, half) },
      { name: 'flush entry', run: () => flushCache(this.region, slot, LOG_ENTRY_SIZE) },
      { name: 'write next_seqnum', run: () => writeU64(this.region, HEADER_OFF.nextSeqnum, index + 1) },
      { name: 'write next_index', run: () => writeU64(this.region, HEADER_OFF.nextIndex, index + 1) },
      { name: 'flush header', run: () => flushCache(this.region, 0, LOG_HEADER_SIZE) },
    ];
    return { index, steps };
  }

  /** Appends one entry; returns its index. The caller holds the writer lock. */
  append(entry: NewLogEntry): number {
    const { index, steps } = this.appendSteps(entry);
    for (const step of steps) step.run();
    return index;
  }
}
