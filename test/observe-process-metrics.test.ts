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
import { collectGcDurations, collectProcessMetrics, openFileDescriptors, perScrape, refreshedEvery } from '../src/broker/observe/process-metrics.js';

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
