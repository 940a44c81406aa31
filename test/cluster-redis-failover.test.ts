/**
 * Issue 15, a Redis Cluster master failing over: three ts-mosquitto nodes on a Redis
 * Cluster of three masters with one replica each (cluster-node-timeout 1 s). The master
 * that serves the `{mqtt}` slot (leases, membership, session mirrors) and node B's stream
 * is killed (kill -9 by pid) while node B is stopped (SIGSTOP: what node A acknowledged
 * for B's subscriber waits in B's stream, in Redis); its replica is promoted; the nodes go
 * on: what was acknowledged before is delivered on every node, a message published during
 * the failover is acknowledged once the promoted replica has it and delivered, and one
 * published after it (to a subscription made after it too) is delivered; /healthz stays
 * 200 (the links to the Redis Cluster stay up; only the dead master's slots wait); no node
 * is declared dead, even when the failover outlasts cluster_lease and every lease lapses
 * meanwhile (each node takes its own again).
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { clusterPerTest, reaches, settle, until } from './helpers/cluster.js';
import { freePort } from './helpers/mosquitto.js';
import { get } from './helpers/observe.js';
import type { RawClient } from './helpers/raw-client.js';
import { haveRedisCluster } from './helpers/redis-cluster.js';

/** The next `n` payloads published on `topic` to `c`, each acknowledged. */
async function collect(c: RawClient, topic: string, n: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n) {
    const m = await c.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic, 30000, `${topic} #${got.length + 1}`);
    got.push(String(m.payload));
    if (m.qos > 0) c.send({ cmd: 'puback', messageId: m.messageId });
  }
  return got;
}

describe.skipIf(!haveRedisCluster())('cluster over a Redis Cluster whose master fails over', { timeout: 120000 }, () => {
  const fx = clusterPerTest('redis-cluster', { replicas: 1, nodeTimeoutMs: 1000 });

  it('goes on through a failover of the {mqtt} master: nothing acknowledged is lost, later messages are delivered, /healthz stays 200', async () => {
    const tagged = fx.redis.masterOf('{mqtt}')!;
    expect(tagged).toBeDefined();
    // Node B's stream on that master too, so that the failover moves what waits for B.
    let bName = '';
    for (let i = 2; i < 100 && bName === ''; i++) if (fx.redis.masterOf(`mqtt:stream:b${i}`) === tagged) bName = `b${i}`;
    expect(bName).not.toBe('');
    const http = [await freePort(), await freePort(), await freePort()];
    // A lease well beyond the failover (about 2 s here): no node may be declared dead meanwhile.
    const extra = (i: number): string[] => [`listener ${http[i]} 127.0.0.1`, 'protocol http', 'cluster_lease 20'];
    const [a, b, c] = await Promise.all([fx.node('n1', extra(0)), fx.node(bName, extra(1)), fx.node('n3', extra(2))]);
    const health = (i: number) => async (): Promise<number> => (await get(http[i], '/healthz').catch(() => ({ status: 0 }))).status;
    for (let i = 0; i < 3; i++) expect(await until(health(i), (s) => s === 200)).toBe(200);

    const subB = await b.connect({ clientId: 'subB' });
    await subB.subscribe('fo/#', 1);
    const subC = await c.connect({ clientId: 'subC' });
    await subC.subscribe('fo/#', 1);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, subB, 'fo/probe');
    await reaches(pub, subC, 'fo/probe');
    await settle(pub, subB, 'fo/probe');
    await settle(pub, subC, 'fo/probe');

    // Node B reads nothing meanwhile: what A acknowledges for B's subscriber is in Redis only.
    b.proc.proc.kill('SIGSTOP');
    const during: number[] = [];
    try {
      for (let i = 1; i <= 5; i++) {
        pub.publish('fo/m', `before${i}`, { qos: 1, messageId: i });
        expect((await pub.next('puback', 8000)).messageId).toBe(i);
      }
      // Acknowledged means written to the master; Redis replicates asynchronously, and what
      // a master acknowledged in the instant before it died may be lost with it (Redis
      // Cluster's guarantee, not ours): the kill comes once the replica has it all.
      expect(await until(() => fx.redis.replicated(tagged), (ok) => ok)).toBe(true);
      await fx.redis.kill(tagged);
      // Published while the slot has no master: acknowledged once the promoted replica has it.
      pub.publish('fo/m', 'during', { qos: 1, messageId: 6 });
      const promoted = await until(
        async () => {
          during.push(await health(0)(), await health(2)());
          return fx.redis.masterOf('{mqtt}');
        },
        (p) => p !== undefined && p !== tagged,
        30000,
      );
      expect(promoted).not.toBe(tagged);
      await fx.redis.waitOk(30000);
      expect((await pub.next('puback', 30000)).messageId).toBe(6);
    } finally {
      b.proc.proc.kill('SIGCONT');
    }
    // /healthz stayed 200 meanwhile: the nodes' links to the Redis Cluster stay up through a
    // failover (only the slots of the dead master wait), unlike a Redis lost (503).
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((s) => s !== 200)).toEqual([]);
    for (let i = 0; i < 3; i++) expect(await until(health(i), (s) => s === 200, 30000)).toBe(200);

    // Nothing acknowledged is lost, on the node that read it after the failover and on the other.
    const expected = ['before1', 'before2', 'before3', 'before4', 'before5', 'during'];
    expect(await collect(subB, 'fo/m', 6)).toEqual(expected);
    expect(await collect(subC, 'fo/m', 6)).toEqual(expected);

    // After it: a cross-node QoS 1 message, and one to a subscription made after it (its
    // route announced on the channel, which may have moved to another Redis node).
    pub.publish('fo/m', 'after', { qos: 1, messageId: 7 });
    expect((await pub.next('puback', 15000)).messageId).toBe(7);
    expect(await collect(subB, 'fo/m', 1)).toEqual(['after']);
    expect(await collect(subC, 'fo/m', 1)).toEqual(['after']);
    const late = await c.connect({ clientId: 'late' });
    await late.subscribe('late/#', 1);
    await reaches(pub, late, 'late/probe');
    pub.publish('late/t', 'late', { qos: 1, messageId: 8 });
    expect((await pub.next('puback', 15000)).messageId).toBe(8);
    expect(await collect(late, 'late/t', 1)).toEqual(['late']);

    // Exactly once: nothing more came.
    for (const s of [subB, subC]) expect((await s.sync()).filter((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'fo/m')).toEqual([]);
    for (const n of [a, b, c]) expect(n.proc.lines.filter((l) => /declared dead|Error/.test(l))).toEqual([]);
  });

  it('a failover longer than cluster_lease lets every lease lapse: no node is declared dead, each takes its lease again and routes go on', async () => {
    // A lease of 2 s, renewed every 0.7 s: the failover (about 2.5 s) outlasts it.
    const [a, b, c] = await fx.nodes(3, ['cluster_lease 2']);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('lapse/#', 1);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, sub, 'lapse/probe');
    await settle(pub, sub, 'lapse/probe');
    const tagged = fx.redis.masterOf('{mqtt}')!;
    await fx.redis.kill(tagged);
    await until(() => fx.redis.masterOf('{mqtt}'), (p) => p !== undefined && p !== tagged, 30000);
    await fx.redis.waitOk(30000);
    // Leases lapsed meanwhile (at least one: the last renewals came up to 0.7 s before the kill), and were taken again.
    const lapsed = (): number => [a, b, c].filter((n) => n.proc.lines.some((l) => /Warning: Cluster: the lease of \w+ had lapsed \(Redis could not renew it for 2 s\); taken again\./.test(l))).length;
    expect(await until(lapsed, (n) => n >= 1, 15000)).toBeGreaterThanOrEqual(1);
    const r = fx.redis.client();
    expect(await until(async () => (await r.smembers('{mqtt}mqtt:cluster:nodes')).sort(), (m) => m.length === 3, 15000)).toEqual(['n1', 'n2', 'n3']);
    pub.publish('lapse/t', 'after', { qos: 1, messageId: 1 });
    expect((await pub.next('puback', 15000)).messageId).toBe(1);
    expect(await collect(sub, 'lapse/t', 1)).toEqual(['after']);
    // Two more leases: a node wrongly judged would be declared dead by now.
    await new Promise((res) => setTimeout(res, 4000));
    for (const n of [a, b, c]) expect(n.proc.lines.filter((l) => /declared dead/.test(l))).toEqual([]);
    expect((await r.smembers('{mqtt}mqtt:cluster:nodes')).sort()).toEqual(['n1', 'n2', 'n3']);
  });
});
