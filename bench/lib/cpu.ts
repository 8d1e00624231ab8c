/** CPU time of a process from /proc/<pid>/stat (user + system), for CPU per request over a scenario. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/<pid>/stat (100 on Linux almost always). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in µs (resolution: one clock tick, 10 ms at 100 Hz); NaN when unreadable. */
export function cpuTimeUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/** Starts counting a process's CPU time; `stop()` returns the µs it used meanwhile. */
export function cpuMeter(pid: number): { stop(): number } {
  const from = cpuTimeUs(pid);
  return { stop: () => cpuTimeUs(pid) - from };
}

/** µs of CPU per request (NaN without requests). */
export function perRequestUs(cpuUs: number, requests: number): number {
  return requests > 0 ? cpuUs / requests : Number.NaN;
}
