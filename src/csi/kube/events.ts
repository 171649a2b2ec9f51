import { createHash } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import { DRIVER_NAME } from '../identity.js';
import type { Logger } from '../logger.js';
import { apiStatus, describeApiError } from './connect.js';
import type { Kube } from './connect.js';

/** The object an Event is about. */
export interface EventTarget {
  kind: 'PersistentVolumeClaim' | 'Pod';
  namespace: string;
  name: string;
  uid: string;
}

export interface EventSpec {
  type: 'Warning' | 'Normal';
  reason: string;
  message: string;
  /** Identifies the transition (e.g. the error keys and the time it turned abnormal). */
  key: string;
}

export interface EventRecorder {
  /** 'exists' when the Event for this target, reason and key was already recorded. */
  record(target: EventTarget, ev: EventSpec): Promise<'created' | 'exists'>;
}

export interface EventRecorderOptions {
  /** The reporting component, e.g. famfs-csi-controller or famfs-csi-node. */
  component: string;
  /** The node or host name of this process. */
  instance: string;
  logger: Logger;
}

export const MAX_EVENT_MESSAGE = 1024;
const MAX_NAME = 253;
const HASH_HEX = 16;

/**
 * The Event's name, a function of the transition only, so every process (and every restart of
 * one) that records the same transition asks for the same name and the API server keeps one.
 */
export function eventName(target: EventTarget, reason: string, key: string): string {
  const hash = createHash('sha256').update(`${target.uid}|${reason}|${key}`).digest('hex').slice(0, HASH_HEX);
  // Target names are DNS subdomains already; cutting one may leave a trailing '-' or '.'.
  const prefix = target.name.slice(0, MAX_NAME - HASH_HEX - 1).replace(/[^a-z0-9]+$/, '');
  return prefix ? `${prefix}.${hash}` : hash;
}

export function truncateMessage(message: string): string {
  if (message.length <= MAX_EVENT_MESSAGE) return message;
  let cut = MAX_EVENT_MESSAGE - 3;
  // Do not split a surrogate pair.
  const code = message.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${message.slice(0, cut)}...`;
}

function describeTarget(t: EventTarget): string {
  return `${t.kind} ${t.namespace}/${t.name}`;
}

/** Records Events as core/v1 Events through the API server. */
export class KubeEventRecorder implements EventRecorder {
  constructor(
    private readonly kube: Kube,
    private readonly opts: EventRecorderOptions,
  ) {}

  async record(target: EventTarget, ev: EventSpec): Promise<'created' | 'exists'> {
    const name = eventName(target, ev.reason, ev.key);
    const now = new Date();
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: target.namespace },
      involvedObject: { apiVersion: 'v1', kind: target.kind, namespace: target.namespace, name: target.name, uid: target.uid },
      reason: ev.reason,
      message: truncateMessage(ev.message),
      type: ev.type,
      source: { component: this.opts.component, host: this.opts.instance },
      reportingComponent: `${DRIVER_NAME}/${this.opts.component}`,
      reportingInstance: this.opts.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.kube.core.createNamespacedEvent({ namespace: target.namespace, body });
    } catch (err) {
      if (apiStatus(err) === 409) {
        this.opts.logger.debug('event already recorded', { event: `${target.namespace}/${name}`, reason: ev.reason, object: describeTarget(target) });
        return 'exists';
      }
      throw new Error(`kubernetes: cannot create event ${target.namespace}/${name} (${ev.reason}) for ${describeTarget(target)}: ${describeApiError(err)}`);
    }
    this.opts.logger.info('event recorded', { event: `${target.namespace}/${name}`, type: ev.type, reason: ev.reason, object: describeTarget(target) });
    return 'created';
  }
}

const MAX_REMEMBERED = 10_000;

/**
 * Without Kubernetes, events go to the log, once per transition for the life of the process (a
 * restart logs a still-current transition again; the log has no store to ask).
 */
export class LogEventRecorder implements EventRecorder {
  private readonly seen = new Set<string>();

  constructor(private readonly opts: EventRecorderOptions) {}

  async record(target: EventTarget, ev: EventSpec): Promise<'created' | 'exists'> {
    const name = eventName(target, ev.reason, ev.key);
    if (this.seen.has(name)) return 'exists';
    this.seen.add(name);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.values().next().value as string);
    const level = ev.type === 'Warning' ? 'warn' : 'info';
    this.opts.logger.log(level, `event ${ev.reason} on ${describeTarget(target)}: ${truncateMessage(ev.message)}`, {
      event: `${target.namespace}/${name}`,
      type: ev.type,
      reason: ev.reason,
      involvedObject: { kind: target.kind, namespace: target.namespace, name: target.name, uid: target.uid },
      reportingComponent: `${DRIVER_NAME}/${this.opts.component}`,
      reportingInstance: this.opts.instance,
    });
    return 'created';
  }
}
