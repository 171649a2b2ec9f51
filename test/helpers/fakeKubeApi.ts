import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An in-process Kubernetes API server for the core/v1 calls famfs-csi makes, spoken as real JSON
 * over HTTP so tests run the real @kubernetes/client-node code. Kubernetes semantics where they
 * matter to callers: Status objects on errors (404 NotFound, 409 AlreadyExists / Conflict, 422
 * Invalid for bad names), uid/resourceVersion/creationTimestamp set on create, PUT replaces,
 * equality label and field selectors (anything else is a 400, so a test notices).
 */

export type Resource = 'events' | 'persistentvolumes' | 'persistentvolumeclaims' | 'pods' | 'configmaps';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

interface Failure {
  remaining: number;
  code: number;
  method?: string;
  path?: string | RegExp;
}

const KINDS: Record<Resource, string> = {
  events: 'Event',
  persistentvolumes: 'PersistentVolume',
  persistentvolumeclaims: 'PersistentVolumeClaim',
  pods: 'Pod',
  configmaps: 'ConfigMap',
};
const CLUSTER_SCOPED = new Set<Resource>(['persistentvolumes']);
const FIELD_LABELS: Partial<Record<Resource, string[]>> = { pods: ['spec.nodeName', 'status.phase'] };
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function isResource(s: string | undefined): s is Resource {
  return s !== undefined && Object.hasOwn(KINDS, s);
}

function pathValue(obj: unknown, dotted: string): unknown {
  let v: unknown = obj;
  for (const part of dotted.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** Parses "a=b,c==d"; set-based or inequality selectors are not supported here. */
function parseSelector(text: string | null, kind: 'label' | 'field'): [string, string][] {
  if (!text) return [];
  return text.split(',').map((term) => {
    const m = /^([^=!]+)==?([^=!]*)$/.exec(term.trim());
    if (!m) throw new ApiError(400, 'BadRequest', `unable to parse requirement: fake API supports only equality ${kind} selectors, got "${term}"`);
    return [m[1]!.trim(), m[2]!.trim()];
  });
}

export class FakeKubeApi {
  readonly objects: Record<Resource, KubeObject[]> = { events: [], persistentvolumes: [], persistentvolumeclaims: [], pods: [], configmaps: [] };
  readonly requests: LoggedRequest[] = [];
  readonly token = `fake-token-${randomUUID()}`;
  private server: Server | undefined;
  private port = 0;
  private version = 1000;
  private failures: Failure[] = [];

  get url(): string {
    if (!this.server) throw new Error('fake kube API is not started');
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Writes a kubeconfig for this server (plain HTTP, bearer token) and returns its path. */
  kubeconfigFile(dir: string): string {
    const file = join(dir, 'kubeconfig');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    };
    writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  }

  /** Adds an object as if created through the API (uid, resourceVersion, creationTimestamp filled in). */
  add(resource: Resource, obj: KubeObject): KubeObject {
    const stored = this.stamp(resource, structuredClone(obj));
    this.objects[resource].push(stored);
    return stored;
  }

  /** The next `count` requests (matching method and path, when given) fail with `code`. */
  failNext(count: number, code: number, match: { method?: string; path?: string | RegExp } = {}): void {
    this.failures.push({ remaining: count, code, ...match });
  }

  /** Requests with this method whose path starts with `prefix`. */
  requestsTo(method: string, prefix: string): LoggedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix));
  }

  private stamp(resource: Resource, obj: KubeObject): KubeObject {
    obj.apiVersion = 'v1';
    obj.kind = KINDS[resource];
    obj.metadata.uid ??= randomUUID();
    obj.metadata.resourceVersion = String(++this.version);
    obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return obj;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams) });
    let body = '';
    for await (const chunk of req) body += String(chunk);
    let code = 200;
    let out: unknown;
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      this.injectedFailure(method, url.pathname);
      [code, out] = this.route(method, url, body);
    } catch (caught) {
      const err = caught instanceof ApiError ? caught : new ApiError(500, 'InternalError', `fake kube API bug: ${String(caught)}`);
      code = err.code;
      out = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, details: err.details, code: err.code };
    }
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  }

  private injectedFailure(method: string, path: string): void {
    const f = this.failures.find(
      (x) =>
        x.remaining > 0 &&
        (x.method === undefined || x.method === method) &&
        (x.path === undefined || (typeof x.path === 'string' ? path.startsWith(x.path) : x.path.test(path))),
    );
    if (!f) return;
    f.remaining--;
    this.failures = this.failures.filter((x) => x.remaining > 0);
    throw new ApiError(f.code, REASONS[f.code] ?? 'Unknown', `injected failure ${f.code} for ${method} ${path}`);
  }

  private route(method: string, url: URL, body: string): [number, unknown] {
    const seg = url.pathname.split('/').filter(Boolean);
    if (seg[0] !== 'api' || seg[1] !== 'v1') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    let namespace: string | undefined;
    let rest = seg.slice(2);
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name, extra] = rest;
    if (!isResource(resource) || extra !== undefined || (namespace !== undefined && CLUSTER_SCOPED.has(resource))) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const namespaced = !CLUSTER_SCOPED.has(resource);
    if (name === undefined) {
      if (method === 'GET') return [200, this.list(resource, namespace, url.searchParams)];
      if (method === 'POST' && (namespace !== undefined || !namespaced)) return [201, this.create(resource, namespace, body)];
    } else if (namespace !== undefined || !namespaced) {
      if (method === 'GET') return [200, this.find(resource, namespace, name)];
      if (method === 'PUT') return [200, this.replace(resource, namespace, name, body)];
    }
    throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method} ${url.pathname})`);
  }

  private list(resource: Resource, namespace: string | undefined, query: URLSearchParams): unknown {
    const labels = parseSelector(query.get('labelSelector'), 'label');
    const fields = parseSelector(query.get('fieldSelector'), 'field');
    for (const [field] of fields) {
      if (!['metadata.name', 'metadata.namespace', ...(FIELD_LABELS[resource] ?? [])].includes(field)) {
        throw new ApiError(400, 'BadRequest', `field label not supported: ${field}`);
      }
    }
    const items = this.objects[resource].filter(
      (o) =>
        (namespace === undefined || o.metadata.namespace === namespace) &&
        labels.every(([k, v]) => o.metadata.labels?.[k] === v) &&
        fields.every(([k, v]) => String(pathValue(o, k) ?? '') === v),
    );
    return { kind: `${KINDS[resource]}List`, apiVersion: 'v1', metadata: { resourceVersion: String(this.version) }, items };
  }

  private find(resource: Resource, namespace: string | undefined, name: string): KubeObject {
    const found = this.objects[resource].find((o) => o.metadata.name === name && o.metadata.namespace === namespace);
    if (!found) throw new ApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
    return found;
  }

  private parse(resource: Resource, namespace: string | undefined, body: string): KubeObject {
    let obj: KubeObject;
    try {
      obj = JSON.parse(body) as KubeObject;
    } catch {
      throw new ApiError(400, 'BadRequest', 'the request body is not valid JSON');
    }
    if (obj.kind !== undefined && obj.kind !== KINDS[resource]) throw new ApiError(400, 'BadRequest', `kind ${obj.kind} sent to ${resource}`);
    const name = obj.metadata?.name;
    if (!name) throw new ApiError(422, 'Invalid', `${KINDS[resource]} is invalid: metadata.name: Required value`);
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      throw new ApiError(422, 'Invalid', `${KINDS[resource]} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`, { name, kind: resource });
    }
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
      throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (namespace !== undefined) obj.metadata.namespace = namespace;
    if (resource === 'events') {
      const involved = (obj as { involvedObject?: { namespace?: string } }).involvedObject;
      if (involved?.namespace && involved.namespace !== namespace) {
        throw new ApiError(422, 'Invalid', `Event "${name}" is invalid: involvedObject.namespace: Invalid value: "${involved.namespace}": does not match event.namespace`);
      }
    }
    return obj;
  }

  private create(resource: Resource, namespace: string | undefined, body: string): KubeObject {
    const obj = this.parse(resource, namespace, body);
    const name = obj.metadata.name;
    if (this.objects[resource].some((o) => o.metadata.name === name && o.metadata.namespace === namespace)) {
      throw new ApiError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });
    }
    delete obj.metadata.uid;
    delete obj.metadata.resourceVersion;
    delete obj.metadata.creationTimestamp;
    this.objects[resource].push(this.stamp(resource, obj));
    return obj;
  }

  private replace(resource: Resource, namespace: string | undefined, name: string, body: string): KubeObject {
    const obj = this.parse(resource, namespace, body);
    if (obj.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const current = this.find(resource, namespace, name);
    if (obj.metadata.resourceVersion !== undefined && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: resource },
      );
    }
    obj.metadata.uid = current.metadata.uid;
    obj.metadata.creationTimestamp = current.metadata.creationTimestamp;
    const list = this.objects[resource];
    list[list.indexOf(current)] = this.stamp(resource, obj);
    return obj;
  }
}
