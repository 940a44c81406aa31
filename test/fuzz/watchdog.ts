/**
 * A worker thread that watches the fuzz loop: the loop bumps a counter for every input
 * and keeps the current input in shared memory. When the counter has not moved for longer
 * than the hang limit (1 s of CPU: a loop in the broker; or 30 s: a promise that never settles),
 * the input is saved, one line says so, and the whole process is killed: a finding.
 */
import { mkdirSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { workerData } from 'node:worker_threads';

interface WatchData {
  shared: SharedArrayBuffer;
  findings: string;
  hangMs: number;
}

const { shared, findings, hangMs } = workerData as WatchData;
/** [0] inputs started, [1] input length, [2] 1 while an input runs; the input from byte 16. */
const words = new Int32Array(shared, 0, 4);
const bytes = new Uint8Array(shared, 16);

/** A batch that never settles uses no CPU: this much wall time without progress is a hang too. */
const STALL_MS = 30_000;

let last = -1;
let since = Date.now();
let cpuSince = 0;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
setInterval(() => {
  const count = Atomics.load(words, 0);
  if (count !== last || Atomics.load(words, 2) === 0) {
    last = count;
    since = Date.now();
    cpuSince = cpuMs();
    return;
  }
  // CPU time, not wall time, for the 1 s limit: on a shared machine a niced run can wait
  // longer than that for a core without the broker doing anything wrong.
  const cpu = cpuMs() - cpuSince;
  const wall = Date.now() - since;
  if (cpu <= hangMs && wall <= STALL_MS) return;
  const input = Buffer.from(bytes.subarray(0, Atomics.load(words, 1)));
  mkdirSync(findings, { recursive: true });
  const file = path.join(findings, `hang-${count}.bin`);
  writeFileSync(file, input);
  // Straight to the file descriptor: process.stderr of a worker goes through the main
  // thread, which is the one that hangs.
  writeSync(2, `FINDING: hang: batch ${count} used ${cpu.toFixed(0)} ms of CPU in ${wall} ms without finishing; saved to ${file} (length-prefixed inputs)\n`);
  process.kill(process.pid, 'SIGKILL');
}, 100);
