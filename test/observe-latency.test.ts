/**
 * The latency sampler (src/broker/observe/latency.ts): a message routed in a turn whose
 * write batch follows is timed; a flood is timed only now and then; a sample that no
 * write batch followed is dropped rather than timed late.
 */
import { describe, expect, it } from 'vitest';
import { LatencySampler } from '../src/broker/observe/latency.js';
import { Connection } from '../src/net/connection.js';
import { PassThrough } from 'node:stream';

function open(): { sampler: LatencySampler; seen: number[] } {
  const seen: number[] = [];
  const sampler = new LatencySampler((s) => seen.push(s));
  return { sampler, seen };
}

/** A connection whose write batches the sampler hears of first, as the broker's plugin hook (beforeFlush) does. */
function connection(sampler: LatencySampler): Connection {
  const stream = new PassThrough();
  stream.resume();
  const conn = new Connection(stream as never);
  conn.flushGate = { beforeFlush: () => sampler.onFlush() };
  return conn;
}

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 25));

describe('latency sampler', () => {
  it('times spaced messages each, at the write batch of their turn', async () => {
    const { sampler, seen } = open();
    const conn = connection(sampler);
    for (let i = 0; i < 5; i++) {
      sampler.onPublish();
      conn.write(Buffer.from([0xd0, 0]));
      await turn();
    }
    expect(seen).toHaveLength(5);
    for (const s of seen) expect(s).toBeGreaterThanOrEqual(0);
    for (const s of seen) expect(s).toBeLessThan(0.02);
    conn.destroy();
  });

  it('samples a flood sparsely and drops a sample no write followed', async () => {
    const { sampler, seen } = open();
    const conn = connection(sampler);
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 100_000; i++) sampler.onPublish();
      conn.write(Buffer.from([0xd0, 0]));
      await new Promise((r) => setImmediate(r));
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(10);
    seen.length = 0;
    await turn();
    sampler.onPublish();
    // No write in this turn: the sample expires; a later batch must not time it.
    await turn();
    conn.write(Buffer.from([0xd0, 0]));
    await turn();
    expect(seen).toHaveLength(0);
    conn.destroy();
  });
});
