import type { V1ObjectReference } from '@kubernetes/client-node';
import { apiStatus, describeApiError } from './connect.js';
import type { Kube } from './connect.js';
import type { EventTarget } from './events.js';

export interface ClaimLookupOptions {
  /** The CSI driver name PVs must carry in spec.csi.driver. */
  driver: string;
  /** How long a PV listing is used before it is listed again (default 30 s). */
  cacheMs?: number;
}

const DEFAULT_CACHE_MS = 30_000;

/** Finds the Kubernetes objects a volume's events are about: its PVC, the pods using it on a node. */
export class ClaimLookup {
  private readonly cacheMs: number;
  /** volumeHandle → claimRef of every bound PV of this driver, from the last listing. */
  private claims = new Map<string, V1ObjectReference>();
  private listedAt = -Infinity;
  private listing: Promise<void> | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly opts: ClaimLookupOptions,
  ) {
    this.cacheMs = opts.cacheMs ?? DEFAULT_CACHE_MS;
  }

  /**
   * The PVC bound to the PV of this volume, or undefined when there is no such PV, it is not bound
   * or its claim is gone. Lists PVs at most once per cacheMs, so a volume created after the last
   * listing may be missed for up to cacheMs, and a rebind is seen at most cacheMs late.
   */
  async claimOfVolume(volumeId: string): Promise<EventTarget | undefined> {
    if (Date.now() - this.listedAt >= this.cacheMs) await this.refresh();
    const ref = this.claims.get(volumeId);
    if (!ref?.namespace || !ref.name) return undefined;
    if (ref.uid) return { kind: 'PersistentVolumeClaim', namespace: ref.namespace, name: ref.name, uid: ref.uid };
    // A pre-bound claimRef (written by an admin) may name the claim without its uid.
    let uid: string | undefined;
    try {
      const pvc = await this.kube.core.readNamespacedPersistentVolumeClaim({ namespace: ref.namespace, name: ref.name });
      uid = pvc.metadata?.uid;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw new Error(`kubernetes: cannot read PersistentVolumeClaim ${ref.namespace}/${ref.name} (claim of volume ${volumeId}): ${describeApiError(err)}`);
    }
    if (!uid) return undefined;
    return { kind: 'PersistentVolumeClaim', namespace: ref.namespace, name: ref.name, uid };
  }

  /** The pods among podUids that run on nodeName. */
  async podsOnNode(nodeName: string, podUids: string[]): Promise<EventTarget[]> {
    if (podUids.length === 0) return [];
    const wanted = new Set(podUids);
    let items;
    try {
      items = (await this.kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items;
    } catch (err) {
      throw new Error(`kubernetes: cannot list pods on node ${nodeName}: ${describeApiError(err)}`);
    }
    const out: EventTarget[] = [];
    for (const pod of items) {
      const m = pod.metadata;
      if (m?.uid && m.name && m.namespace && wanted.has(m.uid)) out.push({ kind: 'Pod', namespace: m.namespace, name: m.name, uid: m.uid });
    }
    return out;
  }

  private refresh(): Promise<void> {
    // Concurrent lookups share one listing.
    this.listing ??= this.list().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async list(): Promise<void> {
    let items;
    try {
      items = (await this.kube.core.listPersistentVolume()).items;
    } catch (err) {
      throw new Error(`kubernetes: cannot list PersistentVolumes (looking for driver ${this.opts.driver}): ${describeApiError(err)}`);
    }
    const claims = new Map<string, V1ObjectReference>();
    for (const pv of items) {
      const csi = pv.spec?.csi;
      const ref = pv.spec?.claimRef;
      if (csi?.driver !== this.opts.driver || !ref) continue;
      if (ref.kind && ref.kind !== 'PersistentVolumeClaim') continue;
      claims.set(csi.volumeHandle, ref);
    }
    this.claims = claims;
    this.listedAt = Date.now();
  }
}
