import { readFileSync } from 'node:fs';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../logger.js';

/** A connection to the Kubernetes API: the core/v1 client and the namespace the driver runs in. */
export interface Kube {
  core: CoreV1Api;
  namespace: string;
  /** The API server URL, for messages. */
  server: string;
}

export interface ConnectOptions {
  /** auto: connect when a config is found; on: a config is required; off: never connect. */
  mode: 'auto' | 'on' | 'off';
  kubeconfig?: string;
  namespace?: string;
}

const SERVICEACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function driverNamespace(explicit: string | undefined): string {
  if (explicit) return explicit;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    const ns = readFileSync(SERVICEACCOUNT_NAMESPACE_FILE, 'utf8').trim();
    if (ns) return ns;
  } catch {
    // not in a pod
  }
  return 'default';
}

function loadKubeconfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new Error(`kubernetes: cannot load kubeconfig ${file}: ${(err as Error).message}`);
  }
  return kc;
}

function loadInCluster(): KubeConfig {
  if (!process.env.KUBERNETES_SERVICE_PORT) {
    throw new Error('kubernetes: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not; cannot build the in-cluster config');
  }
  const kc = new KubeConfig();
  kc.loadFromCluster();
  return kc;
}

/**
 * Connects to the API server, or returns undefined when Kubernetes is off or (auto) no config is
 * found. An explicit kubeconfig option wins over the in-cluster service account, which wins over
 * env KUBECONFIG (a flag given on purpose should not be overridden by the pod environment).
 */
export function connectKube(opts: ConnectOptions, logger: Logger): Kube | undefined {
  if (opts.mode === 'off') return undefined;
  let kc: KubeConfig;
  let how: string;
  if (opts.kubeconfig) {
    kc = loadKubeconfig(opts.kubeconfig);
    how = `kubeconfig ${opts.kubeconfig}`;
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    kc = loadInCluster();
    how = 'in-cluster service account';
  } else if (process.env.KUBECONFIG) {
    kc = loadKubeconfig(process.env.KUBECONFIG);
    how = `kubeconfig ${process.env.KUBECONFIG} (env KUBECONFIG)`;
  } else if (opts.mode === 'on') {
    throw new Error(
      'kubernetes mode is on but there is no cluster config: KUBERNETES_SERVICE_HOST is not set (not running in a pod) and no kubeconfig was given (kubeconfig option or env KUBECONFIG)',
    );
  } else {
    logger.info('kubernetes: no in-cluster environment and no kubeconfig; running without the Kubernetes API');
    return undefined;
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubernetes: ${how} has no current cluster (check current-context)`);
  const kube: Kube = { core: kc.makeApiClient(CoreV1Api), namespace: driverNamespace(opts.namespace), server: cluster.server };
  logger.info('kubernetes: connected', { via: how, server: kube.server, namespace: kube.namespace });
  return kube;
}

/** The HTTP status of a failed API call, or undefined for a network error. */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * One line for a failed API call: "HTTP 403 Forbidden: <message>" from the Status object the
 * server sent, or the network error. ApiException's own message carries headers and is too long.
 */
export function describeApiError(err: unknown): string {
  if (!(err instanceof ApiException)) return err instanceof Error ? err.message : String(err);
  let reason = '';
  let message = '';
  const body: unknown = err.body;
  if (typeof body === 'string' && body) {
    try {
      const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
      if (typeof status.reason === 'string') reason = status.reason;
      if (typeof status.message === 'string') message = status.message;
    } catch {
      message = body.slice(0, 200);
    }
  } else if (err.code === 401) {
    reason = 'Unauthorized';
  }
  return `HTTP ${err.code}${reason ? ' ' + reason : ''}${message ? ': ' + message : ''}`;
}
