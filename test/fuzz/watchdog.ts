/**
 * A worker thread that watches the fuzz loop: the loop bumps a counter for every input
 * and keeps the current input in shared memory. When the counter has not moved for longer
 * than the hang limit (a synchronous loop in the broker, or a promise that never settles),
 * the input is saved, one line says so, and the whole process is killed: a finding.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
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

let last = -1;
let since = Date.now();
setInterval(() => {
  const count = Atomics.load(words, 0);
  if (count !== last || Atomics.load(words, 2) === 0) {
    last = count;
    since = Date.now();
    return;
  }
  if (Date.now() - since <= hangMs) return;
  const input = Buffer.from(bytes.subarray(0, Atomics.load(words, 1)));
  mkdirSync(findings, { recursive: true });
  const file = path.join(findings, `hang-${count}.bin`);
  writeFileSync(file, input);
  process.stderr.write(`FINDING: hang: input ${count} ran over ${hangMs} ms; saved to ${file}\n`);
  process.kill(process.pid, 'SIGKILL');
}, 100);
