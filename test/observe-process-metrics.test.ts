/**
 * The process and Node.js families that ts-mosquitto computes itself, so that a scrape of
 * a broker holding many connections stays cheap (process_open_fds, nodejs_active_handles
 * and nodejs_active_resources, with their _total): the same names, help, labels and values
 * as prom-client's own collectors read at the same moment.
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  collectGcDurations,
  collectProcessMetrics,
  eventLoopDelays,
  openFileDescriptors,
  perScrape,
  refreshedEvery,
  sampleInWindows,
} from '../src/broker/observe/process-metrics.js';

const FAMILIES = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

const open: net.Server[] = [];
const stops: (() => void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const s of open.splice(0)) await new Promise((r) => s.close(r));
});

/** The lines of the families above, sorted, HELP and TYPE included. */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => FAMILIES.some((f) => l.startsWith(`${f} `) || l.startsWith(`${f}{`) || l.includes(` ${f} `)))
    .sort();
}

describe('process metrics', () => {
  it('reports the same families, labels and values as prom-client, with extra handles open', async () => {
    for (let i = 0; i < 3; i++) {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      open.push(s);
    }
    const ours = new Registry();
    // Counts listed at every scrape, to be compared with prom-client's of the same moment.
    stops.push(collectProcessMetrics(ours, 0));
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    // One after the other, each once the other's pass is over (each pass queues an
    // Immediate for nodejs_eventloop_lag_seconds, which counts as an active resource).
    // Other work of the process may hold an Immediate or a timer for a moment while one of
    // the two passes runs: the pair is read again (a few times at most) until nothing
    // transient came between them; a real difference stays in every pair.
    const settle = () => new Promise((r) => setImmediate(r));
    let a = '';
    let b = '';
    for (let i = 0; i < 5; i++) {
      b = await theirs.metrics();
      await settle();
      a = await ours.metrics();
      if (JSON.stringify(lines(a)) === JSON.stringify(lines(b))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const mine = lines(a);
    expect(mine).toEqual(lines(b));
    expect(mine.some((l) => l.startsWith('nodejs_active_handles{type="Server"}'))).toBe(true);
    for (const f of FAMILIES) expect(a).toContain(`# TYPE ${f} gauge`);
    // prom-client's other families are still there.
    expect(a).toContain('# TYPE process_cpu_seconds_total counter');
    expect(a).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  });

  it('counts open file descriptors as listing /proc/self/fd does', () => {
    const fd = fs.openSync('/proc/self/status', 'r');
    try {
      const before = openFileDescriptors();
      expect(before).toBe(fs.readdirSync('/proc/self/fd').length - 1);
      fs.closeSync(fs.openSync('/proc/self/stat', 'r'));
      expect(openFileDescriptors()).toBe(before);
    } finally {
      fs.closeSync(fd);
    }
    expect(openFileDescriptors()).toBe(fs.readdirSync('/proc/self/fd').length - 1);
  });

  it('computes a per-scrape value once per synchronous pass, and again at the next scrape', async () => {
    let calls = 0;
    const read = perScrape(() => ++calls);
    expect([read(), read(), read()]).toEqual([1, 1, 1]);
    await Promise.resolve();
    expect(read()).toBe(2);
    expect(calls).toBe(2);
  });

  it('lists handles again only once the counts are as old as allowed', async () => {
    const ours = new Registry();
    stops.push(collectProcessMetrics(ours, 60_000));
    const handles = async () => Number(/^nodejs_active_handles_total (\d+)$/m.exec(await ours.metrics())![1]);
    const before = await handles();
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    open.push(s);
    expect(await handles()).toBe(before);
    let calls = 0;
    const read = refreshedEvery(40, () => ++calls);
    expect([read(), read()]).toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 60));
    expect(read()).toBe(2);
  });

  it('has every family of prom-client\'s collectDefaultMetrics, with its type', async () => {
    const ours = new Registry();
    stops.push(collectProcessMetrics(ours));
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const types = async (r: Registry) =>
      (await r.metrics())
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .sort();
    expect(await types(ours)).toEqual(await types(theirs));
  });
});

/** Allocates short-lived objects until `until()` holds: scavenges happen meanwhile. */
async function churn(until: () => boolean): Promise<void> {
  let keep: object[] = [];
  while (!until()) {
    for (let i = 0; i < 200_000; i++) {
      const o = { i, s: `x${i}` };
      if (i % 1000 === 0) keep.push(o);
    }
    if (keep.length > 1000) keep = [];
    await new Promise((r) => setImmediate(r));
  }
}

async function gcCount(r: Registry, kind: string): Promise<number> {
  const m = new RegExp(`^nodejs_gc_duration_seconds_count\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(await r.metrics());
  return m === null ? 0 : Number(m[1]);
}

describe('nodejs_gc_duration_seconds, sampled', () => {
  it('times collections only during its windows, each counted period/sample times', async () => {
    const r = new Registry();
    const stop = collectGcDurations(r, 300, 300_000);
    stops.push(stop);
    // The first window is open from the start; its collections are counted once it closes.
    const t0 = Date.now();
    await churn(() => Date.now() - t0 > 450);
    const counted = await gcCount(r, 'minor');
    expect(counted).toBeGreaterThan(0);
    expect(counted % 1000).toBe(0);
    expect(await r.metrics()).toMatch(/^nodejs_gc_duration_seconds_sum\{kind="minor"\} [0-9.e-]+$/m);
    // Between windows nothing is timed, however much is collected.
    const t1 = Date.now();
    await churn(() => Date.now() - t1 > 300);
    expect(await gcCount(r, 'minor')).toBe(counted);
  });

  it('opens the next window after the period, and stops for good when told', async () => {
    const r = new Registry();
    const stop = collectGcDurations(r, 100, 200);
    stops.push(stop);
    const t0 = Date.now();
    // Windows at 0-100, 200-300, 400-500 ms: each one closed adds its collections, twice.
    await churn(() => Date.now() - t0 > 650);
    const counted = await gcCount(r, 'minor');
    expect(counted).toBeGreaterThan(0);
    expect(counted % 2).toBe(0);
    stop();
    const t1 = Date.now();
    await churn(() => Date.now() - t1 > 400);
    expect(await gcCount(r, 'minor')).toBe(counted);
  });
});

/** Keeps the event loop busy for `ms`. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function lagFamily(r: Registry, suffix: string): Promise<number> {
  const m = new RegExp(`^nodejs_eventloop_lag_${suffix}_seconds ([0-9.e+-]+)$`, 'm').exec(await r.metrics());
  return m === null ? NaN : Number(m[1]);
}

describe('runtime sampling windows', () => {
  it('opens every sampler at once, closes each after its own window, and drops open windows when stopped', async () => {
    const events: string[] = [];
    const sampler = (name: string, sampleMs: number) => ({
      sampleMs,
      open: () => events.push(`open ${name}`),
      close: () => events.push(`close ${name}`),
      cancel: () => events.push(`cancel ${name}`),
    });
    const stop = sampleInWindows([sampler('a', 200), sampler('b', 250)], 300);
    stops.push(stop);
    expect(events).toEqual(['open a', 'open b']);
    while (events.length < 6) await sleep(10);
    expect(events.slice(0, 6)).toEqual(['open a', 'open b', 'close a', 'close b', 'open a', 'open b']);
    stop();
    expect(events.slice(6)).toEqual(['cancel a', 'cancel b']);
    await sleep(400);
    expect(events).toHaveLength(8);
  });
});

describe('nodejs_eventloop_lag_*, sampled', () => {
  it('reports the delays of its latest window, and nothing of the time between windows', async () => {
    const r = new Registry();
    // Windows at 0-300 ms and 1,000-1,300 ms.
    stops.push(sampleInWindows([eventLoopDelays(r, 300, 1_000)], 1_000));
    // Before any window closed: prom-client's initial value.
    expect(await lagFamily(r, 'max')).toBe(0);
    await sleep(80);
    block(120);
    // The first window closes 300 ms after it opened (later on a loaded machine).
    while ((await lagFamily(r, 'max')) === 0) await sleep(20);
    const max = await lagFamily(r, 'max');
    const min = await lagFamily(r, 'min');
    // A delay is the monitor's whole interval: about 10 ms while the loop is free, and
    // the blocked one at least the 120 ms it was held.
    expect(max).toBeGreaterThanOrEqual(0.12);
    expect(min).toBeGreaterThan(0.005);
    expect(min).toBeLessThan(0.12);
    const mean = await lagFamily(r, 'mean');
    expect(mean).toBeGreaterThan(min);
    expect(mean).toBeLessThan(max);
    expect(await lagFamily(r, 'stddev')).toBeGreaterThan(0);
    const [p50, p90, p99] = [await lagFamily(r, 'p50'), await lagFamily(r, 'p90'), await lagFamily(r, 'p99')];
    expect(p50).toBeGreaterThanOrEqual(min);
    expect(p50).toBeLessThanOrEqual(p90);
    expect(p90).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(max);
    // Between the windows a longer block: neither shown at once (values change when a
    // window closes) nor counted in the next window.
    block(400);
    expect(await lagFamily(r, 'max')).toBe(max);
    while ((await lagFamily(r, 'max')) === max) await sleep(20);
    const next = await lagFamily(r, 'max');
    expect(next).toBeLessThan(0.4);
    expect(await lagFamily(r, 'min')).toBeGreaterThan(0.005);
  });

  it('measures nodejs_eventloop_lag_seconds at each scrape, as prom-client does', async () => {
    const r = new Registry();
    stops.push(sampleInWindows([eventLoopDelays(r, 100, 100_000)], 100_000));
    // A scrape starts a measurement that ends at the loop's next check phase; the next
    // scrape shows it. Held up by a block, it is at least that long.
    await r.metrics();
    block(60);
    await new Promise((resolve) => setImmediate(resolve));
    expect(Number(/^nodejs_eventloop_lag_seconds ([0-9.e+-]+)$/m.exec(await r.metrics())![1])).toBeGreaterThanOrEqual(0.06);
  });
});
