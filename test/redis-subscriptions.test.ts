/**
 * Issue 7, Subscription store: SUBSCRIBE/UNSUBSCRIBE write mqtt:sub:<clientid>, the
 * provisioning read before CONNACK, and subscribe events on the Redis channel, against a
 * real redis-server.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { eventually, haveRedis, redisPerTest } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis subscription store', () => {
  const fx = redisPerTest({ store: [] });
  const broker = fx.broker;

  it('SUBSCRIBE writes HSET mqtt:sub:<clientid> <filter> <qos>; UNSUBSCRIBE deletes the field', async () => {
    const b = await broker();
    const r = fx.server.client();
    const c = await b.connect({ clientId: 'sub1' });
    await c.subscribe([
      { topic: 'a/+/c', qos: 1 },
      { topic: 'x/#', qos: 2 },
    ]);
    const h = await eventually(() => r.hgetall('mqtt:sub:sub1'), (v) => Object.keys(v).length === 2);
    expect(h).toEqual({ 'a/+/c': '1', 'x/#': '2' });
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+/c'] });
    await c.next('unsuback');
    expect(await eventually(() => r.hgetall('mqtt:sub:sub1'), (v) => Object.keys(v).length === 1)).toEqual({ 'x/#': '2' });
  });

  it('subscribes a connecting client to every filter in mqtt:sub:<clientid> before CONNACK', async () => {
    const r = fx.server.client();
    await r.hset('mqtt:sub:dev7', 'cmd/dev7', '1', 'all/+', '0');
    const b = await broker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('all/r', 'retained-before', { retain: true });
    await pub.sync();
    const dev = await b.connect({ clientId: 'dev7' });
    // The subscriptions exist as soon as CONNACK is in: a publish right after reaches it.
    expect(b.broker.sessions.get('dev7')!.subscriptions.has('cmd/dev7')).toBe(true);
    pub.publish('cmd/dev7', 'reboot', { qos: 1, messageId: 5 });
    const got: IPublishPacket[] = [await dev.nextPublish(), await dev.nextPublish()];
    const byTopic = Object.fromEntries(got.map((p) => [p.topic, p]));
    expect(String(byTopic['all/r'].payload)).toBe('retained-before');
    expect(byTopic['all/r'].retain).toBe(true);
    expect(String(byTopic['cmd/dev7'].payload)).toBe('reboot');
    expect(byTopic['cmd/dev7'].qos).toBe(1);
  });

  it('ignores a provisioned filter that is not valid and keeps the others', async () => {
    const r = fx.server.client();
    await r.hset('mqtt:sub:dev8', 'bad/#/x', '1', 'good', '7', 'ok/1', '2');
    const b = await broker();
    await b.connect({ clientId: 'dev8' });
    const subs = b.broker.sessions.get('dev8')!.subscriptions;
    expect([...subs.keys()]).toEqual(['ok/1']);
    expect(b.lines.some((l) => l.includes('bad/#/x'))).toBe(true);
  });

  it('applies subscribe and unsubscribe events from mqtt_channel and updates mqtt:sub:<clientid>', async () => {
    const b = await broker();
    const r = fx.server.client();
    const dev = await b.connect({ clientId: 'dev9' });
    const pub = await b.connect({ clientId: 'pub' });
    // qos as a string, as some back ends send it.
    await eventually(() => r.publish('mqtt_channel', JSON.stringify({ type: 'subscribe', topic: 'ev/+', clientid: 'dev9', qos: '1' })), (n) => n >= 1);
    await eventually(async () => b.broker.sessions.get('dev9')!.subscriptions.has('ev/+'), (v) => v);
    expect(await eventually(() => r.hget('mqtt:sub:dev9', 'ev/+'), (v) => v === '1')).toBe('1');
    pub.publish('ev/1', 'hello', { qos: 1, messageId: 3 });
    const p = await dev.nextPublish();
    expect([p.topic, String(p.payload), p.qos]).toEqual(['ev/1', 'hello', 1]);
    dev.send({ cmd: 'puback', messageId: p.messageId! });

    await r.publish('mqtt_channel', JSON.stringify({ type: 'unsubscribe', topic: 'ev/+', clientid: 'dev9' }));
    await eventually(async () => b.broker.sessions.get('dev9')!.subscriptions.has('ev/+'), (v) => !v);
    expect(await eventually(() => r.hexists('mqtt:sub:dev9', 'ev/+'), (v) => v === 0)).toBe(0);
    pub.publish('ev/1', 'gone', { qos: 1, messageId: 4 });
    await pub.sync();
    expect((await dev.sync()).filter((x) => x.cmd === 'publish')).toEqual([]);
  });

  it('an event for a client that is not connected only updates mqtt:sub, which provisions it on connect', async () => {
    const b = await broker({ eventChannel: 'provision' });
    const r = fx.server.client();
    await eventually(() => r.publish('provision', JSON.stringify({ type: 'subscribe', topic: 'later/t', clientid: 'away', qos: 2 })), (n) => n >= 1);
    expect(await eventually(() => r.hget('mqtt:sub:away', 'later/t'), (v) => v === '2')).toBe('2');
    await b.connect({ clientId: 'away' });
    expect(b.broker.sessions.get('away')!.subscriptions.get('later/t')?.options.qos).toBe(2);
  });

  it('logs and ignores malformed events', async () => {
    const b = await broker();
    const r = fx.server.client();
    const dev = await b.connect({ clientId: 'devm' });
    await eventually(() => r.publish('mqtt_channel', 'not json'), (n) => n >= 1);
    await b.waitForLine(/Ignoring malformed Redis event on mqtt_channel \(not JSON\)/);
    await r.publish('mqtt_channel', JSON.stringify({ type: 'subscribe', topic: 'a/#/b', clientid: 'devm' }));
    await b.waitForLine(/invalid topic filter/);
    await r.publish('mqtt_channel', JSON.stringify({ type: 'subscribe', topic: 'q', clientid: 'devm', qos: 3 }));
    await b.waitForLine(/qos must be 0, 1 or 2/);
    await r.publish('mqtt_channel', JSON.stringify({ type: 'drop', topic: 'q', clientid: 'devm' }));
    await b.waitForLine(/type must be/);
    expect(b.broker.sessions.get('devm')!.subscriptions.size).toBe(0);
    expect(await r.exists('mqtt:sub:devm')).toBe(0);
    // The broker goes on working.
    await dev.subscribe('still/works', 0);
    expect(await eventually(() => r.hget('mqtt:sub:devm', 'still/works'), (v) => v === '0')).toBe('0');
  });
});
