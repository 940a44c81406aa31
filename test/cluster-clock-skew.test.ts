/**
 * Issue 15, faults: a node's clock skewed. Three broker processes on a real redis-server,
 * two of them with their wall clock an hour ahead and an hour behind (libfaketime
 * preloaded; their timers run true). Leases are Redis TTLs, so over several leases no node
 * is declared dead; a node that really dies is declared dead by the skewed ones; and a
 * message expiry crosses nodes on Redis's clock, so a message with a minute left is
 * neither dropped nor kept an hour too long by a skewed node.
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { haveRedis } from './helpers/redis-server.js';
import { clusterPerTest, haveFaketime, reaches, until, type Node } from './helpers/cluster.js';
import type { RawClient } from './helpers/raw-client.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic;

/** Publishes `topic` at QoS 1 with a message expiry interval of 60 s (MQTT 5). */
function publishExpiring(c: RawClient, topic: string, payload: string, messageId: number): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, messageId, properties: { messageExpiryInterval: 60 } } as IPublishPacket);
}

describe.skipIf(!haveRedis() || !haveFaketime())('cluster with a node clock skewed', { timeout: 90000 }, () => {
  const fx = clusterPerTest();

  it('declares no node dead wrongly, still declares a dead one dead, and carries message expiry on Redis clock', async () => {
    const [n1, ahead, behind]: Node[] = await Promise.all([
      fx.node('n1'),
      fx.node('ahead', [], undefined, { skew: '+1h' }),
      fx.node('behind', [], undefined, { skew: '-1h' }),
    ]);
    // The skew is real: the nodes' log timestamps (unix seconds) are an hour apart.
    const stamp = (n: Node): number => Number(/^(\d+):/.exec(n.proc.lines.find((l) => /^\d+: /.test(l)) ?? '')?.[1]);
    expect(stamp(ahead) - stamp(n1)).toBeGreaterThan(3000);
    expect(stamp(n1) - stamp(behind)).toBeGreaterThan(3000);

    // Expiry across nodes, both ways: behind -> n1 and n1 -> ahead.
    const onN1 = await n1.connect({ clientId: 'on-n1', version: 5 });
    await onN1.subscribe('e/#', 1);
    const onAhead = await ahead.connect({ clientId: 'on-ahead', version: 5 });
    await onAhead.subscribe('f/#', 1);
    const fromBehind = await behind.connect({ clientId: 'from-behind', version: 5 });
    const fromN1 = await n1.connect({ clientId: 'from-n1', version: 5 });
    await reaches(fromBehind, onN1, 'e/probe');
    await reaches(fromN1, onAhead, 'f/probe');
    publishExpiring(fromBehind, 'e/t', 'from-behind', 7);
    publishExpiring(fromN1, 'f/t', 'from-n1', 8);
    for (const [sub, topic, payload] of [[onN1, 'e/t', 'from-behind'], [onAhead, 'f/t', 'from-n1']] as const) {
      const m = await sub.waitFor<IPublishPacket>(isMsg(topic), 8000);
      expect(String(m.payload)).toBe(payload);
      // The minute left, not an hour more or less. Each node knows Redis's clock to within
      // half a TIME round trip, so on a loaded machine a second or so either way.
      const left = m.properties?.messageExpiryInterval ?? 0;
      expect(left).toBeGreaterThan(50);
      expect(left).toBeLessThanOrEqual(65);
    }

    // Over more than three leases (3 s each) nobody is declared dead.
    await new Promise((r) => setTimeout(r, 10_000));
    for (const n of [n1, ahead, behind]) expect(n.proc.lines.filter((l) => l.includes('declared dead'))).toEqual([]);
    expect((await fx.redis.client().smembers('mqtt:cluster:nodes')).sort()).toEqual(['ahead', 'behind', 'n1']);

    // A node that really dies is declared dead, by the skewed nodes too.
    await n1.proc.stop('SIGKILL');
    for (const n of [ahead, behind]) await n.proc.waitForLine(/Cluster node n1 declared dead \(lease expired\)\.$/, 15000);
    expect(await until(() => fx.redis.client().smembers('mqtt:cluster:nodes'), (v) => v.length === 2)).toHaveLength(2);
  });
});
