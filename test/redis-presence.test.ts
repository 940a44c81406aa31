/**
 * Issue 7, Presence: the `mqtt` hash, mqtt:client:<clientid>, mqtt:node:<node>, the log
 * lines, takeover safety and the clean-up of what a previous run left in the node hash,
 * against a real redis-server.
 */
import { describe, expect, it } from 'vitest';
import { eventually, haveRedis, redisPerTest, type RedisBroker } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis presence', () => {
  const fx = redisPerTest();
  const broker = (over = {}, nodeName = 'test-node'): Promise<RedisBroker> => fx.broker(over, { nodeName });

  it('marks a client online and offline in mqtt, mqtt:client:<id> and mqtt:node:<node>, with the log lines', async () => {
    const b = await broker();
    const r = fx.server.client();
    const before = Math.floor(Date.now() / 1000);
    const c = await b.connect({ clientId: 'dev1' });
    await b.waitForLine('Updating client dev1 to online');
    expect(await eventually(() => r.hget('mqtt', 'dev1'), (v) => v === 'online')).toBe('online');
    const h = await eventually(() => r.hgetall('mqtt:client:dev1'), (v) => v.state === '1');
    expect(h.state).toBe('1');
    expect(Number(h.online_at)).toBeGreaterThanOrEqual(before);
    expect(Number(h.online_at)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const nodeAt = await r.hget('mqtt:node:test-node', 'dev1');
    expect(nodeAt).toBe(h.online_at);

    c.disconnect();
    await b.waitForLine('Updating client dev1 to offline');
    expect(await eventually(() => r.hget('mqtt', 'dev1'), (v) => v === 'offline')).toBe('offline');
    const h2 = await r.hgetall('mqtt:client:dev1');
    expect(h2.state).toBe('0');
    expect(Number(h2.offline_at)).toBeGreaterThanOrEqual(Number(h.online_at));
    expect(await r.hexists('mqtt:node:test-node', 'dev1')).toBe(0);
  });

  it('uses redis_presence_key for the presence hash', async () => {
    const b = await broker({ presenceKey: 'devices:online' });
    const r = fx.server.client();
    await b.connect({ clientId: 'dev2' });
    expect(await eventually(() => r.hget('devices:online', 'dev2'), (v) => v === 'online')).toBe('online');
    expect(await r.hget('mqtt', 'dev2')).toBeNull();
  });

  it('a session takeover on one broker leaves the client online', async () => {
    const b = await broker();
    const r = fx.server.client();
    const first = await b.connect({ clientId: 'dup', clean: false });
    await b.connect({ clientId: 'dup', clean: false });
    await first.closed;
    await b.waitForLine('Updating client dup to offline');
    // Both the old connection's offline write and the new one's online write have been sent;
    // a marker written after them on the same connection proves they have landed.
    const probe = await b.connect({ clientId: 'marker' });
    await eventually(() => r.hget('mqtt', 'marker'), (v) => v === 'online');
    expect(await r.hget('mqtt', 'dup')).toBe('online');
    expect((await r.hgetall('mqtt:client:dup')).state).toBe('1');
    expect(await r.hexists('mqtt:node:test-node', 'dup')).toBe(1);
    probe.disconnect();
  });

  it('an old connection going offline on another broker after a newer online write does not mark the client offline', async () => {
    const a = await broker({}, 'node-a');
    const bb = await broker({}, 'node-b');
    const r = fx.server.client();
    const onA = await a.connect({ clientId: 'roamer' });
    await eventually(() => r.hget('mqtt:client:roamer', 'node'), (v) => v === 'node-a');
    // The device roams to broker B before broker A notices its old connection is dead.
    await bb.connect({ clientId: 'roamer' });
    await eventually(() => r.hget('mqtt:client:roamer', 'node'), (v) => v === 'node-b');
    onA.destroy();
    await a.waitForLine('Updating client roamer to offline');
    await eventually(() => r.hexists('mqtt:node:node-a', 'roamer'), (v) => v === 0);
    expect(await r.hget('mqtt', 'roamer')).toBe('online');
    expect((await r.hgetall('mqtt:client:roamer')).state).toBe('1');
    expect(await r.hexists('mqtt:node:node-b', 'roamer')).toBe(1);
  });

  it('at start marks offline the clients its previous run left in its node hash', async () => {
    const r = fx.server.client();
    await r.hset('mqtt', 'ghost', 'online', 'moved', 'online');
    await r.hset('mqtt:client:ghost', 'state', '1', 'online_at', '100', 'node', 'test-node');
    // "moved" was left in our node hash but has since connected to another broker.
    await r.hset('mqtt:client:moved', 'state', '1', 'online_at', '100', 'node', 'other-node');
    await r.hset('mqtt:node:test-node', 'ghost', '100', 'moved', '100');
    await broker();
    expect(await eventually(() => r.hget('mqtt', 'ghost'), (v) => v === 'offline')).toBe('offline');
    expect((await r.hgetall('mqtt:client:ghost')).state).toBe('0');
    expect(await r.hget('mqtt', 'moved')).toBe('online');
    expect((await r.hgetall('mqtt:client:moved')).state).toBe('1');
    expect(await r.hlen('mqtt:node:test-node')).toBe(0);
  });
});
