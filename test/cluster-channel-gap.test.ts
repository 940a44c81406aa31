/**
 * Issue 15, the channel's gaps: route changes, joins and takeovers travel on Redis
 * Pub/Sub (mqtt:cluster), which is at-most-once. When a node's subscriber connection
 * drops and ioredis reconnects it, the node keeps its lease but misses what was announced
 * meanwhile; once subscribed again it reads back from Redis what the channel carries and
 * Redis keeps: the routes of every live node, the membership, takeovers of its clients.
 *
 * The gap is made deterministic on one redis-server: it refuses new connections
 * (CONFIG SET maxclients 1; established ones go on), node A's subscriber connection
 * (named tsm-cluster-sub:<node> in CLIENT LIST) is killed, so ioredis cannot reconnect it
 * until maxclients is raised again, after the announcements were seen on the channel by
 * the test's own subscriber.
 */
import { describe, expect, it } from 'vitest';
import type { IDisconnectPacket, IPublishPacket, IUnsubackPacket } from 'mqtt-packet';
import { Redis as IORedis, type Redis } from 'ioredis';
import { haveRedis } from './helpers/redis-server.js';
import { clusterPerTest, reaches, until } from './helpers/cluster.js';
import { haveRedisCluster } from './helpers/redis-cluster.js';

/** Plain connections to each Redis node (made before a cut: Redis then takes no new one). */
function perNode(ports: number[]): Redis[] {
  return ports.map((port) => {
    const c = new IORedis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    return c;
  });
}

/** `node`'s channel subscriber connections (named tsm-cluster-sub:<node>), on every Redis node, with their subscription counts. */
async function subscriberOf(rs: Redis[], node: string): Promise<{ at: number; id: string; sub: number }[]> {
  const out: { at: number; id: string; sub: number }[] = [];
  for (const [at, r] of rs.entries()) {
    const list = (await r.client('LIST')) as string;
    for (const l of list.split('\n')) {
      if (!l.includes(` name=tsm-cluster-sub:${node} `)) continue;
      out.push({ at, id: /\bid=(\d+)/.exec(l)![1], sub: Number(/\bsub=(\d+)/.exec(l)?.[1] ?? 0) });
    }
  }
  return out;
}

/** Cuts `node`'s channel: no Redis node takes a new connection, and the subscriber's is killed. */
async function cutChannel(rs: Redis[], node: string): Promise<void> {
  const subs = await subscriberOf(rs, node);
  expect(subs.map((s) => s.sub)).toEqual([1]);
  for (const r of rs) await r.config('SET', 'maxclients', '1');
  await rs[subs[0].at].client('KILL', 'ID', subs[0].id);
  expect(await until(() => subscriberOf(rs, node), (s) => s.length === 0)).toEqual([]);
}

/** Lets `node`'s subscriber connect again, and waits until it has subscribed the channel again. */
async function restoreChannel(rs: Redis[], node: string): Promise<void> {
  for (const r of rs) await r.config('SET', 'maxclients', '10000');
  // ioredis's backoff grows to 5 s between attempts.
  expect((await until(() => subscriberOf(rs, node), (s) => s.length === 1 && s[0].sub === 1, 20000)).map((s) => s.sub)).toEqual([1]);
}

async function uncut(rs: Redis[]): Promise<void> {
  for (const r of rs) await r.config('SET', 'maxclients', '10000').catch(() => {});
  for (const r of rs) r.disconnect();
}

type Heard = { op: string; node: string; filter?: string };

/** Every announcement on the cluster channel from now on, heard on `ear`, in order. */
async function listen(ear: Redis): Promise<Heard[]> {
  const heard: Heard[] = [];
  ear.on('message', (_ch: string, m: string) => heard.push(JSON.parse(m) as Heard));
  await ear.subscribe('mqtt:cluster');
  return heard;
}

describe.skipIf(!haveRedis())('cluster channel gaps (Pub/Sub is at-most-once)', { timeout: 90000 }, () => {
  const fx = clusterPerTest();

  it("routes added and removed while a node's channel was down are loaded from Redis once it is subscribed again", async () => {
    const [a, b] = await fx.nodes(2);
    const old = await b.connect({ clientId: 'old' });
    await old.subscribe('gone/#', 0);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, old, 'gone/probe');

    const r = fx.redis.client();
    const rs = perNode([fx.redis.port]);
    // The test's own ear on the channel: proves the announcements went out during the gap.
    const heard = await listen(fx.redis.client());

    await cutChannel(rs, 'n1');
    try {
      const fresh = await b.connect({ clientId: 'fresh' });
      await fresh.subscribe('new/#', 1);
      old.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['gone/#'] });
      await old.waitFor<IUnsubackPacket>((p) => p.cmd === 'unsuback', 3000, 'unsuback');
      const announced = (op: string, filter: string) => (): boolean => heard.some((e) => e.op === op && e.node === 'n2' && e.filter === filter);
      expect(await until(announced('route', 'new/#'), (v) => v)).toBe(true);
      expect(await until(announced('unroute', 'gone/#'), (v) => v)).toBe(true);
      // Node A's subscriber was still away when they were announced: A did not hear them.
      expect(await subscriberOf(rs, 'n1')).toEqual([]);
      expect(await r.hgetall('mqtt:route:n2')).toEqual({ 'new/#': '1' });

      await restoreChannel(rs, 'n1');
      // A's publishes reach the subscription made during the gap.
      await reaches(pub, fresh, 'new/probe');
      expect(a.proc.lines.some((l) => l.includes('Cluster: channel subscribed again; reloading membership, routes and takeovers from Redis.'))).toBe(true);
      pub.publish('new/t', 'after the gap', { qos: 1, messageId: 7 });
      expect((await pub.next('puback', 10000)).messageId).toBe(7);
      const m = await fresh.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'new/t', 10000, 'new/t');
      expect(String(m.payload)).toBe('after the gap');
    } finally {
      await uncut(rs);
    }
  });

  it("a takeover announced while a node's channel was down closes the old connection once it is subscribed again", async () => {
    const [a, b] = await fx.nodes(2);
    const first = await a.connect({ clientId: 'roamer', version: 5 });
    const r = fx.redis.client();
    const rs = perNode([fx.redis.port]);
    expect(await until(() => r.hget('mqtt:client:roamer', 'node'), (n) => n === 'n1')).toBe('n1');
    await cutChannel(rs, 'n1');
    try {
      // Node B asks the others to give roamer up; A does not hear, B goes on after its wait.
      await b.connect({ clientId: 'roamer', version: 5 });
      expect(await until(() => r.hget('mqtt:client:roamer', 'node'), (n) => n === 'n2')).toBe('n2');
      // Still connected on A: the takeover was missed.
      expect(first.isClosed).toBe(false);
      await restoreChannel(rs, 'n1');
      const d = await first.waitFor<IDisconnectPacket>((p) => p.cmd === 'disconnect', 10000, 'disconnect 0x8E');
      expect(d.reasonCode).toBe(0x8e);
      await first.closed;
      // The log line comes over another pipe than the DISCONNECT: waited for, not read at once.
      await a.proc.waitForLine(/Cluster: client roamer was taken over by node n2 while the channel was down\./);
    } finally {
      await uncut(rs);
    }
    // The connection on B stays, and presence names B.
    expect(await r.hget('mqtt:client:roamer', 'node')).toBe('n2');
    expect(await r.hget('mqtt:client:roamer', 'state')).toBe('1');
  });
});

describe.skipIf(!haveRedisCluster())('cluster channel gaps over a Redis Cluster', { timeout: 120000 }, () => {
  const fx = clusterPerTest('redis-cluster');

  it('the channel moves to another Redis node after its connection ends, and the routes announced meanwhile are loaded', async () => {
    // Node B's routes, its lease ({mqtt}) and its wills on three different masters: its
    // commands connection then reaches every master before the cut, and its announcements
    // (PUBLISH goes to any master) need no new connection meanwhile.
    const masters = (n: string): Set<number | undefined> => new Set([`mqtt:route:${n}`, '{mqtt}', `mqtt:cluster:will:${n}`].map((k) => fx.redis.masterOf(k)));
    let bName = '';
    for (let i = 2; i < 200 && bName === ''; i++) if (masters(`b${i}`).size === 3) bName = `b${i}`;
    expect(bName).not.toBe('');
    const [a, b] = await Promise.all([fx.node('n1'), fx.node(bName)]);
    const old = await b.connect({ clientId: 'old' });
    await old.subscribe('gone/#', 0);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, old, 'gone/probe');
    // A client leaving B: its will field is deleted (the wills' master, connected).
    (await b.connect({ clientId: 'passer' })).disconnect();
    await b.proc.waitForLine(/Client passer disconnected/);

    const rs = perNode(fx.redis.ports);
    const heard = await listen(fx.redis.client());

    await cutChannel(rs, 'n1');
    try {
      const fresh = await b.connect({ clientId: 'fresh' });
      await fresh.subscribe('new/#', 1);
      const announced = (): boolean => heard.some((e) => e.op === 'route' && e.node === bName && e.filter === 'new/#');
      expect(await until(announced, (v) => v, 15000)).toBe(true);
      expect(await subscriberOf(rs, 'n1')).toEqual([]);
      await restoreChannel(rs, 'n1');
      await reaches(pub, fresh, 'new/probe');
      pub.publish('new/t', 'after the gap', { qos: 1, messageId: 7 });
      expect((await pub.next('puback', 15000)).messageId).toBe(7);
      const m = await fresh.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'new/t', 15000, 'new/t');
      expect(String(m.payload)).toBe('after the gap');
    } finally {
      await uncut(rs);
    }
  });
});
