/**
 * Issue 7, Retained store: mqtt:retain:<topic> hashes (binary-safe payload), deletion by
 * an empty retained payload, and loading at start so retained messages survive a broker
 * restart with empty local state, against a real redis-server.
 */
import { describe, expect, it } from 'vitest';
import { eventually, haveRedis, redisPerTest } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis retained store', () => {
  const fx = redisPerTest({ store: [] });
  const broker = fx.broker;

  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

  it('stores each retained message as the hash mqtt:retain:<topic>, payload binary-safe', async () => {
    const b = await broker();
    const r = fx.server.client();
    const before = Math.floor(Date.now() / 1000);
    const c = await b.connect({ clientId: 'pub1' });
    c.publish('dev/1/state', binary, { qos: 1, retain: true, messageId: 9 });
    await c.next('puback');
    const h = await eventually(() => r.hgetallBuffer('mqtt:retain:dev/1/state'), (v) => v.payload !== undefined);
    expect(h.payload.equals(binary)).toBe(true);
    expect(h.topic.toString()).toBe('dev/1/state');
    expect(h.from.toString()).toBe('pub1');
    expect(h.qos.toString()).toBe('1');
    expect(h.retain.toString()).toBe('1');
    expect(h.id.toString()).toMatch(/^[0-9a-f]{22}$/);
    expect(Number(h.ts.toString())).toBeGreaterThanOrEqual(before);
  });

  it('an empty retained payload deletes the hash', async () => {
    const b = await broker();
    const r = fx.server.client();
    const c = await b.connect({ clientId: 'pub2' });
    c.publish('gone/soon', 'x', { retain: true });
    await eventually(() => r.exists('mqtt:retain:gone/soon'), (v) => v === 1);
    c.publish('gone/soon', '', { retain: true });
    expect(await eventually(() => r.exists('mqtt:retain:gone/soon'), (v) => v === 0)).toBe(0);
  });

  it('loads retained messages at start: they survive a restart with empty local state and match wildcards', async () => {
    const first = await broker();
    const c = await first.connect({ clientId: 'pub3' });
    c.publish('site/a/temp', '21', { qos: 1, retain: true, messageId: 1 });
    await c.next('puback');
    c.publish('site/b/temp', binary, { retain: true });
    await c.sync();
    const r = fx.server.client();
    await eventually(() => r.exists('mqtt:retain:site/a/temp', 'mqtt:retain:site/b/temp'), (v) => v === 2);
    await first.close();

    const second = await broker();
    expect(second.broker.retained.count).toBe(2);
    const s = await second.connect({ clientId: 'sub3' });
    await s.subscribe('site/+/temp', 1);
    const got = [await s.nextPublish(), await s.nextPublish()].sort((x, y) => x.topic.localeCompare(y.topic));
    expect(got.map((p) => [p.topic, p.retain])).toEqual([
      ['site/a/temp', true],
      ['site/b/temp', true],
    ]);
    expect(String(got[0].payload)).toBe('21');
    expect(got[0].qos).toBe(1);
    expect(Buffer.from(got[1].payload as Buffer).equals(binary)).toBe(true);
  });

  it('redis_retain false keeps retained messages out of Redis', async () => {
    const b = await broker({ retain: false });
    const r = fx.server.client();
    const c = await b.connect({ clientId: 'pub4' });
    c.publish('local/only', 'v', { retain: true });
    // A subscription written after the publish proves the retained write would have landed.
    await c.subscribe('marker', 0);
    await eventually(() => r.exists('mqtt:sub:pub4'), (v) => v === 1);
    expect(await r.exists('mqtt:retain:local/only')).toBe(0);
    expect(b.broker.retained.get('local/only')).toBeDefined();
  });
});
