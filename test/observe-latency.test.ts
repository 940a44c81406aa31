/**
 * The latency sampler (src/broker/observe/latency.ts): a message routed in a turn whose
 * write batch follows is timed; a flood is timed only now and then; a sample that no
 * write batch followed is dropped rather than timed late; nothing of it runs per message
 * but the broker's one-slot probe.
 */
import { describe, expect, it } from 'vitest';
import { LatencySampler } from '../src/broker/observe/latency.js';
import { Connection } from '../src/net/connection.js';
import { PassThrough } from 'node:stream';

/** A sampler with a broker's probe slot: publish() routes a message as Broker.publish does. */
function open(): { sampler: LatencySampler; seen: number[]; publish(): void; armed(): boolean } {
  const seen: number[] = [];
  let probe: (() => void) | undefined;
  const sampler = new LatencySampler(
    (p) => (probe = p),
    (s) => seen.push(s),
  );
  sampler.start();
  const publish = (): void => {
    const p = probe;
    if (p !== undefined) {
      probe = undefined;
      p();
    }
  };
  return { sampler, seen, publish, armed: () => probe !== undefined };
}

/** A connection whose write batches the sampler hears of first, as the broker's plugin hook (beforeFlush) does. */
function connection(sampler: LatencySampler): Connection {
  const stream = new PassThrough();
  stream.resume();
  const conn = new Connection(stream as never);
  conn.flushGate = { beforeFlush: () => sampler.onFlush() };
  return conn;
}

/** Longer than the sampler's spacing (50 ms). */
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 60));

describe('latency sampler', () => {
  it('times spaced messages each, at the write batch of their turn', async () => {
    const { sampler, seen, publish } = open();
    const conn = connection(sampler);
    for (let i = 0; i < 5; i++) {
      publish();
      conn.write(Buffer.from([0xd0, 0]));
      await turn();
    }
    expect(seen).toHaveLength(5);
    for (const s of seen) expect(s).toBeGreaterThanOrEqual(0);
    for (const s of seen) expect(s).toBeLessThan(0.02);
    conn.destroy();
  });

  it('samples a flood sparsely and drops a sample no write followed', async () => {
    const { sampler, seen, publish, armed } = open();
    const conn = connection(sampler);
    // A flood: write batches back to back, each after a hundred messages. Samples come
    // 50 ms apart at most.
    const t0 = performance.now();
    let batches = 0;
    while (performance.now() - t0 < 500) {
      for (let i = 0; i < 100; i++) publish();
      conn.write(Buffer.from([0xd0, 0]));
      await new Promise((r) => setImmediate(r));
      batches++;
    }
    expect(batches).toBeGreaterThan(200);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.length).toBeLessThanOrEqual(11);
    seen.length = 0;
    // A message whose turn writes nothing (no subscriber) takes the probe if the flood's
    // last batch armed it; its sample expires unobserved.
    publish();
    await turn();
    expect(seen).toHaveLength(0);
    expect(armed()).toBe(false);
    // Quiet: the first batch 50 ms after the latest sample arms the probe again.
    conn.write(Buffer.from([0xd0, 0]));
    await turn();
    expect(armed()).toBe(true);
    publish();
    // No write in this turn: the sample expires; a later batch must not time it.
    await turn();
    conn.write(Buffer.from([0xd0, 0]));
    await turn();
    expect(seen).toHaveLength(0);
    conn.destroy();
  });
});
