/**
 * Issue 7, Command hooks: redis_hook EVENT [topic=FILTER] [pool=NAME] COMMAND ARG... for
 * every event, the ${...} variables, and each argument staying one Redis argument
 * whatever it holds, against a real redis-server.
 */
import { describe, expect, it } from 'vitest';
import type { RedisHook } from '../src/broker/config/types.js';
import { eventually, haveRedis, redisPerTest, type RedisBroker } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis command hooks', () => {
  const fx = redisPerTest({ store: [], retain: false });

  const hook = (event: RedisHook['event'], command: string, args: string[], extra: Partial<RedisHook> = {}): RedisHook => ({
    event,
    topic: null,
    pool: null,
    command,
    args,
    ...extra,
  });

  const broker = (hooks: RedisHook[], over = {}): Promise<RedisBroker> => fx.broker({ hooks, ...over });

  it('message.publish RPUSH pub:${topic} ${payload}: a payload with spaces and RESP cannot inject a command', async () => {
    const b = await broker([hook('message.publish', 'RPUSH', ['pub:${topic}', '${payload}'])]);
    const r = fx.server.client();
    const evil = 'a b\r\n*3\r\n$3\r\nSET\r\n$4\r\npwnd\r\n$1\r\n1\r\n FLUSHALL';
    const binary = Buffer.from([0, 255, 13, 10, 32]);
    const c = await b.connect({ clientId: 'p' });
    c.publish('t/1', evil);
    c.publish('t/1', binary);
    c.publish('t/1', '');
    const list = await eventually(() => r.lrangeBuffer('pub:t/1', 0, -1), (v) => v.length === 3);
    expect(list.map((x) => x.toString())).toEqual([evil, binary.toString(), '']);
    expect(list[1].equals(binary)).toBe(true);
    expect(await r.exists('pwnd')).toBe(0);
  });

  it('expands every variable inside an argument, each argument still one Redis argument', async () => {
    const b = await broker([
      hook('message.publish', 'HSET', ['last:${clientid}', 'line', '${username}|${topic}|${qos}|${payload}|${node}', 'msgid', '${msgid}', 'ts', '${ts}', 'unknown', '${nope}']),
    ]);
    const r = fx.server.client();
    const before = Math.floor(Date.now() / 1000);
    const c = await b.connect({ clientId: 'dev', username: 'alice' });
    c.publish('room 1/temp', 'twenty one', { qos: 1, messageId: 3 });
    await c.next('puback');
    const h = await eventually(() => r.hgetall('last:dev'), (v) => v.line !== undefined);
    expect(h.line).toBe('alice|room 1/temp|1|twenty one|test-node');
    expect(h.msgid).toMatch(/^[0-9a-f]{22}$/);
    expect(Number(h.ts)).toBeGreaterThanOrEqual(before);
    expect(h.unknown).toBe('${nope}');
  });

  it('fires client.connected, client.disconnected, session.subscribed and session.unsubscribed', async () => {
    const b = await broker([
      hook('client.connected', 'RPUSH', ['events', 'connected ${clientid} ${username} ${node}']),
      hook('session.subscribed', 'RPUSH', ['events', 'subscribed ${clientid} ${topic} ${qos}']),
      hook('session.unsubscribed', 'RPUSH', ['events', 'unsubscribed ${clientid} ${topic}']),
      hook('client.disconnected', 'RPUSH', ['events', 'disconnected ${clientid}']),
    ]);
    const r = fx.server.client();
    const c = await b.connect({ clientId: 'c1', username: 'u1' });
    await c.subscribe('a/+', 1);
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['a/+'] });
    await c.next('unsuback');
    c.disconnect();
    const events = await eventually(() => r.lrange('events', 0, -1), (v) => v.length === 4);
    expect(events).toEqual(['connected c1 u1 test-node', 'subscribed c1 a/+ 1', 'unsubscribed c1 a/+', 'disconnected c1']);
  });

  it('fires message.delivered per subscriber and message.acked on PUBACK, with topic= filters', async () => {
    const b = await broker([
      hook('message.delivered', 'RPUSH', ['delivered', '${clientid} ${topic} ${payload}'], { topic: 'watched/#' }),
      hook('message.acked', 'RPUSH', ['acked', '${clientid} ${topic} ${msgid}']),
      hook('message.publish', 'INCR', ['published:${topic}'], { topic: 'watched/+' }),
    ]);
    const r = fx.server.client();
    const s1 = await b.connect({ clientId: 's1' });
    const s2 = await b.connect({ clientId: 's2' });
    await s1.subscribe('#', 1);
    await s2.subscribe('watched/#', 0);
    const p = await b.connect({ clientId: 'p' });
    p.publish('watched/x', 'hi', { qos: 1, messageId: 1 });
    p.publish('other/x', 'no', { qos: 1, messageId: 2 });
    const first = await s1.nextPublish();
    s1.send({ cmd: 'puback', messageId: first.messageId! });
    const second = await s1.nextPublish();
    s1.send({ cmd: 'puback', messageId: second.messageId! });
    await s2.nextPublish();
    const delivered = await eventually(() => r.lrange('delivered', 0, -1), (v) => v.length === 2);
    expect([...delivered].sort()).toEqual(['s1 watched/x hi', 's2 watched/x hi']);
    const acked = await eventually(() => r.lrange('acked', 0, -1), (v) => v.length === 2);
    expect(acked.map((a) => a.split(' ').slice(0, 2).join(' '))).toEqual(['s1 watched/x', 's1 other/x']);
    expect(acked[0].split(' ')[2]).toMatch(/^[0-9a-f]{22}$/);
    expect(await r.get('published:watched/x')).toBe('1');
    expect(await r.exists('published:other/x')).toBe(0);
  });

  it('publish hooks, encoded after delivery, still reach Redis in event order with the other writes', async () => {
    const b = await broker([
      hook('message.publish', 'RPUSH', ['events', 'pub ${payload}']),
      hook('client.disconnected', 'RPUSH', ['events', 'gone ${clientid}']),
      hook('client.connected', 'RPUSH', ['events', 'hello ${clientid}']),
    ]);
    const r = fx.server.client();
    for (let round = 0; round < 3; round++) {
      const c = await b.connect({ clientId: `c${round}` });
      for (let i = 0; i < 50; i++) c.publish('t', `${round}.${i}`);
      c.disconnect(); // same turn as the last publishes, most likely
      await b.waitForLine(`Client c${round} disconnected.`);
    }
    const want = [0, 1, 2].flatMap((round) => [
      `hello c${round}`,
      ...Array.from({ length: 50 }, (_, i) => `pub ${round}.${i}`),
      `gone c${round}`,
    ]);
    expect(await eventually(() => r.lrange('events', 0, -1), (v) => v.length === want.length)).toEqual(want);
  });

  it('pool=NAME runs the command on the named connection', async () => {
    const b = await broker([hook('message.publish', 'SET', ['pooled:${topic}', '${payload}'], { pool: 'side' })], {
      pools: { side: `redis://127.0.0.1:${fx.server.port}/3` },
    });
    const db3 = fx.server.client(3);
    const db0 = fx.server.client();
    const c = await b.connect({ clientId: 'p' });
    c.publish('k', 'v');
    expect(await eventually(() => db3.get('pooled:k'), (v) => v === 'v')).toBe('v');
    expect(await db0.exists('pooled:k')).toBe(0);
  });

  it('a hook that would block or re-point the shared write connection is ignored with a warning; the others run', async () => {
    const b = await broker([
      hook('message.publish', 'SELECT', ['3']),
      hook('message.publish', 'blpop', ['q', '0']),
      hook('message.publish', 'XREAD', ['BLOCK', '0', 'STREAMS', 's', '$']),
      hook('message.publish', 'RPUSH', ['after', '${payload}']),
    ]);
    expect(b.lines.filter((l) => l.startsWith('Warning: Ignoring redis_hook message.publish'))).toEqual([
      'Warning: Ignoring redis_hook message.publish SELECT: the command would block or change the shared write connection.',
      'Warning: Ignoring redis_hook message.publish blpop: the command would block or change the shared write connection.',
      'Warning: Ignoring redis_hook message.publish XREAD: the command would block the shared write connection.',
    ]);
    const r = fx.server.client();
    const c = await b.connect({ clientId: 'p' });
    c.publish('t', 'one');
    c.publish('t', 'two');
    expect(await eventually(() => r.lrange('after', 0, -1), (v) => v.length === 2)).toEqual(['one', 'two']);
    expect(b.plugin.stats.errors()).toBe(0);
  });

  it('a command Redis refuses is logged once and the broker keeps routing', async () => {
    const b = await broker([hook('message.publish', 'NOSUCHCOMMAND', ['${topic}'])]);
    const s = await b.connect({ clientId: 's' });
    await s.subscribe('t', 0);
    const c = await b.connect({ clientId: 'p' });
    c.publish('t', '1');
    c.publish('t', '2');
    expect(String((await s.nextPublish()).payload)).toBe('1');
    expect(String((await s.nextPublish()).payload)).toBe('2');
    await b.waitForLine(/refused a command: NOSUCHCOMMAND: ERR unknown command/i);
    c.publish('t', '3');
    await s.nextPublish();
    expect(await eventually(async () => b.plugin.stats.errors(), (n) => n === 3)).toBe(3);
    expect(b.lines.filter((l) => l.includes('refused a command')).length).toBe(1);
  });
});
