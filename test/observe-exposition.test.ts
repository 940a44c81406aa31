/**
 * exposition.ts writes a prom-client registry in the Prometheus text format with less work
 * per sample than prom-client's registry.metrics(): the text must be the same, byte for
 * byte, for every kind of family and label the broker's registry holds.
 */
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { exposition } from '../src/broker/observe/exposition.js';
import { perScrape } from '../src/broker/observe/process-metrics.js';
import { BrokerMetrics } from '../src/broker/observe/metrics.js';
import type { ObservedBroker } from '../src/broker/observe/view.js';

function families(registers: Registry[]): void {
  new Gauge({ name: 'plain_gauge', help: 'A gauge with no labels.', registers }).set(42.5);
  const g = new Gauge({ name: 'labelled_gauge', help: 'Help with a backslash \\ and a\nnewline.', labelNames: ['listener', 'version'], registers });
  g.set({ listener: '1883', version: 'mqttv311' }, 3);
  g.set({ listener: '/run/mqtt "sock"\\path\nx', version: 'mqttv5' }, 1);
  // Each character to escape alone in a value (the writer escapes only values holding one).
  g.set({ listener: 'only"quote', version: 'mqttv5' }, 2);
  g.set({ listener: 'only\\backslash', version: 'mqttv5' }, 2);
  g.set({ listener: 'only\nnewline', version: 'mqttv5' }, 2);
  g.set({ listener: 'inf', version: 'mqttv5' }, Infinity);
  g.set({ listener: '-inf', version: 'mqttv5' }, -Infinity);
  g.set({ listener: 'nan', version: 'mqttv5' }, NaN);
  const c = new Counter({ name: 'things_total', help: 'Counted things.', labelNames: ['reason'], registers });
  c.inc({ reason: 'queue_full' }, 7);
  c.inc({ reason: 'acl' }, 0);
  new Counter({ name: 'never_total', help: 'A counter never incremented.', labelNames: ['reason'], registers });
  new Counter({ name: 'collected_total', help: 'Read when scraped.', registers, collect() { this.reset(); this.inc(1e21); } });
  const h = new Histogram({ name: 'delay_seconds', help: 'A histogram.', buckets: [1e-5, 2.5e-4, 0.1, 1], registers });
  for (const v of [3e-6, 1e-4, 0.05, 0.5, 2]) h.observe(v);
  const hl = new Histogram({ name: 'gc_seconds', help: 'A histogram with labels.', labelNames: ['kind'], buckets: [0.001, 0.01], registers });
  hl.observe({ kind: 'major' }, 0.004);
  hl.observe({ kind: 'minor' }, 0.0001);
  new Histogram({ name: 'empty_seconds', help: 'A histogram never observed.', buckets: [1], registers });
  const s = new Summary({ name: 'sizes_bytes', help: 'A summary.', percentiles: [0.5, 0.9], labelNames: ['qos'], registers });
  for (const v of [10, 20, 30, 40]) s.observe({ qos: '1' }, v);
}

describe('exposition', () => {
  it('writes the text prom-client writes, byte for byte: labels escaped, histograms, summaries, infinities, NaN', async () => {
    const registry = new Registry();
    families([registry]);
    const ours = await exposition(registry);
    expect(ours).toBe(await registry.metrics());
    expect(ours).toContain('labelled_gauge{listener="/run/mqtt \\"sock\\"\\\\path\\nx",version="mqttv5"} 1\n');
    expect(ours).toContain('gc_seconds_bucket{le="0.01",kind="major"} 1\n');
    expect(ours).toContain('labelled_gauge{listener="only\\"quote",version="mqttv5"} 2\n');
    expect(ours).toContain('labelled_gauge{listener="only\\\\backslash",version="mqttv5"} 2\n');
    expect(ours).toContain('labelled_gauge{listener="only\\nnewline",version="mqttv5"} 2\n');
    expect(ours).toContain('\n\n# HELP never_total A counter never incremented.\n# TYPE never_total counter\n\n# HELP');
  });

  it('an empty registry is one newline, as prom-client writes it', async () => {
    const registry = new Registry();
    expect(await exposition(registry)).toBe(await registry.metrics());
  });

  it('a registry with default labels is written by prom-client', async () => {
    const registry = new Registry();
    families([registry]);
    registry.setDefaultLabels({ node: 'a' });
    const ours = await exposition(registry);
    expect(ours).toBe(await registry.metrics());
    expect(ours).toContain('plain_gauge{node="a"} 42.5');
  });

  it('collects every family in one synchronous pass: a perScrape value is computed once per exposition', async () => {
    const registry = new Registry();
    let computed = 0;
    const tally = perScrape(() => ++computed);
    for (const name of ['first', 'second', 'third']) {
      new Gauge({ name, help: name, registers: [registry], collect() { this.set(tally()); } });
    }
    const text = await exposition(registry);
    expect(computed).toBe(1);
    expect(text).toContain('first 1\n');
    expect(text).toContain('third 1\n');
    await exposition(registry);
    expect(computed).toBe(2);
  });

  it("the broker's whole registry, scraped, is what prom-client writes of it", async () => {
    const broker = {
      startedAt: 1_700_000_000_000,
      stats: new Proxy({}, { get: (_t, k) => (k === 'connectRefused' ? { 0x87: 2, 0x99: 1 } : String(k).endsWith('ByQos') ? [1, 2, 3] : 5) }),
      clients: { size: 2 },
      sessions: new Map([['a', { client: {}, clean: false, inflightCount: 1, queue: { bytes: 10 } }]]),
      retained: { count: 1, bytes: 3, match: () => [{ topic: '$SYS/broker/connection/b1/state', payload: Buffer.from('1') }] },
      router: { count: 4, sharedCount: 1 },
    } as unknown as ObservedBroker;
    const totals = new Map([['1883 mqttv5', { listener: '1883', version: 'mqttv5', count: 3, current: 2 }]]);
    const metrics = new BrokerMetrics(broker, {}, totals);
    try {
      metrics.latency.observe(0.0002);
      // The process families read the clock and /proc: compare the broker's own families.
      const ours = (await metrics.metrics()).split('\n\n').filter((f) => f.includes('tsmosquitto_'));
      const theirs = (await metrics.registry.metrics()).split('\n\n').filter((f) => f.includes('tsmosquitto_'));
      expect(ours.length).toBeGreaterThanOrEqual(30);
      expect(ours).toEqual(theirs);
      expect(ours.join('\n')).toContain('tsmosquitto_connect_refused_total{reason="not_authorized"} 2');
      expect(ours.join('\n')).toContain('tsmosquitto_bridge_up{connection="b1"} 1');
    } finally {
      metrics.close();
    }
  });
});
