/**
 * Issue 7, Connection: Redis down at start or lost later. The broker starts and routes
 * regardless, logs one warning, reconnects, rewrites the presence of connected clients,
 * bounds what it keeps meanwhile, and a hung Redis cannot hold up a CONNECT. Against a
 * real redis-server that the tests stop, restart, and pause.
 */
import { describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.js';
import { eventually, haveRedis, redisPerTest, type RedisBroker } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis outages', () => {
  const fx = redisPerTest();
  const broker = fx.broker;

  const redisWarnings = (b: RedisBroker): string[] => b.lines.filter((l) => l.startsWith('Warning:') && l.includes('Redis'));
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** Publish from one client, receive on another: routing works. */
  async function routes(b: RedisBroker, topic: string): Promise<void> {
    const s = await b.connect({ clientId: 'route-sub-' + topic });
    await s.subscribe(topic, 1);
    const p = await b.connect({ clientId: 'route-pub-' + topic });
    p.publish(topic, 'through', { qos: 1, messageId: 1 });
    const got = await s.nextPublish();
    expect(String(got.payload)).toBe('through');
    s.disconnect();
    p.disconnect();
  }

  it('Redis down at start: the broker starts and routes, warns once, and writes everything once Redis is back', async () => {
    await fx.server.stop();
    const b = await broker();
    await b.waitForLine(/^Warning: Unable to connect to Redis at 127\.0\.0\.1:\d+ \(.*\); messages are still routed, reconnecting\.$/);
    await routes(b, 'during/start');
    const alive = await b.connect({ clientId: 'alive' });
    const left = await b.connect({ clientId: 'left' });
    left.publish('kept/retained', 'r', { retain: true });
    await left.sync();
    left.disconnect();
    await b.waitForLine('Updating client left to offline');
    // Several reconnection attempts fail meanwhile (backoff capped at 200 ms here): still one warning.
    await pause(700);
    expect(redisWarnings(b)).toHaveLength(1);

    await fx.server.run();
    await b.waitForLine(/^Connection to Redis at 127\.0\.0\.1:\d+ restored\.$/);
    const r = fx.server.client();
    expect(await eventually(() => r.hget('mqtt', 'alive'), (v) => v === 'online')).toBe('online');
    expect(await eventually(() => r.hget('mqtt', 'left'), (v) => v === 'offline')).toBe('offline');
    expect(await r.hexists('mqtt:node:test-node', 'alive')).toBe(1);
    expect(await r.hexists('mqtt:node:test-node', 'left')).toBe(0);
    expect(await eventually(() => r.hget('mqtt:retain:kept/retained', 'payload'), (v) => v === 'r')).toBe('r');
    expect(redisWarnings(b)).toHaveLength(1);
    alive.disconnect();
  });

  it('Redis lost later: routing goes on, one warning, and presence is rewritten when it returns', async () => {
    const b = await broker();
    const r0 = fx.server.client();
    const a = await b.connect({ clientId: 'devA' });
    await eventually(() => r0.hget('mqtt', 'devA'), (v) => v === 'online');

    await fx.server.stop();
    await b.waitForLine(/^Warning: Lost connection to Redis at 127\.0\.0\.1:\d+ \(.*\); messages are still routed, reconnecting\.$/);
    await routes(b, 'during/outage');
    const bdev = await b.connect({ clientId: 'devB' });
    await pause(700);
    expect(redisWarnings(b)).toHaveLength(1);

    // The restarted Redis has lost everything (no persistence): the broker rewrites presence.
    await fx.server.run();
    await b.waitForLine(/^Connection to Redis at 127\.0\.0\.1:\d+ restored\.$/);
    const r = fx.server.client();
    expect(await eventually(() => r.hget('mqtt', 'devA'), (v) => v === 'online')).toBe('online');
    expect(await eventually(() => r.hget('mqtt', 'devB'), (v) => v === 'online')).toBe('online');
    expect((await r.hgetall('mqtt:client:devA')).state).toBe('1');
    expect((await r.hkeys('mqtt:node:test-node')).sort()).toEqual(['devA', 'devB']);
    // The event channel is subscribed again.
    await eventually(() => r.publish('mqtt_channel', JSON.stringify({ type: 'subscribe', topic: 'back/on', clientid: 'devA', qos: 0 })), (n) => n >= 1);
    await eventually(async () => b.broker.sessions.get('devA')!.subscriptions.has('back/on'), (v) => v);
    expect(redisWarnings(b)).toHaveLength(1);
    a.disconnect();
    bdev.disconnect();
  });

  it('keeps only a bounded number of writes while Redis is away and counts the rest', async () => {
    const b = await broker({ store: [] }, { maxBuffered: 5 });
    const early = await b.connect({ clientId: 'early' });
    await eventually(() => fx.server.client().hget('mqtt', 'early'), (v) => v === 'online');
    await fx.server.stop();
    await b.waitForLine(/Lost connection to Redis/);
    const c = await b.connect({ clientId: 'many' });
    for (let i = 0; i < 20; i++) c.publish(`r/${i}`, 'x', { retain: true });
    await c.sync();
    expect(b.plugin.stats.dropped()).toBeGreaterThanOrEqual(15);
    await routes(b, 'still/routing');
    await fx.server.run();
    await b.waitForLine(/^Connection to Redis at 127\.0\.0\.1:\d+ restored \(\d+ writes dropped while it was away\)\.$/);
    const r = fx.server.client();
    // The presence of the connected client is rewritten whatever was dropped.
    expect(await eventually(() => r.hget('mqtt', 'many'), (v) => v === 'online')).toBe('online');
    // Connected before the outage, its writes long gone with the old Redis, and the buffer
    // full: the resync rewrites it all the same.
    expect(await eventually(() => r.hget('mqtt', 'early'), (v) => v === 'online')).toBe('online');
    c.disconnect();
    early.disconnect();
  });

  it('a hung Redis cannot block a CONNECT: the provisioning read gives up after its timeout', async () => {
    const b = await broker();
    fx.server.proc!.kill('SIGSTOP');
    const { client, connack } = await RawClient.connect(b.port, { clientId: 'patient' });
    expect(connack.returnCode).toBe(0);
    await b.waitForLine(/^Warning: Unable to read Redis subscriptions of client patient \(Redis timeout\)\.$/);
    // Packets after CONNACK do not wait on the hung Redis either.
    expect((await client.subscribe('x', 1)).granted).toEqual([1]);
    client.publish('x', 'self', { qos: 1, messageId: 7 });
    expect(String((await client.nextPublish()).payload)).toBe('self');
    fx.server.proc!.kill('SIGCONT');
    client.destroy();
  });
});
