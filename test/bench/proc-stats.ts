// Broker CPU and memory, read from /proc/<pid>/stat and /proc/<pid>/status (Linux only):
// the runner samples them at the generator's phase marks, so any broker can be measured
// the same way without its cooperation.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcSample {
  at: number; // ms, performance.now()
  cpuTicks: number; // utime + stime, all threads
  rssKb: number; // VmRSS
  hwmKb: number; // VmHWM: peak RSS since the process started
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statusField(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15. proc(5)
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      at: performance.now(),
      cpuTicks,
      rssKb: statusField(status, 'VmRSS'),
      hwmKb: statusField(status, 'VmHWM'),
    };
  } catch {
    return undefined;
  }
}

/** CPU between two samples as a percentage of one core. */
export function cpuPercent(a: ProcSample | undefined, b: ProcSample | undefined): number | undefined {
  if (!a || !b || b.at <= a.at) return undefined;
  return ((b.cpuTicks - a.cpuTicks) / ticksPerSecond() / ((b.at - a.at) / 1000)) * 100;
}
