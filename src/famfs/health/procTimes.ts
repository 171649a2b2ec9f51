import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';
import { safeUint } from './kmsgRecord.js';

/** USER_HZ, the unit of /proc/<pid>/stat times (getconf CLK_TCK); 100 on Linux x86 and arm64. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Wall-clock time of boot (ms since the epoch): kmsg timestamps count from it. */
export function bootTimeMs(procRoot = '/proc'): number {
  let up = uptime();
  try {
    const first = Number(readFileSync(`${procRoot}/uptime`, 'utf8').split(' ')[0]);
    if (Number.isFinite(first) && first >= 0) up = first;
  } catch {
    // os.uptime() reads the same clock, with less precision on some systems
  }
  return Date.now() - up * 1000;
}

/** starttime (field 22, clock ticks since boot) of a /proc/<pid>/stat line. */
export function statStartTicks(stat: string): number | undefined {
  // Field 2 (comm) is "(name)" and the name may hold spaces and ')'; fields 3.. follow the last ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 1).trim().split(/\s+/);
  return safeUint(rest[22 - 3]);
}

/** When a process started, in ms since boot; undefined when it is gone or unreadable. */
export function processStartSinceBootMs(pid: number, procRoot = '/proc'): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const ticks = statStartTicks(stat);
  return ticks === undefined ? undefined : (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
