import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, parsePoolFlag } from '../../src/csi/config.js';
import { scratchDir } from '../helpers/tmpPool.js';

test('config: a full YAML file with every key', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  const file = join(s.dir, 'config.yaml');
  writeFileSync(
    file,
    `stateDir: /var/lib/famfs-csi
nodeId: worker-1
pools:
  - name: pool0
    device: /dev/dax0.0
    logLength: 256Mi
    famfsVersion: 47
    reclaim: never
    takeOver: true
    defaults: { mode: "0640", uid: 1000, gid: 2000, volumeSize: 64Mi }
  - name: emu
    device: /dev/shm/emu.dax
    emulated: { size: 8Gi }
    relaxStripeBuckets: true
`,
  );
  const c = loadConfigFile(file);
  assert.equal(c.stateDir, '/var/lib/famfs-csi');
  assert.equal(c.nodeId, 'worker-1');
  assert.deepEqual(c.pools[0], {
    name: 'pool0',
    device: '/dev/dax0.0',
    emulatedSize: undefined,
    logLength: 256 * 2 ** 20,
    famfsVersion: 47,
    reclaim: 'never',
    format: 'never',
    takeOver: true,
    relaxStripeBuckets: false,
    defaults: { mode: 0o640, uid: 1000, gid: 2000, volumeSize: 64 * 2 ** 20 },
  });
  const emu = c.pools[1]!;
  assert.equal(emu.emulatedSize, 8 * 2 ** 30);
  assert.equal(emu.reclaim, 'safe', 'emulated pools default to reclaim: safe');
  assert.equal(emu.format, 'ifMissing', 'emulated pools are formatted when they hold no famfs');
  assert.equal(emu.logLength, 64 * 2 ** 20, 'famfs-csi formats with a 64 MiB log by default');
  assert.deepEqual(emu.defaults, { mode: 0o660, uid: 0, gid: 0, volumeSize: 16 * 2 ** 20 });
});

test('config: every mistake is reported with the key and the value', () => {
  const pool = { name: 'p0', device: '/dev/dax0.0' };
  const cases: [unknown, RegExp][] = [
    [null, /the document must be a mapping/],
    [{}, /^config: pools: missing or empty/],
    [{ pools: [] }, /^config: pools: missing or empty/],
    [{ pools: [pool], colour: 'blue' }, /^config: colour: unknown key/],
    [{ pools: [{ device: '/dev/dax0.0' }] }, /^config: pools\[0\]\.name: missing/],
    [{ pools: [{ name: 'P0', device: '/x' }] }, /pools\[0\]\.name: "P0" must be/],
    [{ pools: [{ name: 'p0' }] }, /^config: pools\[0\]\.device: missing/],
    [{ pools: [{ name: 'p0', device: 'relative.dax' }] }, /pools\[0\]\.device: "relative\.dax" must be an absolute path/],
    [{ pools: [{ ...pool, reclaim: 'sometimes' }] }, /pools\[0\]\.reclaim: "sometimes" must be one of never, safe/],
    [{ pools: [{ ...pool, famfsVersion: 46 }] }, /pools\[0\]\.famfsVersion: 46 must be an integer 47\.\.48/],
    [{ pools: [{ ...pool, logLength: '12Mi' }] }, /pools\[0\]\.logLength: 12582912 must be a power of two of at least 8Mi/],
    [{ pools: [{ ...pool, logLength: 'big' }] }, /pools\[0\]\.logLength: "big" is not a size/],
    [{ pools: [{ ...pool, emulated: { size: '3Mi' } }] }, /pools\[0\]\.emulated\.size: 3145728 must be a multiple of 2 MiB/],
    [{ pools: [{ ...pool, emulated: {} }] }, /pools\[0\]\.emulated\.size: missing/],
    [{ pools: [{ ...pool, defaults: { mode: '999' } }] }, /pools\[0\]\.defaults\.mode: "999" must be octal/],
    [{ pools: [{ ...pool, defaults: { uid: -1 } }] }, /pools\[0\]\.defaults\.uid: -1 must be an integer/],
    [{ pools: [{ ...pool, defaults: { shell: 'bash' } }] }, /pools\[0\]\.defaults\.shell: unknown key/],
    [{ pools: [{ ...pool, takeOver: 'yes' }] }, /pools\[0\]\.takeOver: "yes" must be true or false/],
    [{ pools: [pool, pool] }, /pool name "p0" appears twice/],
    [{ stateDir: 'state', pools: [pool] }, /stateDir: "state" must be an absolute path/],
  ];
  for (const [doc, message] of cases) {
    assert.throws(
      () => parseConfig(doc),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      `${JSON.stringify(doc)} should fail with ${message}`,
    );
  }
});

test('config: file errors name the file', (t) => {
  const s = scratchDir();
  t.after(s.cleanup);
  assert.throws(() => loadConfigFile(join(s.dir, 'missing.yaml')), /config: cannot read .*missing\.yaml/);
  const bad = join(s.dir, 'bad.yaml');
  writeFileSync(bad, 'pools: [\n');
  assert.throws(() => loadConfigFile(bad), /config: .*bad\.yaml is not valid YAML/);
});

test('config: --pool flags', () => {
  const p = parsePoolFlag('emu=/dev/shm/emu.dax,size=1Gi,reclaim=never,logLength=8Mi,famfsVersion=47,relaxStripeBuckets=true', 0);
  assert.deepEqual([p.name, p.device, p.emulatedSize, p.reclaim, p.logLength, p.famfsVersion, p.relaxStripeBuckets], ['emu', '/dev/shm/emu.dax', 2 ** 30, 'never', 8 * 2 ** 20, 47, true]);
  assert.throws(() => parsePoolFlag('nodevice', 0), /--pool "nodevice": expected NAME=DEVICE/);
  assert.throws(() => parsePoolFlag('p=/x,size', 0), /option "size" must be key=value/);
  assert.throws(() => parsePoolFlag('p=/x,colour=red', 0), /pools\[0\]\.colour: unknown key/);
});
