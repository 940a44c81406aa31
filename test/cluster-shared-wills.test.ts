/**
 * Issue 15: shared subscriptions spread each message to exactly one member of the group
 * across the whole cluster; the will of a client on a node killed with -9 is published
 * by a surviving node when the node's lease expires, and its clients marked offline.
 * Three broker processes on a real redis-server, and on a real Redis Cluster of three
 * masters (redis_cluster_nodes).
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { BACKENDS, clusterPerTest, reaches, tagOf } from './helpers/cluster.js';
import type { RawClient } from './helpers/raw-client.js';

const payloads = async (c: RawClient, topic: string): Promise<string[]> =>
  ((await c.sync()).filter((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic) as IPublishPacket[])
    .map((p) => String(p.payload))
    .filter((s) => s !== '__probe__');

for (const backend of BACKENDS) describe.skipIf(!backend.available())(`cluster shared subscriptions and wills, on ${backend.label}`, { timeout: 90000 }, () => {
  const fx = clusterPerTest(backend.kind);

  it('a $share group with members on three nodes gets each message once, spread over the nodes; plain subscribers still get all', async () => {
    const [a, b, c] = await fx.nodes(3);
    // Shared subscriptions are MQTT 5's (at 3.1.1 $share/... is an ordinary filter, as in Mosquitto 2.0).
    const members = [await a.connect({ clientId: 'ma', version: 5 }), await b.connect({ clientId: 'mb', version: 5 }), await c.connect({ clientId: 'mc', version: 5 })];
    for (const m of members) await m.subscribe('$share/g/jobs/+', 0);
    const plain = await b.connect({ clientId: 'plain' });
    await plain.subscribe('jobs/#', 0);
    const pub = await a.connect({ clientId: 'pub' });
    // Routes in place: the plain subscriber on B hears probes, and the group's routes are announced before.
    await reaches(pub, plain, 'jobs/probe');
    await new Promise((r) => setTimeout(r, 300));
    for (const m of members) await m.sync();
    await plain.sync();

    const n = 30;
    for (let i = 0; i < n; i++) pub.publish('jobs/x', `j${i}`, { qos: 0 });
    const seenPlain: string[] = [];
    while (seenPlain.length < n) {
      const p = await plain.waitFor<IPublishPacket>((x) => x.cmd === 'publish' && (x as IPublishPacket).topic === 'jobs/x', 5000);
      seenPlain.push(String(p.payload));
    }
    await new Promise((r) => setTimeout(r, 500));
    const got = await Promise.all(members.map((m) => payloads(m, 'jobs/x')));
    const all = got.flat().sort();
    expect(all).toEqual(Array.from({ length: n }, (_, i) => `j${i}`).sort());
    // Every node served some of them.
    for (const g of got) expect(g.length).toBeGreaterThan(0);
  });

  it('publishes the will of a client whose node was killed, once its lease expires', async () => {
    const [a, b] = await fx.nodes(2);
    const sub = await a.connect({ clientId: 'watch' });
    await sub.subscribe('wills/#', 1);
    await b.connect({ clientId: 'doomed', will: { topic: 'wills/doomed', payload: Buffer.from('gone'), qos: 1, retain: false } });
    const r = fx.redis.client();
    for (let i = 0; i < 100 && (await r.hexists('mqtt:cluster:will:n2', 'doomed')) === 0; i++) await new Promise((res) => setTimeout(res, 25));
    await b.proc.stop('SIGKILL');
    const w = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish', 15000);
    expect([w.topic, String(w.payload)]).toEqual(['wills/doomed', 'gone']);
    await a.proc.waitForLine(/Cluster: publishing the will of client doomed of dead node n2\./);
    expect(await r.exists('mqtt:cluster:will:n2')).toBe(0);
    // Its presence follows: offline, as the node can no longer say so.
    await a.proc.waitForLine(/Cluster: 1 client of dead node n2 marked offline\./);
    expect(await r.hget('mqtt', 'doomed')).toBe('offline');
    expect(await r.hget(`${tagOf(fx.redis)}mqtt:client:doomed`, 'state')).toBe('0');
  });
});
