/**
 * prom-client's process and Node.js families (collectDefaultMetrics), with the five whose
 * scrape grows with the number of connections replaced by cheaper ones under the same
 * names, help and labels. Timed with 10,000 idle connections, a scrape cost about 32 ms
 * of CPU, 26 ms of it in those five: process_open_fds listed /proc/self/fd (one string
 * per descriptor), and nodejs_active_handles{type}, nodejs_active_handles_total,
 * nodejs_active_resources{type} and nodejs_active_resources_total each asked Node for the
 * whole list of handles or resources, two lists of 10,000 built twice per scrape.
 *
 * Here process_open_fds is the size Linux (6.2 and later) reports for /proc/self/fd, one
 * stat, falling back to listing it where that size is 0; each list is built once per
 * scrape and read by both of its families (a registry collects every family in one
 * synchronous pass, so the list is dropped at the next microtask).
 *
 * GC pauses (nodejs_gc_duration_seconds) and the event-loop delay monitor's families
 * (nodejs_eventloop_lag_*) are measured in windows, a quarter of a second and a second in
 * every ten (below):
 * prom-client's `gc` PerformanceObserver alone cost 5-8% of the broker's CPU per message,
 * and its delay monitor wakes the loop a hundred times a second. The collectors kept are
 * called one by one (KEPT_COLLECTORS), so that neither is installed.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay, type PerformanceEntry } from 'node:perf_hooks';
import { Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

type Counts = Record<string, number>;

/** fn's result, computed at most once per synchronous pass (one scrape). */
export function perScrape<T>(fn: () => T): () => T {
  let value: T | undefined;
  let held = false;
  return () => {
    if (!held) {
      value = fn();
      held = true;
      queueMicrotask(() => {
        held = false;
        value = undefined;
      });
    }
    return value as T;
  };
}

/**
 * fn's result, computed again only once it is maxAgeMs old (0: at every scrape, as
 * perScrape). For values whose computing grows with the number of connections.
 */
export function refreshedEvery<T>(maxAgeMs: number, fn: () => T): () => T {
  if (maxAgeMs <= 0) return perScrape(fn);
  let value: T | undefined;
  let at = -Infinity;
  return () => {
    const now = performance.now();
    if (now - at >= maxAgeMs) {
      value = fn();
      at = now;
    }
    return value as T;
  };
}

/**
 * How old the counts of Node's active handles and resources (nodejs_active_handles and
 * nodejs_active_resources, with their _total) may be when scraped. Node only lists them
 * one object or string per handle: with 9,000 connections a list takes 3-20 ms of CPU,
 * which scraped every second put 1.5-2% on each connect of `idle` (measured side by
 * side, scripts/metrics-paired.mjs). Listed at most once in this time, they cost a tenth of it.
 */
export const HANDLE_COUNTS_MAX_AGE_MS = 10_000;

/** Open descriptors of this process, not counting one opened to count them. */
export function openFileDescriptors(): number {
  // Linux 6.2+: the directory's size is the number of open descriptors.
  const size = fs.statSync('/proc/self/fd').size;
  if (size > 0) return size;
  return fs.readdirSync('/proc/self/fd').length - 1;
}

function countBy(list: readonly string[]): Counts {
  // No prototype: a type named "constructor" counts from 0 too.
  const counts = Object.create(null) as Counts;
  for (let i = 0; i < list.length; i++) {
    const k = list[i];
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** Constructor names of the active handles, as prom-client groups them. */
function handleTypes(handles: readonly unknown[]): string[] {
  const types: string[] = [];
  for (let i = 0; i < handles.length; i++) {
    const h = handles[i] as { constructor?: { name: string } } | null | undefined;
    if (!h || typeof h.constructor === 'undefined') continue;
    types.push(h.constructor.name);
  }
  return types;
}

function byType(name: string, help: string, registry: Registry, read: () => Counts): void {
  new Gauge({
    name,
    help,
    labelNames: ['type'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = read();
      for (const type in counts) this.set({ type }, counts[type]);
    },
  });
}

function total(name: string, help: string, registry: Registry, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** perf_hooks' GC kinds (a `gc` entry's detail.kind), as prom-client names them. */
const GC_KIND: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * The runtime's GC pauses and event-loop delays are measured in windows that open together
 * every RUNTIME_PERIOD_MS, GC_SAMPLE_MS long for GC pauses and EVENT_LOOP_SAMPLE_MS for
 * event-loop delays:
 * - any GC hook in Node (a `gc` PerformanceObserver as prom-client installs, or
 *   v8.GCProfiler) makes every collection slower while it is installed, by 5-8% of the
 *   broker's CPU per message in `qos0` measured side by side (scripts/metrics-paired.mjs):
 *   a quarter of a second in every ten is 0.1-0.2%, and a busy broker still collects tens
 *   of times in it;
 * - Node's event-loop delay monitor is a timer that wakes the loop every 10 ms: measured
 *   here, an otherwise idle process spent 7 ms of CPU a second on it (each wakeup of a
 *   sleeping loop costs some 70 µs on this virtual machine), the largest part of what
 *   metrics cost a quiet broker; a second in every ten (a hundred delays) is a tenth of it.
 */
export const RUNTIME_PERIOD_MS = 10_000;
export const GC_SAMPLE_MS = 250;
export const EVENT_LOOP_SAMPLE_MS = 1_000;

/**
 * A part of the runtime measured in windows of sampleMs: started when one opens, read when
 * it closes, and dropped unread when the sampling stops during a window (a window cut
 * short would weigh as a whole one).
 */
export interface WindowSampler {
  readonly sampleMs: number;
  open(): void;
  close(): void;
  cancel(): void;
}

/**
 * Opens every sampler's window now and then every periodMs, each closed after its own
 * sampleMs (at most the period); returns a function that stops for good, open windows
 * dropped.
 */
export function sampleInWindows(samplers: readonly WindowSampler[], periodMs: number): () => void {
  const closing: (NodeJS.Timeout | undefined)[] = [];
  const isOpen = samplers.map(() => false);
  let next: NodeJS.Timeout | undefined;
  let stopped = false;
  const open = (): void => {
    if (stopped) return;
    samplers.forEach((s, i) => {
      s.open();
      isOpen[i] = true;
      closing[i] = setTimeout(() => {
        isOpen[i] = false;
        s.close();
      }, Math.min(s.sampleMs, periodMs));
      closing[i]!.unref();
    });
    next = setTimeout(open, periodMs);
    next.unref();
  };
  open();
  return () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(next);
    samplers.forEach((s, i) => {
      clearTimeout(closing[i]);
      if (isOpen[i]) {
        isOpen[i] = false;
        s.cancel();
      }
    });
  };
}

/**
 * nodejs_gc_duration_seconds as prom-client defines it (name, kind label, buckets), fed by
 * a `gc` PerformanceObserver that observes only during the windows (above): Node installs
 * its GC callbacks when the first `gc` observer observes and removes them when the last
 * one disconnects, so between windows no collection runs any of our code. (v8.GCProfiler,
 * used before, does not: its stop() leaves its callbacks installed until the stopped
 * profiler is garbage collected, each collection meanwhile writing the heap's statistics
 * into the profiler's buffer. Counted with gdb in a broker under `fanout` with a window of
 * 100 ms every 500 ms: its callback ran 436 times in 261 collections, where the windows
 * held about a fifth of them.) Entries buffered for the observer when its window closes
 * are counted too (takeRecords). Each collection timed counts `weight` times (period /
 * sample): the histogram's count and sum stay estimates of the whole, and rate(..._sum)
 * is still the share of time spent in GC.
 */
export function gcDurations(registry: Registry, sampleMs: number, periodMs: number): WindowSampler {
  const weight = Math.max(1, Math.round(periodMs / sampleMs));
  const histogram = new Histogram({
    name: 'nodejs_gc_duration_seconds',
    help: `Garbage collection duration by kind, one of major, minor, incremental or weakcb (sampled: timed ${sampleMs} ms in every ${periodMs} ms, each timed collection counted ${weight} times).`,
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  const record = (entries: readonly PerformanceEntry[]): void => {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as PerformanceEntry & { detail?: { kind?: number } };
      const kind = entry.detail?.kind === undefined ? undefined : GC_KIND[entry.detail.kind];
      if (kind === undefined) continue;
      const seconds = entry.duration / 1000;
      for (let k = 0; k < weight; k++) histogram.observe({ kind }, seconds);
    }
  };
  const observer = new PerformanceObserver((list) => record(list.getEntries()));
  return {
    sampleMs,
    open() {
      observer.observe({ entryTypes: ['gc'] });
    },
    close() {
      record(observer.takeRecords());
      observer.disconnect();
    },
    cancel() {
      observer.disconnect();
    },
  };
}

/** GC pauses sampled in windows alone (gcDurations); returns a function that stops. */
export function collectGcDurations(registry: Registry, sampleMs = GC_SAMPLE_MS, periodMs = RUNTIME_PERIOD_MS): () => void {
  return sampleInWindows([gcDurations(registry, sampleMs, periodMs)], periodMs);
}

/** prom-client's resolution of the event-loop delay monitor (its eventLoopMonitoringPrecision), ms. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * prom-client's event-loop families under their names: nodejs_eventloop_lag_seconds as it
 * measures it (at each scrape, the time until the loop's next check phase, set when it
 * comes: a scrape shows the previous scrape's), and the monitor's min, max, mean, stddev
 * and p50/p90/p99 taken over the latest window instead of since the previous scrape. As
 * in prom-client a delay is the timer's whole interval (so about the resolution, 10 ms,
 * when the loop is free). Reading them also walks the monitor's histogram (tens of
 * thousands of buckets, a fifth of a scrape), once per window here.
 */
export function eventLoopDelays(registry: Registry, sampleMs: number, periodMs: number, resolutionMs = EVENT_LOOP_RESOLUTION_MS): WindowSampler {
  const lag = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    aggregator: 'average',
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
    },
  });
  const window = `over the latest ${sampleMs} ms sampled in every ${periodMs} ms`;
  const gauge = (suffix: string, what: string, aggregator: 'min' | 'max' | 'average') =>
    new Gauge({ name: `nodejs_eventloop_lag_${suffix}_seconds`, help: `${what} (${window}).`, registers: [registry], aggregator });
  const min = gauge('min', 'The minimum recorded event loop delay', 'min');
  const max = gauge('max', 'The maximum recorded event loop delay', 'max');
  const mean = gauge('mean', 'The mean of the recorded event loop delays', 'average');
  const stddev = gauge('stddev', 'The standard deviation of the recorded event loop delays', 'average');
  const p50 = gauge('p50', 'The 50th percentile of the recorded event loop delays', 'average');
  const p90 = gauge('p90', 'The 90th percentile of the recorded event loop delays', 'average');
  const p99 = gauge('p99', 'The 99th percentile of the recorded event loop delays', 'average');
  const monitor = monitorEventLoopDelay({ resolution: resolutionMs });
  return {
    sampleMs,
    open() {
      monitor.reset();
      monitor.enable();
    },
    close() {
      monitor.disable();
      // A window that saw no interval (its first timer had not fired) keeps the last values.
      if (monitor.count === 0) return;
      min.set(monitor.min / 1e9);
      max.set(monitor.max / 1e9);
      mean.set(monitor.mean / 1e9);
      stddev.set(monitor.stddev / 1e9);
      p50.set(monitor.percentile(50) / 1e9);
      p90.set(monitor.percentile(90) / 1e9);
      p99.set(monitor.percentile(99) / 1e9);
      monitor.reset();
    },
    cancel() {
      monitor.disable();
      monitor.reset();
    },
  };
}

const REPLACED = [
  'nodejs_gc_duration_seconds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

/**
 * prom-client's default collectors kept as they are (its lib/metrics/<name>.js, each
 * `(registry, config) => void`, which collectDefaultMetrics calls in turn): all but gc,
 * eventLoopLag, processOpenFileDescriptors, processHandles and processResources, replaced here.
 */
export const KEPT_COLLECTORS = [
  'processCpuTotal',
  'processStartTime',
  'osMemoryHeap',
  'processMaxFileDescriptors',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
];

type DefaultCollector = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/** The kept collectors, or undefined where prom-client's files are laid out otherwise. */
function keptCollectors(): DefaultCollector[] | undefined {
  const require = createRequire(import.meta.url);
  try {
    return KEPT_COLLECTORS.map((name) => require(`prom-client/lib/metrics/${name}`) as DefaultCollector);
  } catch {
    return undefined;
  }
}

/**
 * Registers the process and Node.js families; returns a function that stops their
 * sampling. handleCountsMaxAgeMs: how old the handle and resource counts may be (above).
 */
export function collectProcessMetrics(registry: Registry, handleCountsMaxAgeMs = HANDLE_COUNTS_MAX_AGE_MS): () => void {
  const kept = keptCollectors();
  if (kept !== undefined) {
    for (const collect of kept) collect(registry, { eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
  } else {
    // Another layout of prom-client: all of its collectors (its gc observer included,
    // which only costs), then the replaced families taken out.
    collectDefaultMetrics({ register: registry });
    for (const name of REPLACED) {
      if (registry.getSingleMetric(name) !== undefined) registry.removeSingleMetric(name);
    }
  }
  const stopSampling = sampleInWindows(
    [gcDurations(registry, GC_SAMPLE_MS, RUNTIME_PERIOD_MS), eventLoopDelays(registry, EVENT_LOOP_SAMPLE_MS, RUNTIME_PERIOD_MS)],
    RUNTIME_PERIOD_MS,
  );
  if (process.platform === 'linux') {
    new Gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      registers: [registry],
      collect() {
        try {
          this.set(openFileDescriptors());
        } catch {
          // no /proc: leave it unset, as prom-client does
        }
      },
    });
  }
  const p = process as unknown as { _getActiveHandles?: () => unknown[] };
  if (typeof p._getActiveHandles === 'function') {
    const handles = refreshedEvery(handleCountsMaxAgeMs, () => {
      const list = p._getActiveHandles!();
      return { types: countBy(handleTypes(list)), length: list.length };
    });
    byType('nodejs_active_handles', 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.', registry, () =>
      handles().types,
    );
    total('nodejs_active_handles_total', 'Total number of active handles.', registry, () => handles().length);
  }
  if (typeof process.getActiveResourcesInfo === 'function') {
    const resources = refreshedEvery(handleCountsMaxAgeMs, () => {
      const list = process.getActiveResourcesInfo();
      return { types: countBy(list), length: list.length };
    });
    byType(
      'nodejs_active_resources',
      'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
      registry,
      () => resources().types,
    );
    total('nodejs_active_resources_total', 'Total number of active resources.', registry, () => resources().length);
  }
  return stopSampling;
}
