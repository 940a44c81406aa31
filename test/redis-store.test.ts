/**
 * Issue 7, Offline-message store: redis_store rules (pubsub, queue, keep_latest, none),
 * mqtt:msg:<msgid> hashes with a time to live, the mqtt:msg:<topic> sorted set in publish
 * order, and mqtt:acked:<clientid>:<topic> positions, against a real redis-server.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { RawClient } from './helpers/raw-client.js';
import { eventually, haveRedis, redisPerTest, type RedisBroker } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis offline-message store', () => {
  const fx = redisPerTest({ retain: false });
  const broker = fx.broker;

  /** Publishes QoS 1 messages and waits for each PUBACK. */
  async function publishAll(c: RawClient, topic: string, payloads: string[]): Promise<void> {
    let mid = 100;
    for (const p of payloads) {
      c.publish(topic, p, { qos: 1, messageId: ++mid });
      await c.waitFor((x) => x.cmd === 'puback' && x.messageId === mid);
    }
  }

  /** Receives n PUBLISHes, acknowledging each (PUBACK for QoS 1). */
  async function receive(c: RawClient, n: number, ack = true): Promise<IPublishPacket[]> {
    const out: IPublishPacket[] = [];
    for (let i = 0; i < n; i++) {
      const p = await c.nextPublish();
      if (ack && p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId! });
      out.push(p);
    }
    return out;
  }

  /** Once every replay has finished, nothing more has arrived. */
  async function nothingMore(b: RedisBroker, c: RawClient): Promise<void> {
    expect(await eventually(async () => b.plugin.stats.replaying(), (n) => n === 0)).toBe(0);
    expect((await c.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  }

  const payloads = (ps: IPublishPacket[]): string[] => ps.map((p) => String(p.payload));
  const stored = (ids: string[]): Promise<number> => (ids.length === 0 ? Promise.resolve(0) : fx.server.client().exists(...ids.map((i) => 'mqtt:msg:' + i)));

  it('stores matching publishes as mqtt:msg:<msgid> with a TTL, ids in mqtt:msg:<topic> in publish order', async () => {
    const b = await broker({ messageExpiry: 120 });
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'pubsub/news', ['m1', 'm2', 'm3']);
    pub.publish('elsewhere/t', 'not stored');
    const ids = await eventually(() => r.zrange('mqtt:msg:pubsub/news', 0, -1), (v) => v.length === 3);
    expect(ids).toHaveLength(3);
    expect([...ids].sort()).toEqual(ids);
    const hashes = await Promise.all(ids.map((id) => r.hgetall('mqtt:msg:' + id)));
    expect(hashes.map((h) => h.payload)).toEqual(['m1', 'm2', 'm3']);
    expect(hashes[0]).toMatchObject({ id: ids[0], from: 'pub', qos: '1', topic: 'pubsub/news', retain: '0' });
    const ttl = await r.ttl('mqtt:msg:' + ids[0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    await pub.sync();
    expect(await r.exists('mqtt:msg:elsewhere/t')).toBe(0);
  });

  it('pubsub: a later subscriber gets every stored message after its acknowledged position, once', async () => {
    const b = await broker();
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'pubsub/news', ['m1', 'm2', 'm3']);
    const ids = await eventually(() => r.zrange('mqtt:msg:pubsub/news', 0, -1), (v) => v.length === 3);

    let reader = await b.connect({ clientId: 'reader' });
    await reader.subscribe('pubsub/#', 1);
    expect(payloads(await receive(reader, 3))).toEqual(['m1', 'm2', 'm3']);
    expect(await eventually(() => r.get('mqtt:acked:reader:pubsub/news'), (v) => v === ids[2])).toBe(ids[2]);
    // Subscribing again in the same session gives nothing twice.
    await reader.subscribe('pubsub/news', 1, 2);
    await nothingMore(b, reader);

    reader.disconnect();
    await b.waitForLine('Updating client reader to offline');
    await publishAll(pub, 'pubsub/news', ['m4']);
    reader = await b.connect({ clientId: 'reader' });
    await reader.subscribe('pubsub/#', 1);
    expect(payloads(await receive(reader, 1))).toEqual(['m4']);
    await nothingMore(b, reader);

    // Every subscriber gets them: another client reads all four.
    const other = await b.connect({ clientId: 'other' });
    await other.subscribe('pubsub/news', 1);
    expect(payloads(await receive(other, 4))).toEqual(['m1', 'm2', 'm3', 'm4']);
    // Stored messages stay for other readers.
    expect(await r.zcard('mqtt:msg:pubsub/news')).toBe(4);
  });

  it('a returning client provisioned from mqtt:sub receives nothing it already acknowledged', async () => {
    const b = await broker();
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    let dev = await b.connect({ clientId: 'dev' });
    await dev.subscribe('pubsub/cmd', 1);
    await publishAll(pub, 'pubsub/cmd', ['a', 'b']);
    expect(payloads(await receive(dev, 2))).toEqual(['a', 'b']);
    const ids = await r.zrange('mqtt:msg:pubsub/cmd', 0, -1);
    await eventually(() => r.get('mqtt:acked:dev:pubsub/cmd'), (v) => v === ids[1]);
    dev.disconnect();
    await b.waitForLine('Updating client dev to offline');
    await publishAll(pub, 'pubsub/cmd', ['c']);
    // No SUBSCRIBE this time: mqtt:sub:dev provisions the subscription, the store replays.
    dev = await b.connect({ clientId: 'dev' });
    expect(payloads(await receive(dev, 1))).toEqual(['c']);
    await nothingMore(b, dev);
  });

  it('a QoS 0 delivery counts as the acknowledgement', async () => {
    const b = await broker();
    const r = fx.server.client();
    const sub = await b.connect({ clientId: 'q0' });
    await sub.subscribe('pubsub/q0', 0);
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'pubsub/q0', ['x']);
    expect((await sub.nextPublish()).qos).toBe(0);
    const [id] = await r.zrange('mqtt:msg:pubsub/q0', 0, -1);
    expect(await eventually(() => r.get('mqtt:acked:q0:pubsub/q0'), (v) => v === id)).toBe(id);
  });

  it('queue: each stored message goes to one subscriber and is removed once acknowledged', async () => {
    const b = await broker();
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'queue/jobs', ['j1', 'j2']);
    const ids = await eventually(() => r.zrange('mqtt:msg:queue/jobs', 0, -1), (v) => v.length === 2);

    const w1 = await b.connect({ clientId: 'w1' });
    await w1.subscribe('queue/jobs', 1);
    const got = await receive(w1, 2, false);
    expect(payloads(got)).toEqual(['j1', 'j2']);
    w1.send({ cmd: 'puback', messageId: got[0].messageId! });
    expect(await eventually(() => stored([ids[0]]), (v) => v === 0)).toBe(0);
    expect(await r.zrange('mqtt:msg:queue/jobs', 0, -1)).toEqual([ids[1]]);
    expect(await r.get('mqtt:acked:w1:queue/jobs')).toBe(ids[0]);

    // j2 is claimed by w1 (not acknowledged yet): another worker gets nothing.
    const w2 = await b.connect({ clientId: 'w2' });
    await w2.subscribe('queue/#', 1);
    await nothingMore(b, w2);

    // w1 goes away without acknowledging j2: its clean session ends and j2 is given back.
    w1.destroy();
    await b.waitForLine('Updating client w1 to offline');
    expect(await eventually(() => r.hexists('mqtt:msg:' + ids[1], 'owner'), (v) => v === 0)).toBe(0);
    const w3 = await b.connect({ clientId: 'w3' });
    await w3.subscribe('queue/jobs', 1);
    expect(payloads(await receive(w3, 1))).toEqual(['j2']);
    expect(await eventually(() => stored(ids), (v) => v === 0)).toBe(0);
    expect(await r.zcard('mqtt:msg:queue/jobs')).toBe(0);
  });

  it('keep_latest keeps only the newest message per topic', async () => {
    const b = await broker({ store: [{ filter: 'state/#', mode: 'keep_latest' }] });
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'state/dev1', ['s1', 's2']);
    const old = await eventually(() => r.zrange('mqtt:msg:state/dev1', 0, -1), (v) => v.length === 1);
    await publishAll(pub, 'state/dev1', ['s3']);
    const ids = await eventually(() => r.zrange('mqtt:msg:state/dev1', 0, -1), (v) => v.length === 1 && v[0] !== old[0]);
    expect(await r.hget('mqtt:msg:' + ids[0], 'payload')).toBe('s3');
    expect(await stored(old)).toBe(0);
    const s = await b.connect({ clientId: 'viewer' });
    await s.subscribe('state/+', 1);
    expect(payloads(await receive(s, 1))).toEqual(['s3']);
    await nothingMore(b, s);
  });

  it('redis_store none stores nothing', async () => {
    const b = await broker({ store: [] });
    const r = fx.server.client();
    const pub = await b.connect({ clientId: 'pub' });
    await publishAll(pub, 'queue/x', ['1']);
    await publishAll(pub, 'pubsub/x', ['1']);
    await pub.subscribe('marker', 0);
    await eventually(() => r.exists('mqtt:sub:pub'), (v) => v === 1);
    expect(await r.keys('mqtt:msg:*')).toEqual([]);
    expect(b.plugin.onPublish).toBeUndefined();
  });
});
