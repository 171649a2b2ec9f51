/**
 * famfs-csi node data-path benchmark (npm run bench:node). Needs root and /dev/fuse: it makes real
 * FUSE mounts with `famfs-csi mount` child processes (dist/src/cli/main.js) on an emulated pool,
 * a sparse file in a scratch directory under /dev/shm.
 *
 *   1. Sequential 1 MiB read and write of a 512 MiB volume file through the FUSE mount
 *      (fs.readSync / fs.writeSync from this process) vs the same region of the pool file read and
 *      written directly (readSync / writeSync = pread / pwrite)            target >= 40 % of direct
 *   2. Random aligned 4 KiB reads (20,000) through the mount vs direct: 1 thread (readSync) and
 *      4 workers (async fs.read)
 *   3. A new file made by the pool's writer (Pool.createFile in this process) becomes visible on a
 *      second node (a second `famfs-csi mount` of the same pool): time until statSync succeeds
 *   4. NodeStageVolume + NodePublishVolume through the node plugin (startNodePlugin) over its unix
 *      socket, 100 volumes made by the controller plugin in this process; then unpublish, unstage
 *      and delete them all
 *
 *   node dist/bench/node.bench.js [--only 1,2,3,4] [--profile DIR]
 *
 * --profile DIR runs the first mount (the one 1. and 2. measure) as `node --cpu-prof
 * --cpu-prof-dir=DIR ...`; its V8 CPU profile is written to DIR when it is stopped at the end.
 *
 * Everything (pool files, mount points, sockets, the kubelet and state directories, the host
 * identity file) lives in one mkdtemp directory under /dev/shm. At the end, also on error and
 * Ctrl-C, every mount under it is unmounted (umount, then umount -l if busy), every process it
 * started is stopped, the directory is removed and /proc/self/mountinfo is checked for leftovers.
 *
 * It is a measurement, not a test: it exits 0 when a target is missed and prints MISS.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, promises as fsp, read, readFileSync, readSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { MiB, Pool, createEmulatedDevice, mapFileRange, mkfs, openDaxDevice } from '../src/famfs/index.js';
import type { FileNode } from '../src/famfs/index.js';
import { readMountinfo } from '../src/fuse/mountTable.js';
import type { MountInfo } from '../src/fuse/mountTable.js';
import { parseConfig } from '../src/csi/config.js';
import { createLogger } from '../src/csi/logger.js';
import { csiServices } from '../src/csi/proto.js';
import { startControllerPlugin } from '../src/controller/plugin.js';
import { fmtInt, fmtMs, gbps, median, notes, percentile, printTable, progress, row } from './table.js';
import { Interrupted, checkInterrupted, handleInterrupts, now } from './runtime.js';

// ---------------------------------------------------------------------------------------------
// Sizes of the runs

const POOL_NAME = 'bench';
const POOL_SIZE = 1024 * MiB;
const POOL_LOG = 8 * MiB;
const VOLUME = 512 * MiB;
const BLOCK = MiB;
const SEQ_ROUNDS = 5;
const RANDOM_READS = 20_000;
const RANDOM_WARMUP = 2_000;
const IO = 4096;
const WORKERS = 4;
const VISIBLE_FILES = 50;
const VISIBLE_WARMUP = 3;
const VISIBLE_FILE_SIZE = 2 * MiB;
const VISIBLE_TIMEOUT_MS = 5_000;
const NODE_VOLUMES = 100;
const NODE_POOL = 'nodebench';
const NODE_POOL_SIZE = 1024 * MiB;
const NODE_VOLUME_SIZE = 2 * MiB;
const CALL_TIMEOUT_MS = 30_000;
const MOUNT_START_TIMEOUT_MS = 15_000;
const SEQ_TARGET = 0.4;

/** The famfs-csi CLI next to this file once compiled: dist/bench/node.bench.js -> dist/src/cli/main.js. */
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Options

const { values: argv } = parseArgs({
  args: process.argv.slice(2),
  options: { only: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (argv.help) {
  process.stdout.write('usage: node dist/bench/node.bench.js [--only 1,2,3,4] [--profile DIR]\n');
  process.exit(0);
}
const only = new Set((argv.only ?? '1,2,3,4').split(',').map((s) => s.trim()));
const profileDir = argv.profile;

// ---------------------------------------------------------------------------------------------
// Scratch space. The host identity file lives in it (before anything reads it), so nothing under
// /opt/famfs is touched; the mount children and the node plugin's pool server inherit it.

const scratch = mkdtempSync('/dev/shm/famfs-csi-bench-node-');
process.env.FAMFS_SYSTEM_UUID_FILE = join(scratch, 'system_uuid');
const poolPath = join(scratch, 'pool.dax');

// ---------------------------------------------------------------------------------------------
// Helpers

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? '';

/** xorshift32: the same offsets in every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function readAsync(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

// ---------------------------------------------------------------------------------------------
// What this run holds, so that cleanup can undo all of it

interface MountChild {
  name: string;
  mountpoint: string;
  child: ChildProcess;
  log: string;
  exit: string | undefined;
  exited: Promise<void>;
}

const mountChildren: MountChild[] = [];
const openFds = new Set<number>();
let writer: Pool | undefined;
let grpcClients: grpc.Client[] = [];
const stoppers: { name: string; stop: () => Promise<void> }[] = [];

function openFd(path: string, flags: string): number {
  const fd = openSync(path, flags);
  openFds.add(fd);
  return fd;
}

function closeFd(fd: number): void {
  if (!openFds.delete(fd)) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Mounts at or below the scratch directory, latest first (bind mounts before what they bind). */
function ourMounts(table: MountInfo[] = readMountinfo()): MountInfo[] {
  return table.filter((m) => m.mountPoint === scratch || m.mountPoint.startsWith(scratch + '/')).sort((a, b) => b.id - a.id);
}

/** Processes whose command line has `--mountpoint <dir under scratch>`: our FUSE servers, wherever they came from. */
function ourServerPids(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    const i = args.indexOf('--mountpoint');
    if (i >= 0 && args.indexOf('mount') >= 0 && (args[i + 1] ?? '').startsWith(scratch + '/')) out.push(pid);
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function umountSync(path: string, lazy: boolean): boolean {
  const r = spawnSync('/bin/umount', [...(lazy ? ['-l'] : []), '--no-canonicalize', path], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  return r.status === 0;
}

let cleanedUp = false;
const cleanupReport: { mountsLeft: MountInfo[]; pidsLeft: number[]; removed: boolean; lazy: number; killed: number } = { mountsLeft: [], pidsLeft: [], removed: false, lazy: 0, killed: 0 };

/**
 * The orderly cleanup: stop the plugins, close every descriptor, SIGTERM the mount children (they
 * unmount themselves), unmount what is left (umount, umount -l if busy), wait for and if need be
 * SIGKILL every FUSE server of ours, remove the scratch directory when nothing is mounted in it.
 */
async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const c of grpcClients) c.close();
  grpcClients = [];
  for (const s of stoppers.reverse()) {
    try {
      await s.stop();
    } catch (e) {
      progress(`cleanup: stopping ${s.name} failed: ${(e as Error).message}`);
    }
  }
  for (const fd of [...openFds]) closeFd(fd);
  if (writer) {
    try {
      writer.close();
    } catch {
      // already closed
    }
    writer = undefined;
  }
  const serverPids = new Set(ourServerPids());
  for (const m of mountChildren) {
    if (m.exit === undefined) m.child.kill('SIGTERM');
  }
  await Promise.race([Promise.all(mountChildren.map((m) => m.exited)), sleep(5_000)]);
  for (const m of ourMounts()) {
    if (!umountSync(m.mountPoint, false)) {
      cleanupReport.lazy++;
      umountSync(m.mountPoint, true);
    }
  }
  // Servers whose mount is gone exit by themselves.
  const deadline = Date.now() + 5_000;
  while ([...serverPids].some(alive) && Date.now() < deadline) await sleep(20);
  for (const pid of [...serverPids, ...mountChildren.map((m) => m.child.pid ?? -1)]) {
    if (pid > 0 && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
        cleanupReport.killed++;
      } catch {
        // gone meanwhile
      }
    }
  }
  await sleep(50);
  finishCleanup();
}

/** Last step, also the synchronous last resort (second Ctrl-C, process exit). */
function finishCleanup(): void {
  for (let round = 0; round < 64; round++) {
    const left = ourMounts();
    if (left.length === 0) break;
    if (!umountSync(left[0]!.mountPoint, false)) umountSync(left[0]!.mountPoint, true);
  }
  cleanupReport.mountsLeft = ourMounts();
  cleanupReport.pidsLeft = ourServerPids().filter(alive);
  // Never rm -r across a mount: with a mount left, the directory stays and the report says so.
  if (cleanupReport.mountsLeft.length === 0 && existsSync(scratch)) {
    rmSync(scratch, { recursive: true, force: true });
  }
  cleanupReport.removed = !existsSync(scratch);
}

function emergencyCleanup(): void {
  for (const fd of [...openFds]) closeFd(fd);
  for (const m of mountChildren) if (m.exit === undefined) m.child.kill('SIGKILL');
  for (const pid of ourServerPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  finishCleanup();
}

process.on('exit', () => {
  if (!cleanedUp || existsSync(scratch)) emergencyCleanup();
});
handleInterrupts({ first: 'stopping after the current step, then cleaning up (again to force)', again: 'forced cleanup and exit' }, emergencyCleanup);

// ---------------------------------------------------------------------------------------------
// famfs-csi mount children

function logTail(path: string): string {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text.slice(-2000).replace(/\s*\n\s*/g, ' | ') || '(empty)';
  } catch {
    return '(no log)';
  }
}

async function statWithin(path: string, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([fsp.stat(path).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `famfs-csi mount` of the bench pool at `mountpoint` and waits until the mount answers. */
async function startMount(name: string, mountpoint: string, nodeArgs: string[] = []): Promise<MountChild> {
  mkdirSync(mountpoint, { recursive: true });
  const log = join(scratch, `${name}.log`);
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, CLI, 'mount', '--pool', POOL_NAME, '--device', poolPath, '--mountpoint', mountpoint, '--log-level', 'warn', '--log-format', 'text'], {
      stdio: ['ignore', fd, fd],
      env: process.env,
    });
  } finally {
    closeSync(fd);
  }
  let onExit!: () => void;
  const m: MountChild = { name, mountpoint, child, log, exit: undefined, exited: new Promise<void>((r) => (onExit = r)) };
  child.on('error', (e) => {
    m.exit ??= `could not start: ${e.message}`;
    onExit();
  });
  child.on('exit', (code, signal) => {
    m.exit ??= signal ? `killed by ${signal}` : `exited with status ${code}`;
    onExit();
  });
  mountChildren.push(m);
  const deadline = Date.now() + MOUNT_START_TIMEOUT_MS;
  for (;;) {
    checkInterrupted();
    const mounted = readMountinfo().some((x) => x.mountPoint === mountpoint && x.fsType === 'fuse.famfs');
    if (mounted && (await statWithin(join(mountpoint, '.meta', '.superblock'), 2_000))) return m;
    if (m.exit !== undefined) throw new Error(`famfs-csi mount (${name}) ${m.exit} before its mount answered: ${logTail(log)}`);
    if (Date.now() > deadline) throw new Error(`famfs-csi mount (${name}) did not answer at ${mountpoint} within ${MOUNT_START_TIMEOUT_MS} ms: ${logTail(log)}`);
    await sleep(20);
  }
}

/** Waits until `path` exists (a stat through a FUSE mount), or throws after `ms`. */
async function waitPath(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      statSync(path);
      return;
    } catch (e) {
      if (errCode(e) !== 'ENOENT') throw e;
    }
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${ms} ms`);
    await sleep(5);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Sequential 1 MiB throughput

/** Device offset of every 1 MiB block of `file` (each block must be one contiguous device range). */
function blockOffsets(file: FileNode): number[] {
  const out: number[] = [];
  for (let off = 0; off < file.size; off += BLOCK) {
    const segs = mapFileRange(file.fmap, file.size, off, BLOCK);
    if (segs.length !== 1 || segs[0]!.length !== BLOCK) throw new Error(`block at ${off} of the volume file spans ${segs.length} device ranges`);
    out.push(segs[0]!.deviceOffset);
  }
  return out;
}

/** A recognisable, non-zero 1 MiB block: byte pattern from (block, generation), stamped with both. */
function pattern(buf: Buffer, block: number, gen: number): Buffer {
  buf.fill(((block * 31 + gen * 17) % 255) + 1);
  buf.writeUInt32LE(block, 0);
  buf.writeUInt32LE(gen, 4);
  buf.writeUInt32LE(0xfa3f5c51, BLOCK - 4);
  return buf;
}

type Pass = (buf: Buffer) => void;

function timePass(bytes: number, pass: Pass, buf: Buffer): number {
  const t = now();
  pass(buf);
  return gbps(bytes, now() - t);
}

interface SeqResult {
  fuseRead: number[];
  directRead: number[];
  fuseWrite: number[];
  directWrite: number[];
  checked: number;
  bad: string[];
}

function benchSequential(mountpoint: string, relpath: string, devOff: number[]): SeqResult {
  const blocks = devOff.length;
  const bytes = blocks * BLOCK;
  const fuseFd = openFd(join(mountpoint, relpath), 'r+');
  const devFd = openFd(poolPath, 'r+');
  const buf = Buffer.alloc(BLOCK);
  const expect = Buffer.alloc(BLOCK);
  const bad: string[] = [];

  const fuseRead: Pass = (b) => {
    for (let i = 0; i < blocks; i++) if (readSync(fuseFd, b, 0, BLOCK, i * BLOCK) !== BLOCK) throw new Error(`short FUSE read at block ${i}`);
  };
  const directRead: Pass = (b) => {
    for (let i = 0; i < blocks; i++) if (readSync(devFd, b, 0, BLOCK, devOff[i]!) !== BLOCK) throw new Error(`short direct read at block ${i}`);
  };
  const fuseWrite: Pass = (b) => {
    for (let i = 0; i < blocks; i++) if (writeSync(fuseFd, b, 0, BLOCK, i * BLOCK) !== BLOCK) throw new Error(`short FUSE write at block ${i}`);
  };
  const directWrite: Pass = (b) => {
    for (let i = 0; i < blocks; i++) if (writeSync(devFd, b, 0, BLOCK, devOff[i]!) !== BLOCK) throw new Error(`short direct write at block ${i}`);
  };

  // Correctness, once (untimed; also warms the server's mapping of the volume):
  // (a) FUSE write of distinct blocks -> the pool file holds them at the fmap's device offsets;
  // (b) direct write of other distinct blocks -> FUSE reads return them.
  for (let i = 0; i < blocks; i++) writeSync(fuseFd, pattern(buf, i, 1), 0, BLOCK, i * BLOCK);
  for (let i = 0; i < blocks; i++) {
    readSync(devFd, buf, 0, BLOCK, devOff[i]!);
    if (!buf.equals(pattern(expect, i, 1)) && bad.length < 3) bad.push(`FUSE write of block ${i} is not in the pool file at device offset ${devOff[i]}`);
  }
  for (let i = 0; i < blocks; i++) writeSync(devFd, pattern(buf, i, 2), 0, BLOCK, devOff[i]!);
  for (let i = 0; i < blocks; i++) {
    buf.fill(0);
    readSync(fuseFd, buf, 0, BLOCK, i * BLOCK);
    if (!buf.equals(pattern(expect, i, 2)) && bad.length < 6) bad.push(`FUSE read of block ${i} differs from the pool file`);
  }

  // Timed: rounds alternate FUSE and direct so that drift of the machine hits both alike. Writes
  // use one non-zero buffer; the pages are resident since the pre-write.
  const out: SeqResult = { fuseRead: [], directRead: [], fuseWrite: [], directWrite: [], checked: blocks * 2, bad };
  buf.fill(0xa5);
  for (let r = 0; r < SEQ_ROUNDS; r++) {
    checkInterrupted();
    out.fuseWrite.push(timePass(bytes, fuseWrite, buf));
    out.directWrite.push(timePass(bytes, directWrite, buf));
    out.fuseRead.push(timePass(bytes, fuseRead, buf));
    out.directRead.push(timePass(bytes, directRead, buf));
  }
  closeFd(fuseFd);
  closeFd(devFd);
  return out;
}

// ---------------------------------------------------------------------------------------------
// 2. Random 4 KiB reads

interface RandomResult {
  fuse1: number;
  direct1: number;
  fuseLat: number[];
  directLat: number[];
  fuseN: number;
  directN: number;
}

function randomOffsets(n: number, fileSize: number, seed: number): number[] {
  const r = rng(seed);
  const slots = fileSize / IO;
  return Array.from({ length: n }, () => Math.floor(r() * slots) * IO);
}

function singleThread(fd: number, positions: number[], lat: number[] | undefined): number {
  const buf = Buffer.alloc(IO);
  const t0 = now();
  if (lat) {
    for (const p of positions) {
      const t = now();
      readSync(fd, buf, 0, IO, p);
      lat.push(now() - t);
    }
  } else {
    for (const p of positions) readSync(fd, buf, 0, IO, p);
  }
  return positions.length / ((now() - t0) / 1000);
}

async function concurrent(fd: number, positions: number[]): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      const buf = Buffer.alloc(IO);
      while (next < positions.length) {
        const p = positions[next++]!;
        if ((await readAsync(fd, buf, IO, p)) !== IO) throw new Error(`short read at ${p}`);
      }
    }),
  );
  return positions.length / ((now() - t0) / 1000);
}

async function benchRandom(mountpoint: string, relpath: string, devOff: number[], fileSize: number): Promise<RandomResult> {
  const fileOffsets = randomOffsets(RANDOM_READS, fileSize, 0x5eed);
  const devOffsets = fileOffsets.map((o) => devOff[Math.floor(o / BLOCK)]! + (o % BLOCK));
  const warmFile = randomOffsets(RANDOM_WARMUP, fileSize, 0xbeef);
  const warmDev = warmFile.map((o) => devOff[Math.floor(o / BLOCK)]! + (o % BLOCK));
  const fuseFd = openFd(join(mountpoint, relpath), 'r');
  const devFd = openFd(poolPath, 'r');

  // Correctness of the offsets: a few 4 KiB reads agree between the two paths.
  const a = Buffer.alloc(IO);
  const b = Buffer.alloc(IO);
  for (let i = 0; i < 16; i++) {
    readSync(fuseFd, a, 0, IO, fileOffsets[i]!);
    readSync(devFd, b, 0, IO, devOffsets[i]!);
    if (!a.equals(b)) throw new Error(`random read ${i}: FUSE and direct disagree at file offset ${fileOffsets[i]}`);
  }

  singleThread(fuseFd, warmFile, undefined);
  singleThread(devFd, warmDev, undefined);
  checkInterrupted();
  const fuseLat: number[] = [];
  const directLat: number[] = [];
  const fuse1 = singleThread(fuseFd, fileOffsets, fuseLat);
  const direct1 = singleThread(devFd, devOffsets, directLat);
  checkInterrupted();
  await concurrent(fuseFd, warmFile);
  await concurrent(devFd, warmDev);
  const fuseN = await concurrent(fuseFd, fileOffsets);
  const directN = await concurrent(devFd, devOffsets);
  closeFd(fuseFd);
  closeFd(devFd);
  return { fuse1, direct1, fuseLat, directLat, fuseN, directN };
}

// ---------------------------------------------------------------------------------------------
// 3. Visibility of a new file on a second node

interface VisibleResult {
  create: number[];
  visible: number[];
  endToEnd: number[];
  failedStats: number;
  firstTry: number;
}

async function benchVisible(pool: Pool, mountB: string, mountA: string): Promise<VisibleResult> {
  await pool.mkdir('vis');
  await waitPath(join(mountB, 'vis'), 5_000);
  const out: VisibleResult = { create: [], visible: [], endToEnd: [], failedStats: 0, firstTry: 0 };
  for (let i = 0; i < VISIBLE_WARMUP + VISIBLE_FILES; i++) {
    checkInterrupted();
    const rel = `vis/f${i}`;
    const path = join(mountB, rel);
    const t0 = now();
    await pool.createFile(rel, VISIBLE_FILE_SIZE);
    const t1 = now();
    let failed = 0;
    let size = -1;
    for (;;) {
      try {
        size = statSync(path).size;
        break;
      } catch (e) {
        if (errCode(e) !== 'ENOENT') throw e;
        failed++;
        if (now() - t1 > VISIBLE_TIMEOUT_MS) throw new Error(`${rel} not visible on node B after ${VISIBLE_TIMEOUT_MS} ms`);
      }
    }
    const t2 = now();
    if (size !== VISIBLE_FILE_SIZE) throw new Error(`${rel} shows ${size} bytes on node B, not ${VISIBLE_FILE_SIZE}`);
    if (statSync(join(mountA, rel)).size !== VISIBLE_FILE_SIZE) throw new Error(`${rel} has the wrong size on node A`);
    if (i < VISIBLE_WARMUP) continue;
    out.create.push(t1 - t0);
    out.visible.push(t2 - t1);
    out.endToEnd.push(t2 - t0);
    out.failedStats += failed;
    if (failed === 0) out.firstTry++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 4. NodeStage + NodePublish through the node plugin

type Client = grpc.Client;

function waitReady(client: Client, ms: number): Promise<void> {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + ms, (err) => (err ? reject(new Error(`cannot connect to ${client.getChannel().getTarget()}: ${err.message}`)) : resolve())));
}

function describeError(e: unknown): string {
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err.code === 'number') return `${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`;
  return e instanceof Error ? e.message : String(e);
}

async function unary<Res>(client: Client, method: string, request: object): Promise<Res> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(client);
  try {
    return await new Promise<Res>((resolve, reject) => {
      fn(request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
    });
  } catch (e) {
    throw new Error(`${method}: ${describeError(e)}`);
  }
}

interface NodeVolume {
  name: string;
  id: string;
  context: Record<string, string>;
  staging: string;
  target: string;
  staged: boolean;
  published: boolean;
}

interface NodeResult {
  coldStage: number;
  stage: number[];
  publish: number[];
  both: number[];
  unpublish: number[];
  unstage: number[];
  deleted: number;
}

const CAPABILITY = { mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } };

async function benchNodePlugin(): Promise<NodeResult> {
  const { startNodePlugin } = await import('../src/node/plugin.js');
  const stateDir = join(scratch, 'state');
  const kubeletDir = join(scratch, 'kubelet');
  mkdirSync(kubeletDir, { recursive: true });
  const config = parseConfig({
    stateDir,
    nodeId: 'bench-node',
    kubeletDir,
    pools: [{ name: NODE_POOL, device: join(scratch, 'node-pool.dax'), emulated: { size: `${NODE_POOL_SIZE / MiB}Mi` }, logLength: `${POOL_LOG / MiB}Mi` }],
  });
  const logger = createLogger({ silent: true });
  const controllerEndpoint = `unix://${join(scratch, 'controller.sock')}`;
  const nodeEndpoint = `unix://${join(scratch, 'node.sock')}`;
  const controllerPlugin = await startControllerPlugin({ config, endpoint: controllerEndpoint, logger });
  stoppers.push({ name: 'controller plugin', stop: () => controllerPlugin.stop(2_000) });
  const nodePlugin = await startNodePlugin({ config, endpoint: nodeEndpoint, logger, kubeletDir, healthIntervalMs: 0 });
  stoppers.push({ name: 'node plugin', stop: () => nodePlugin.stop(2_000) });

  const csi = csiServices();
  const controller = new csi.Controller(controllerEndpoint, grpc.credentials.createInsecure());
  const identity = new csi.Identity(controllerEndpoint, grpc.credentials.createInsecure());
  const node = new csi.Node(nodeEndpoint, grpc.credentials.createInsecure());
  grpcClients.push(controller, identity, node);
  await Promise.all([waitReady(controller, 10_000), waitReady(node, 10_000), waitReady(identity, 10_000)]);
  for (let i = 0; ; i++) {
    const probe = await unary<{ ready: { value: boolean } | null }>(identity, 'Probe', {});
    if (!probe.ready || probe.ready.value) break;
    if (i > 500) throw new Error('the controller plugin did not become ready');
    await sleep(10);
  }

  const volumes: NodeVolume[] = [];
  const out: NodeResult = { coldStage: 0, stage: [], publish: [], both: [], unpublish: [], unstage: [], deleted: 0 };
  try {
    progress(`4: creating ${NODE_VOLUMES + 1} volumes with the controller plugin`);
    for (let i = 0; i <= NODE_VOLUMES; i++) {
      checkInterrupted();
      const name = `node-bench-${i}`;
      const res = await unary<{ volume: { volume_id: string; volume_context: Record<string, string> } | null }>(controller, 'CreateVolume', {
        name,
        capacity_range: { required_bytes: String(NODE_VOLUME_SIZE) },
        volume_capabilities: [CAPABILITY],
        parameters: {},
      });
      if (!res.volume?.volume_id) throw new Error(`CreateVolume ${name}: no volume id`);
      // As the kubelet lays them out: it creates the parents, the plugin the leaves.
      const stagingParent = join(kubeletDir, 'plugins', 'kubernetes.io', 'csi', 'famfs.csi.io', `v${i}`);
      const targetParent = join(kubeletDir, 'pods', `pod-${i}`, 'volumes', 'kubernetes.io~csi', `pv-${i}`);
      mkdirSync(stagingParent, { recursive: true });
      mkdirSync(targetParent, { recursive: true });
      volumes.push({ name, id: res.volume.volume_id, context: res.volume.volume_context ?? {}, staging: join(stagingParent, 'globalmount'), target: join(targetParent, 'mount'), staged: false, published: false });
    }

    progress(`4: NodeStageVolume + NodePublishVolume of ${NODE_VOLUMES + 1} volumes (the first starts the pool's FUSE server)`);
    for (let i = 0; i < volumes.length; i++) {
      checkInterrupted();
      const v = volumes[i]!;
      const t0 = now();
      await unary(node, 'NodeStageVolume', { volume_id: v.id, staging_target_path: v.staging, volume_capability: CAPABILITY, volume_context: v.context });
      v.staged = true;
      const t1 = now();
      await unary(node, 'NodePublishVolume', { volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: CAPABILITY, readonly: false, volume_context: v.context });
      v.published = true;
      const t2 = now();
      const size = statSync(join(v.target, 'data')).size;
      if (size !== NODE_VOLUME_SIZE) throw new Error(`volume ${v.id}: ${v.target}/data has ${size} bytes, not ${NODE_VOLUME_SIZE}`);
      if (i === 0) {
        out.coldStage = t1 - t0;
        continue;
      }
      out.stage.push(t1 - t0);
      out.publish.push(t2 - t1);
      out.both.push(t2 - t0);
    }
  } finally {
    // Undo everything, also after an error or an interruption: unpublish, unstage, delete.
    progress(`4: NodeUnpublishVolume + NodeUnstageVolume + DeleteVolume of ${volumes.length} volumes`);
    const failures: string[] = [];
    for (const v of volumes) {
      try {
        if (v.published) {
          const t = now();
          await unary(node, 'NodeUnpublishVolume', { volume_id: v.id, target_path: v.target });
          out.unpublish.push(now() - t);
          v.published = false;
        }
        if (v.staged) {
          const t = now();
          await unary(node, 'NodeUnstageVolume', { volume_id: v.id, staging_target_path: v.staging });
          out.unstage.push(now() - t);
          v.staged = false;
        }
        await unary(controller, 'DeleteVolume', { volume_id: v.id });
        out.deleted++;
      } catch (e) {
        failures.push(`${v.name}: ${(e as Error).message}`);
      }
    }
    if (failures.length) progress(`4: cleanup: ${failures.length} volumes failed, e.g. ${failures[0]}`);
  }
  return out;
}

/** Does the node plugin exist and export startNodePlugin (i.e. it compiled to dist)? */
async function nodePluginAvailable(): Promise<string | undefined> {
  const js = fileURLToPath(new URL('../src/node/plugin.js', import.meta.url));
  if (!existsSync(js)) return 'dist/src/node/plugin.js does not exist';
  try {
    const mod = (await import('../src/node/plugin.js')) as Record<string, unknown>;
    if (typeof mod.startNodePlugin !== 'function') return 'src/node/plugin.ts does not export startNodePlugin';
  } catch (e) {
    return `cannot load it: ${(e as Error).message}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  const loadBefore = loadavg()[0]!;
  if (process.getuid?.() !== 0) throw new Error('needs root (FUSE and bind mounts)');
  if (!existsSync('/dev/fuse')) throw new Error('needs /dev/fuse (modprobe fuse)');
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist; run npm run build`);

  const need123 = only.has('1') || only.has('2') || only.has('3');
  let mountA: MountChild | undefined;
  let mountB: MountChild | undefined;
  if (need123) {
    progress(`formatting a ${POOL_SIZE / MiB} MiB emulated pool (sparse, ${POOL_LOG / MiB} MiB log) in ${scratch}`);
    createEmulatedDevice(poolPath, POOL_SIZE);
    const dev = openDaxDevice(poolPath);
    try {
      await mkfs(dev, { logLength: POOL_LOG });
    } finally {
      dev.close();
    }
    writer = Pool.open(poolPath);
    progress(`starting famfs-csi mount for node A${profileDir ? ` (under --cpu-prof, profile to ${profileDir})` : ''}${only.has('3') ? ' and node B' : ''}`);
    mountA = await startMount('node-a', join(scratch, 'node-a'), profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    if (only.has('3')) mountB = await startMount('node-b', join(scratch, 'node-b'));
  }

  if (only.has('1') || only.has('2')) {
    progress(`creating a ${VOLUME / MiB} MiB volume file and pre-writing it directly`);
    const file = await writer!.createFile('seq', VOLUME);
    const devOff = blockOffsets(file);
    const fd = openFd(poolPath, 'r+');
    const buf = Buffer.alloc(BLOCK);
    for (let i = 0; i < devOff.length; i++) writeSync(fd, pattern(buf, i, 0), 0, BLOCK, devOff[i]!);
    closeFd(fd);
    await waitPath(join(mountA!.mountpoint, 'seq'), 5_000);
    notes.push(
      `pool: ${POOL_SIZE / MiB} MiB sparse file on /dev/shm (tmpfs), ${POOL_LOG / MiB} MiB log; the ${VOLUME / MiB} MiB volume file is ${file.fmap.extents.length} extent(s) at device offset ${devOff[0]}, ` +
        'pre-written with non-zero data by pwrite, so every page is resident before anything is timed. "direct" = the same region of the pool file by readSync/writeSync (pread/pwrite).',
    );

    if (only.has('1')) {
      progress(`1: sequential 1 MiB, ${SEQ_ROUNDS} rounds of ${VOLUME / MiB} MiB each way, FUSE and direct alternating (after a checked pass)`);
      const s = benchSequential(mountA!.mountpoint, 'seq', devOff);
      const fr = median(s.fuseRead);
      const dr = median(s.directRead);
      const fw = median(s.fuseWrite);
      const dw = median(s.directWrite);
      row(`1. seq read 1 MiB via FUSE mount (readSync; median of ${SEQ_ROUNDS} × ${VOLUME / MiB} MiB)`, `${fr.toFixed(2)} GB/s`);
      row('   direct readSync of the same pool-file region', `${dr.toFixed(2)} GB/s`);
      row('   read: FUSE / direct', pct(fr / dr), `≥ ${pct(SEQ_TARGET)}`, fr / dr >= SEQ_TARGET);
      row(`   seq write 1 MiB via FUSE mount (writeSync; median of ${SEQ_ROUNDS})`, `${fw.toFixed(2)} GB/s`);
      row('   direct writeSync of the same pool-file region', `${dw.toFixed(2)} GB/s`);
      row('   write: FUSE / direct', pct(fw / dw), `≥ ${pct(SEQ_TARGET)}`, fw / dw >= SEQ_TARGET);
      row('   bytes: FUSE write → pool file, pool file → FUSE read', s.bad.length ? s.bad.join('; ') : `${fmtInt(s.checked)}/${fmtInt(s.checked)} MiB blocks equal`, 'all equal', s.bad.length === 0);
      notes.push(
        `1.: GB/s = 10^9 bytes/s, one thread, 1 MiB per syscall; rounds alternate FUSE write, direct write, FUSE read, direct read; per-round GB/s FUSE read ${s.fuseRead.map((x) => x.toFixed(2)).join(' / ')}, ` +
          `direct read ${s.directRead.map((x) => x.toFixed(2)).join(' / ')}, FUSE write ${s.fuseWrite.map((x) => x.toFixed(2)).join(' / ')}, direct write ${s.directWrite.map((x) => x.toFixed(2)).join(' / ')}. ` +
          'The mount opens files with FOPEN_DIRECT_IO, so every FUSE read/write is one 1 MiB request to the server (no page cache in between). ' +
          "A FUSE read is one kernel copy (the server's reply writev from its pool mapping into the reader's buffer), like pread; a FUSE write is two " +
          "(the kernel copies the data into the server's request buffer, the server copies it into its pool mapping), against pwrite's one.",
      );
    }

    if (only.has('2')) {
      checkInterrupted();
      progress(`2: random 4 KiB reads, ${fmtInt(RANDOM_READS)} per run, 1 thread and ${WORKERS} workers`);
      const r = await benchRandom(mountA!.mountpoint, 'seq', devOff, VOLUME);
      row(`2. random 4 KiB read via FUSE, 1 thread (readSync, ${fmtInt(RANDOM_READS)} reads)`, `${fmtInt(r.fuse1)} IOPS`);
      row('   latency p50 / p99', `${fmtMs(median(r.fuseLat))} / ${fmtMs(percentile(r.fuseLat, 99))}`);
      row('   direct pread of the pool file, 1 thread', `${fmtInt(r.direct1)} IOPS`);
      row('     latency p50 / p99', `${fmtMs(median(r.directLat))} / ${fmtMs(percentile(r.directLat, 99))}`);
      row('   FUSE / direct, 1 thread', pct(r.fuse1 / r.direct1));
      row(`   random 4 KiB read via FUSE, ${WORKERS} workers (async fs.read)`, `${fmtInt(r.fuseN)} IOPS`);
      row(`   direct, ${WORKERS} workers (async fs.read)`, `${fmtInt(r.directN)} IOPS`);
      row(`   FUSE / direct, ${WORKERS} workers`, pct(r.fuseN / r.directN));
      notes.push(
        `2.: ${fmtInt(RANDOM_READS)} 4 KiB-aligned offsets (fixed-seed xorshift) over the ${VOLUME / MiB} MiB file, the same for both paths, after ${fmtInt(RANDOM_WARMUP)} warm-up reads; ` +
          `the ${WORKERS} workers share one descriptor and issue their next fs.read when the previous completes (libuv pool of ${process.env.UV_THREADPOOL_SIZE ?? 4} threads). Latency includes performance.now() (~0.1 µs).`,
      );
    }
  }

  if (only.has('3')) {
    checkInterrupted();
    progress(`3: ${VISIBLE_FILES} files created by the writer, polled on node B`);
    const v = await benchVisible(writer!, mountB!.mountpoint, mountA!.mountpoint);
    row(`3. new file visible on node B: createFile returned → statSync OK, p50 of ${v.visible.length}`, fmtMs(median(v.visible)));
    row('   p99', fmtMs(percentile(v.visible, 99)));
    row('   end to end from createFile call: p50 / p99', `${fmtMs(median(v.endToEnd))} / ${fmtMs(percentile(v.endToEnd, 99))}`);
    row('   of which Pool.createFile 2 MiB (writer): p50 / p99', `${fmtMs(median(v.create))} / ${fmtMs(percentile(v.create, 99))}`);
    row('   first statSync on B already succeeded', `${v.firstTry}/${v.visible.length} (${fmtInt(v.failedStats)} ENOENT stats in all)`);
    notes.push(
      `3.: two \`famfs-csi mount\` processes of the same pool (node A, node B); this process is the pool's writer (Pool.createFile of vis/f<i>, ${VISIBLE_FILE_SIZE / MiB} MiB each, ` +
        `after ${VISIBLE_WARMUP} warm-up files) and then polls statSync(<B>/vis/f<i>) in a tight loop (ENOENT is not cached by the kernel: every stat is a LOOKUP, which catches the server up with the log). ` +
        'The size is checked on B and A.',
    );
  }

  if (only.has('4')) {
    checkInterrupted();
    const missing = await nodePluginAvailable();
    if (missing) {
      row('4. NodeStage + NodePublish via the node plugin', 'not run: node plugin not available');
      notes.push(`4.: not run: ${missing}.`);
    } else {
      const n = await benchNodePlugin();
      row(`4. NodeStage + NodePublish via the node plugin socket, p50 of ${n.both.length}`, fmtMs(median(n.both)));
      row('   p99', fmtMs(percentile(n.both, 99)));
      row('   NodeStageVolume p50 / p99', `${fmtMs(median(n.stage))} / ${fmtMs(percentile(n.stage, 99))}`);
      row('   NodePublishVolume p50 / p99', `${fmtMs(median(n.publish))} / ${fmtMs(percentile(n.publish, 99))}`);
      row('   first NodeStageVolume (starts the pool FUSE server)', fmtMs(n.coldStage));
      row('   NodeUnpublishVolume / NodeUnstageVolume p50', `${fmtMs(median(n.unpublish))} / ${fmtMs(median(n.unstage))}`);
      row('   volumes unpublished, unstaged and deleted', `${n.deleted}/${NODE_VOLUMES + 1}`, `${NODE_VOLUMES + 1}`, n.deleted === NODE_VOLUMES + 1);
      notes.push(
        `4.: startControllerPlugin and startNodePlugin in this process (silent loggers), one emulated pool "${NODE_POOL}" of ${NODE_POOL_SIZE / MiB} MiB; ${NODE_VOLUMES + 1} volumes of ${NODE_VOLUME_SIZE / MiB} MiB ` +
          '(CreateVolume, mount + MULTI_NODE_MULTI_WRITER), staged and published one after the other by a grpc-js client on the node socket; the first is not counted (its stage spawns ' +
          '`famfs-csi mount`). Staging/target paths lie under a scratch kubelet dir (the plugin\'s kubeletDir option); each publish is checked by a stat of <target>/data.',
      );
    }
  }

  notes.push(
    `node ${process.version}, ${process.arch}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); 1-min load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end; ` +
      `benchmark time ${((now() - started) / 1000).toFixed(1)} s (before cleanup).`,
  );
}

function cleanupRows(): void {
  const c = cleanupReport;
  row(
    'cleanup: mounts left under the scratch dir (/proc/self/mountinfo)',
    c.mountsLeft.length === 0 ? `0${c.lazy ? ` (${c.lazy} needed umount -l)` : ''}` : c.mountsLeft.map((m) => m.mountPoint).join(', '),
    '0',
    c.mountsLeft.length === 0,
  );
  row('cleanup: FUSE server processes left', c.pidsLeft.length === 0 ? `0${c.killed ? ` (${c.killed} SIGKILLed)` : ''}` : c.pidsLeft.join(', '), '0', c.pidsLeft.length === 0);
  row('cleanup: scratch dir removed', c.removed ? 'yes' : `no: ${scratch}`, 'yes', c.removed);
}

let failure: unknown;
try {
  await main();
} catch (e) {
  failure = e;
} finally {
  progress('cleaning up');
  try {
    await cleanup();
  } catch (e) {
    progress(`cleanup failed: ${(e as Error).message}`);
    emergencyCleanup();
  }
}
if (profileDir) notes.push(`--profile: node A's CPU profile (V8 .cpuprofile) is in ${profileDir}.`);
if (failure instanceof Interrupted) {
  cleanupRows();
  printTable();
  console.error('benchmark interrupted; cleaned up');
} else {
  cleanupRows();
  printTable();
  if (failure !== undefined) {
    console.error('benchmark failed:', failure instanceof Error ? failure.message : failure);
    process.exitCode = 1;
  }
}
