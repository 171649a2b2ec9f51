/** Objects the scenarios create (plain JSON manifests for kubectl apply). */

export function pvc(name: string, opts: { storageClass: string; accessModes: string[]; size?: string }): object {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: { accessModes: opts.accessModes, storageClassName: opts.storageClass, resources: { requests: { storage: opts.size ?? '8Mi' } } },
  };
}

/**
 * A pod that sleeps with the claim mounted at /data (the volume's file is /data/data). It runs
 * the famfs-csi image: already on every node, with sh, coreutils and node (plus the dax addon,
 * used for the mmap check).
 */
export function pod(name: string, opts: { image: string; claim: string; node?: string; readOnly?: boolean; tolerateControlPlane?: boolean; nodeSelector?: Record<string, string> }): object {
  const nodeSelector = { ...(opts.node ? { 'kubernetes.io/hostname': opts.node } : {}), ...(opts.nodeSelector ?? {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'famfs-e2e/pod': name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(opts.tolerateControlPlane ? { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] } : {}),
      containers: [
        {
          name: 'app',
          image: opts.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', 'infinity'],
          volumeMounts: [{ name: 'shared', mountPath: '/data', ...(opts.readOnly ? { readOnly: true } : {}) }],
        },
      ],
      volumes: [{ name: 'shared', persistentVolumeClaim: { claimName: opts.claim, ...(opts.readOnly ? { readOnly: true } : {}) } }],
    },
  };
}

export function storageClass(name: string, parameters: Record<string, string>, bindingMode: 'Immediate' | 'WaitForFirstConsumer' = 'Immediate'): object {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, labels: { 'famfs-e2e/scenario': 'true' } },
    provisioner: 'famfs.csi.io',
    parameters,
    reclaimPolicy: 'Delete',
    volumeBindingMode: bindingMode,
  };
}

/** node -e script: map the volume file MAP_SHARED at `offset`, write or read `length` bytes. */
export function mmapScript(mode: 'write' | 'read', offset: number, text: string): string {
  const body =
    mode === 'write'
      ? `const b=Buffer.from(${JSON.stringify(text)});b.copy(v);a.unmap(ab);fs.fsyncSync(fd);console.log('wrote',b.length);`
      : `process.stdout.write(Buffer.from(v.subarray(0,${Buffer.byteLength(text)})).toString());a.unmap(ab);`;
  return `const fs=require('fs');const a=require('/app/build/Release/famfs_dax.node');const fd=fs.openSync('/data/data','${mode === 'write' ? 'r+' : 'r'}');const ab=a.mmap(fd,${offset},4096,${mode === 'write'});const v=new Uint8Array(ab);${body}fs.closeSync(fd);`;
}
