// Loaded into the broker process with `node --expose-gc --import probe.js` by the
// reliability drivers: once a second it reports what the process holds (RSS, heap, open
// file descriptors, active timers and handles) over the IPC channel, and every
// GC_EVERY seconds the heap after a full collection, the number that shows a leak.
import { createHook } from 'node:async_hooks';
import { readdirSync } from 'node:fs';
import v8 from 'node:v8';

export interface ProbeSample {
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Heap in use right after a full GC; 0 when this sample did not collect. */
  heapAfterGc: number;
  external: number;
  arrayBuffers: number;
  fds: number;
  timers: number;
  handles: number;
}

const GC_EVERY = 10;

// Live Timeout objects, referenced or not (getActiveResourcesInfo lists only referenced ones).
const liveTimers = new Set<number>();
createHook({
  init(asyncId, type) {
    if (type === 'Timeout') liveTimers.add(asyncId);
  },
  destroy(asyncId) {
    liveTimers.delete(asyncId);
  },
}).enable();
const gc = (globalThis as { gc?: () => void }).gc;
let n = 0;

function countFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

function sample(): ProbeSample {
  let heapAfterGc = 0;
  if (gc !== undefined && n++ % GC_EVERY === 0) {
    gc();
    heapAfterGc = v8.getHeapStatistics().used_heap_size;
  }
  const m = process.memoryUsage();
  let handles = 0;
  for (const r of process.getActiveResourcesInfo()) if (r !== 'Timeout') handles++;
  // This probe's own interval is not the broker's.
  const timers = liveTimers.size - 1;
  return { at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, heapAfterGc, external: m.external, arrayBuffers: m.arrayBuffers, fds: countFds(), timers, handles };
}

if (typeof process.send === 'function') {
  const timer = setInterval(() => {
    if (process.connected) process.send!(sample());
  }, 1000);
  timer.unref();
  // The driver may ask for a heap snapshot (to find what grows): {snapshot: path}.
  process.on('message', (m: { snapshot?: string }) => {
    if (typeof m?.snapshot === 'string') v8.writeHeapSnapshot(m.snapshot);
  });
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
