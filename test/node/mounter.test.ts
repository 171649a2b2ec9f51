import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { CsiError } from '../../src/csi/errors.js';
import { ALLOWED_MOUNT_FLAGS, MountError, Mounter, parseMountFlags } from '../../src/node/mounter.js';
import { findMount, isReadOnlyMount } from '../../src/fuse/mountTable.js';
import { scratchDir } from '../helpers/tmpPool.js';
import { assertNoMountsUnder, cleanupMounts, mountsBelow, privileged } from '../helpers/mounts.js';

test('mount flags: the allowed list, conflicts and unknown flags', () => {
  assert.deepEqual(parseMountFlags([], 'f'), { readOnly: undefined, extra: [] });
  assert.deepEqual(parseMountFlags(['ro', 'nosuid', 'nodev', 'nosuid'], 'f'), { readOnly: true, extra: ['nosuid', 'nodev'] });
  assert.deepEqual(parseMountFlags(['rw,noexec', 'noatime', 'nodiratime'], 'f'), { readOnly: false, extra: ['noexec', 'noatime', 'nodiratime'] });
  for (const f of ALLOWED_MOUNT_FLAGS) parseMountFlags([f], 'f');
  const invalid = (flags: string[], re: RegExp) =>
    assert.throws(
      () => parseMountFlags(flags, 'volume_capability.mount.mount_flags'),
      (e: unknown) => e instanceof CsiError && e.code === status.INVALID_ARGUMENT && re.test(e.message),
    );
  invalid(['suid'], /volume_capability\.mount\.mount_flags: mount flag "suid" is not supported/);
  invalid(['nosuid', 'uid=1000'], /mount flag "uid=1000"/);
  invalid(['bind'], /"bind"/);
  invalid(['remount'], /"remount"/);
  invalid([''], /mount flag ""/);
  invalid(['ro', 'rw'], /"ro" and "rw" contradict/);
  invalid(['noatime', 'relatime'], /"noatime" and "relatime" contradict/);
});

test('mounter: bind, read-only bind with flags, unmount, on plain directories', async (t) => {
  if (!privileged(t)) return;
  const s = scratchDir();
  t.after(() => {
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  const src = join(s.dir, 'src');
  const rw = join(s.dir, 'rw target');
  const ro = join(s.dir, 'ro');
  for (const d of [src, rw, ro]) mkdirSync(d);
  writeFileSync(join(src, 'f'), 'hello');
  const m = new Mounter();

  await m.bind(src, rw);
  const rwMount = findMount(rw)!;
  assert.ok(rwMount, 'the bind mount is in the mount table (path with a space)');
  assert.equal(isReadOnlyMount(rwMount), false);
  writeFileSync(join(rw, 'f'), 'written through the bind');
  assert.equal(readFileSync(join(src, 'f'), 'utf8'), 'written through the bind');

  await m.bindReadOnly(rw, ro, ['nosuid', 'nodev', 'noexec']);
  const roMount = findMount(ro)!;
  assert.equal(isReadOnlyMount(roMount), true);
  for (const f of ['nosuid', 'nodev', 'noexec']) assert.ok(roMount.options.includes(f), `${f} in ${roMount.options.join(',')}`);
  assert.equal(roMount.root, rwMount.root, 'a bind of a bind has the same root');
  assert.equal(readFileSync(join(ro, 'f'), 'utf8'), 'written through the bind');
  assert.throws(() => writeFileSync(join(ro, 'f'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');

  await m.remount(ro, false, []);
  assert.equal(isReadOnlyMount(findMount(ro)!), false, 'remount rw');

  await m.unmount(ro);
  await m.unmount(rw, { lazy: true });
  assert.equal(findMount(ro), undefined);
  assert.equal(findMount(rw), undefined);
  assertNoMountsUnder(s.dir);
});

test('mounter: stacked binds unmount one at a time; errors carry the command and stderr', async (t) => {
  if (!privileged(t)) return;
  const s = scratchDir();
  t.after(() => {
    cleanupMounts(s.dir);
    if (mountsBelow(s.dir).length === 0) s.cleanup();
  });
  const a = join(s.dir, 'a');
  const b = join(s.dir, 'b');
  const dst = join(s.dir, 'dst');
  for (const d of [a, b, dst]) mkdirSync(d);
  const m = new Mounter();
  await m.bind(a, dst);
  await m.bind(b, dst);
  assert.equal(findMount(dst)!.root.endsWith('/b'), true, 'the top of the stack is the second bind');
  await m.unmount(dst);
  assert.equal(findMount(dst)!.root.endsWith('/a'), true);
  await m.unmount(dst);
  assert.equal(findMount(dst), undefined);

  await assert.rejects(m.unmount(dst), (e: unknown) => {
    assert.ok(e instanceof MountError);
    assert.deepEqual(e.command, ['/bin/umount', '--no-canonicalize', dst]);
    assert.match(e.message, /umount --no-canonicalize .* failed \(exit status \d+\): .*not mounted/);
    return true;
  });
  await assert.rejects(m.bind(join(s.dir, 'missing'), dst), (e: unknown) => e instanceof MountError && /mount --bind .*missing.* failed/.test(e.message));
  // a remount that fails removes the fresh bind again (a mount(8) wrapper that refuses remounts)
  const wrapper = join(s.dir, 'mount-no-remount');
  writeFileSync(wrapper, '#!/bin/sh\ncase "$*" in *remount*) echo "remount refused" >&2; exit 32;; esac\nexec /bin/mount "$@"\n', { mode: 0o755 });
  const failing = new Mounter({ mountBin: wrapper });
  await assert.rejects(failing.bindReadOnly(a, dst), (e: unknown) => e instanceof MountError && /remount,bind,ro .* failed \(exit status 32\): remount refused/.test(e.message));
  assert.equal(findMount(dst), undefined, 'no half-made mount remains');
  assertNoMountsUnder(s.dir);
});
