/**
 * A Redis Cluster restarted empty while a client of it never used one of its masters
 * (issue 15, and issue 7's resync on a Redis Cluster). ioredis's Cluster says 'close' and
 * 'ready' again only once every connection of its pool has ended, and it opens a master's
 * connection at that master's first command: with one master never used, the pool never
 * drains and no 'ready' comes, although every master restarted without its data.
 * onNodeReconnected (src/broker/redis/link-options.ts) tells of each lost node whose
 * connection is made again, and a RedisLink runs its ready callbacks (presence, retained)
 * again then; a cluster node rejoins (test/cluster-redis-restart.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { onNodeReconnected, openClient, type RedisLinkOptions } from '../src/broker/redis/link-options.js';
import { RedisLink } from '../src/broker/redis/connection.js';
import { Log } from '../src/broker/log.js';
import { haveRedisCluster, RedisClusterServer } from './helpers/redis-cluster.js';
import { until } from './helpers/cluster.js';

const linkOptions = (s: RedisClusterServer): RedisLinkOptions => ({
  url: null,
  cluster: s.ports.map((port) => ({ host: '127.0.0.1', port })),
  host: '127.0.0.1',
  port: 0,
  password: null,
  db: 0,
  maxBackoffMs: 200,
  quiet: true,
});

/** Masters of `c`'s pool not connected yet (ioredis opens a master's connection at its first command). */
const unconnected = (c: Cluster): number => c.nodes('master').filter((n) => n.status === 'wait').length;

describe.skipIf(!haveRedisCluster())('a Redis Cluster restarted empty, one master never used by the client', { timeout: 60000 }, () => {
  let server: RedisClusterServer | undefined;
  const closing: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c();
    await server?.close();
    server = undefined;
  });

  it('onNodeReconnected tells of each master whose lost connection is made again, where no ready comes', async () => {
    server = await RedisClusterServer.start();
    // As the cluster plugin's commands connection: commands wait while Redis is away.
    const c = openClient(linkOptions(server), { lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: null }) as Cluster;
    c.on('error', () => {});
    closing.push(() => c.disconnect());
    const readies: number[] = [];
    let back = 0;
    c.on('ready', () => readies.push(Date.now()));
    onNodeReconnected(c, () => back++);
    await c.connect();
    await c.set('k', 'v');
    // The ready check used one master and the SET one: a third was never used.
    expect(unconnected(c)).toBeGreaterThan(0);
    const readiesBefore = readies.length;

    await server.stop();
    await server.run();
    // The client's next commands find the masters again (MOVED, the slots refresh).
    await until(() => c.set('k', 'again').then(() => 'ok', () => 'no'), (v) => v === 'ok', 30000);
    expect(await until(() => Promise.resolve(back), (n) => n > 0, 30000)).toBeGreaterThan(0);
    // Told by onNodeReconnected alone: the Cluster itself never said 'ready' again.
    expect(readies.length).toBe(readiesBefore);
    expect(await c.get('k')).toBe('again');
  });

  it("a RedisLink's ready callbacks run again: what they write is back in the restarted Redis", async () => {
    server = await RedisClusterServer.start();
    const link = new RedisLink(linkOptions(server), new Log(0, []));
    closing.push(() => link.close());
    let runs = 0;
    // As presence's resync: written through the link's own client on every (re)connection.
    link.onReady(async () => {
      runs++;
      await link.redis.set('presence-like', String(runs));
    });
    await link.connect(10000);
    expect(runs).toBe(1);
    const check = server.client();
    expect(await check.get('presence-like')).toBe('1');

    await server.stop();
    await server.run();
    expect(await check.exists('presence-like')).toBe(0);
    // Writes through the link reach the restarted masters, and with them the lost connections are made again.
    for (let i = 0; i < 30 && runs < 2; i++) {
      link.send(['SET', `w${i}`, 'x']);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await until(() => Promise.resolve(runs), (n) => n >= 2, 30000)).toBeGreaterThanOrEqual(2);
    expect(await until(() => check.get('presence-like'), (v) => v !== null, 10000)).not.toBeNull();
  });
});
