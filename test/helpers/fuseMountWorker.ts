/**
 * Worker thread of MountWorker (fuseMount.ts): mounts a FamfsFileSystem with FuseSession at each
 * mount point, reports "mounted", serves until told to unmount, reports "done" when the
 * session's done promise resolves.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Pool, openDaxDevice } from '../../src/famfs/index.js';
import { FamfsFileSystem } from '../../src/fuse/famfsFs.js';
import { FuseSession } from '../../src/fuse/session.js';

const { device, specs } = workerData as { device: string; specs: { mountpoint: string; readers?: number }[] };
const port = parentPort!;
const sessions = new Map<string, FuseSession>();

try {
  for (const spec of specs) {
    const pool = Pool.open(openDaxDevice(device, { writable: true }), { writable: false });
    const fs = new FamfsFileSystem(pool);
    const session = await FuseSession.mount({
      mountpoint: spec.mountpoint,
      source: device,
      subtype: 'famfs',
      ops: fs,
      readers: spec.readers,
      onError: (what, detail) => port.postMessage({ type: 'error', mountpoint: spec.mountpoint, what, detail: JSON.parse(JSON.stringify(detail)) as unknown }),
    });
    sessions.set(spec.mountpoint, session);
    void session.done.then(() => {
      pool.close();
      port.postMessage({ type: 'done', mountpoint: spec.mountpoint });
    });
    port.postMessage({ type: 'mounted', mountpoint: spec.mountpoint, daxFmap: fs.usesDaxFmap });
  }
} catch (e) {
  port.postMessage({ type: 'failed', error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}

port.on('message', (m: { type: 'unmount'; mountpoint: string }) => {
  if (m.type === 'unmount') void sessions.get(m.mountpoint)?.unmount();
});
