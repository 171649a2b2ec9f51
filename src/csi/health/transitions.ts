import type { EventRecorder, EventTarget } from '../kube/events.js';
import type { Logger } from '../logger.js';
import type { VolumeHealth } from './condition.js';
import { withDeadline } from './deadline.js';

export const REASON_ABNORMAL = 'DaxMemoryError';
export const REASON_RECOVERED = 'DaxMemoryRecovered';

interface Pending {
  type: 'Warning' | 'Normal';
  reason: string;
  message: string;
  key: string;
  /** When the transition happened (ms): objects not known by then + TARGET_WAIT_MS are given up. */
  at: number;
}

/** How long a transition waits for its objects to appear (e.g. a PV created after the error). */
export const TARGET_WAIT_MS = 5 * 60_000;

/**
 * Turns successive views of which volumes are abnormal into Events: a Warning when a volume turns
 * abnormal (or its set of errors changes), a Normal when it is healthy again. Only transitions
 * make events, never polls; an event that could not be recorded (API server down, object not
 * found yet) is retried on the next update until it is recorded or superseded. The recorder
 * names events after the transition, so a restarted plugin that sees the same transition again
 * does not record it twice.
 */
export class VolumeEventEmitter {
  private abnormal = new Map<string, VolumeHealth>();
  private readonly pending = new Map<string, Pending>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly recorder: EventRecorder,
    /** The objects to record on; undefined: not known (yet), try again on the next update. */
    private readonly targetsOf: (volumeId: string) => Promise<EventTarget[] | undefined>,
    private readonly logger: Logger,
  ) {}

  /** `now`: every volume that is abnormal at this moment (volumes not listed are healthy). */
  update(now: Map<string, VolumeHealth>): Promise<void> {
    for (const [id, h] of now) {
      const before = this.abnormal.get(id);
      if (before?.key === h.key) continue;
      this.pending.set(id, { type: 'Warning', reason: REASON_ABNORMAL, message: h.message, key: h.key, at: Date.now() });
    }
    for (const [id, before] of this.abnormal) {
      if (now.has(id)) continue;
      this.pending.set(id, { type: 'Normal', reason: REASON_RECOVERED, message: `the memory under volume ${id} is healthy again (the errors reported earlier were cleared)`, key: `${before.key}/recovered`, at: Date.now() });
    }
    this.abnormal = new Map(now);
    // One delivery round at a time; a round that is running picks up what was just queued next time.
    this.running ??= this.deliver().finally(() => (this.running = undefined));
    return this.running;
  }

  private async deliver(): Promise<void> {
    for (const [id, ev] of [...this.pending]) {
      try {
        const targets = await withDeadline(this.targetsOf(id), `finding the objects of volume ${id}`);
        if (targets === undefined) {
          if (Date.now() - ev.at > TARGET_WAIT_MS) {
            this.logger.warn('no object to record the event on; giving up', { volume: id, reason: ev.reason });
            if (this.pending.get(id) === ev) this.pending.delete(id);
          }
          continue;
        }
        // The recorder logs what it recorded (or found already recorded).
        for (const t of targets) await withDeadline(this.recorder.record(t, { type: ev.type, reason: ev.reason, message: ev.message, key: ev.key }), `recording ${ev.reason} on ${t.kind} ${t.namespace}/${t.name}`);
        if (this.pending.get(id) === ev) this.pending.delete(id);
      } catch (e) {
        this.logger.warn('cannot record event; will retry', { volume: id, reason: ev.reason, error: (e as Error).message });
      }
    }
  }

  /** Transitions still waiting to be recorded (for tests and metrics). */
  get backlog(): number {
    return this.pending.size;
  }
}
