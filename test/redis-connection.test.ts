/**
 * Issue 7, Connection options: redis_url, redis_password and redis_db reach the server
 * that needs them, and a password never appears in a log line, against a real
 * redis-server that requires one.
 */
import { describe, expect, it } from 'vitest';
import { eventually, haveRedis, redisPerTest } from './helpers/redis-server.js';

describe.skipIf(!haveRedis())('Redis connection options', () => {
  const secret = 's3cret-pw';
  const fx = redisPerTest({ store: [] }, ['--requirepass', secret]);
  const broker = fx.broker;

  it('redis_host/redis_port with redis_password and redis_db', async () => {
    const b = await broker({ password: secret, db: 4 });
    await b.connect({ clientId: 'c4' });
    const db4 = fx.server.client(4, secret);
    expect(await eventually(() => db4.hget('mqtt', 'c4'), (v) => v === 'online')).toBe('online');
    expect(await fx.server.client(0, secret).exists('mqtt')).toBe(0);
  });

  it('redis_url with the password and database in the URL', async () => {
    const b = await broker({ url: `redis://:${secret}@127.0.0.1:${fx.server.port}/2` });
    await b.connect({ clientId: 'c2' });
    const db2 = fx.server.client(2, secret);
    expect(await eventually(() => db2.hget('mqtt', 'c2'), (v) => v === 'online')).toBe('online');
  });

  it('a refused password is one warning that does not show the password, and routing goes on', async () => {
    const b = await broker({ url: `redis://:wrong-${secret}@127.0.0.1:${fx.server.port}/0` });
    await b.waitForLine(/^Warning: Unable to connect to Redis at 127\.0\.0\.1:\d+ /);
    const s = await b.connect({ clientId: 's' });
    await s.subscribe('t', 0);
    const p = await b.connect({ clientId: 'p' });
    p.publish('t', 'ok');
    expect(String((await s.nextPublish()).payload)).toBe('ok');
    expect(b.lines.filter((l) => l.includes(secret))).toEqual([]);
    expect(b.lines.filter((l) => l.startsWith('Warning:') && l.includes('Redis'))).toHaveLength(1);
  });
});
