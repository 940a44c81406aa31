/**
 * Issue 15, routing: a publish on any node reaches every matching subscriber on every
 * node (QoS 0/1/2, wildcards, overlapping filters: one copy per subscription as on one
 * node), in publish order, and goes only to nodes whose routes match; PUBACK (and a
 * QoS 2 PUBREC) waits until the copy for a remote QoS>0 subscriber is in Redis. Three
 * broker processes on a real redis-server.
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { haveRedis } from './helpers/redis-server.js';
import { BACKENDS, clusterPerTest, reaches, settle, until, type ClusterFixture, type RedisBackend } from './helpers/cluster.js';
import type { RawClient } from './helpers/raw-client.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic && String((p as IPublishPacket).payload) !== '__probe__';

async function drain(c: RawClient): Promise<IPublishPacket[]> {
  return (await c.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
}

/** Entries ever added to a node's stream (Redis 7 XINFO STREAM entries-added). */
async function added(fx: ReturnType<typeof clusterPerTest>, node: string): Promise<number> {
  const info = (await fx.redis.client().call('XINFO', 'STREAM', `mqtt:stream:${node}`)) as unknown[];
  return Number(info[info.indexOf('entries-added') + 1]);
}

/** QoS 0, 1 and 2 from node A to a subscriber on node B: each once, each hop acknowledged. */
async function qosAcrossNodes(fx: ClusterFixture<RedisBackend>): Promise<void> {
  const [a, b] = await fx.nodes(2);
  const sub = await b.connect({ clientId: 'sub' });
  await sub.subscribe('q/#', 2);
  const pub = await a.connect({ clientId: 'pub' });
  await reaches(pub, sub, 'q/probe');
  await settle(pub, sub, 'q/probe'); // a probe still on its way would come before the PUBREL
  pub.publish('q/0', 'zero', { qos: 0 });
  pub.publish('q/1', 'one', { qos: 1, messageId: 11 });
  expect((await pub.next('puback')).messageId).toBe(11);
  pub.publish('q/2', 'two', { qos: 2, messageId: 12 });
  expect((await pub.next('pubrec')).messageId).toBe(12);
  pub.send({ cmd: 'pubrel', messageId: 12 });
  expect((await pub.next('pubcomp')).messageId).toBe(12);

  const m0 = await sub.waitFor<IPublishPacket>(isMsg('q/0'));
  expect([String(m0.payload), m0.qos]).toEqual(['zero', 0]);
  const m1 = await sub.waitFor<IPublishPacket>(isMsg('q/1'));
  expect([String(m1.payload), m1.qos]).toEqual(['one', 1]);
  sub.send({ cmd: 'puback', messageId: m1.messageId });
  const m2 = await sub.waitFor<IPublishPacket>(isMsg('q/2'));
  expect([String(m2.payload), m2.qos]).toEqual(['two', 2]);
  sub.send({ cmd: 'pubrec', messageId: m2.messageId });
  expect((await sub.next('pubrel')).messageId).toBe(m2.messageId);
  sub.send({ cmd: 'pubcomp', messageId: m2.messageId });
  // Nothing more: exactly one copy of each.
  expect((await drain(sub)).filter((p) => String(p.payload) !== '__probe__')).toEqual([]);
}

describe.skipIf(!haveRedis())('cluster routing', { timeout: 60000 }, () => {
  const fx = clusterPerTest();

  it('delivers QoS 0, 1 and 2 across nodes, each once, with each hop acknowledged', () => qosAcrossNodes(fx));

  it('one copy per matching subscription on every node, wildcards and overlaps as on one node', async () => {
    const [a, b, c] = await fx.nodes(3);
    const b1 = await b.connect({ clientId: 'b1' });
    await b1.subscribe([{ topic: 'w/+/x', qos: 0 }, { topic: 'w/#', qos: 0 }]);
    const b2 = await b.connect({ clientId: 'b2' });
    await b2.subscribe('w/a/x', 0);
    const c1 = await c.connect({ clientId: 'c1' });
    await c1.subscribe('+/a/#', 0);
    const a1 = await a.connect({ clientId: 'a1' });
    await a1.subscribe('w/a/x', 0);
    const pub = await a.connect({ clientId: 'pub' });
    for (const s of [b1, b2, c1]) await reaches(pub, s, 'w/a/x');
    await drain(a1);
    pub.publish('w/a/x', 'm', { qos: 0 });
    for (const s of [a1, b1, b2, c1]) {
      const got = await s.waitFor<IPublishPacket>(isMsg('w/a/x'));
      expect(String(got.payload)).toBe('m');
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const s of [a1, b1, b2, c1]) expect((await drain(s)).filter((p) => String(p.payload) === 'm')).toEqual([]);
  });

  it('forwards only to nodes with a matching route, and stops when the last subscriber leaves', async () => {
    const [a, b, c] = await fx.nodes(3);
    const r = fx.redis.client();
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('only/b', 1);
    await until(() => r.hget('mqtt:route:n2', 'only/b'), (v) => v === '1');
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, sub, 'only/b');
    // Probes still on their way would add entries to B's stream after toB is read.
    await settle(pub, sub, 'only/b');
    const toC = await added(fx, 'n3');
    const toB = await added(fx, 'n2');
    for (let i = 0; i < 20; i++) pub.publish('only/b', `m${i}`, { qos: 0 });
    pub.publish('elsewhere', 'x', { qos: 0 });
    for (let i = 0; i < 20; i++) expect(String((await sub.waitFor<IPublishPacket>(isMsg('only/b'))).payload)).toBe(`m${i}`);
    // One entry per node per turn (a batch), so at least one and at most one per message.
    const toBNow = await added(fx, 'n2');
    expect(toBNow).toBeGreaterThan(toB);
    expect(toBNow).toBeLessThanOrEqual(toB + 20);
    expect(await added(fx, 'n3')).toBe(toC);

    sub.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['only/b'] });
    await sub.waitFor((p) => p.cmd === 'unsuback', 3000, 'unsuback'); // probes may precede it
    expect(await until(() => r.hexists('mqtt:route:n2', 'only/b'), (v) => v === 0)).toBe(0);
    // The others hear it on the channel: a marker route on B proves the unroute arrived before it.
    await sub.subscribe('marker', 0);
    await reaches(pub, sub, 'marker');
    await settle(pub, sub, 'marker'); // a marker probe still on its way would be an entry after `before`
    const before = await added(fx, 'n2');
    pub.publish('only/b', 'late', { qos: 1, messageId: 3 });
    await pub.next('puback');
    expect(await added(fx, 'n2')).toBe(before);
    void c;
  });

  it('keeps publish order per publisher and topic, at QoS 0 and QoS 1', async () => {
    const [a, b] = await fx.nodes(2);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('o/t', 1);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, sub, 'o/t');
    const n = 200;
    for (let i = 0; i < n; i++) pub.publish('o/t', String(i), { qos: (i % 2) as 0 | 1, messageId: i + 1 });
    const got: string[] = [];
    while (got.length < n) {
      const m = await sub.waitFor<IPublishPacket>(isMsg('o/t'), 5000);
      if (m.qos === 1) sub.send({ cmd: 'puback', messageId: m.messageId });
      got.push(String(m.payload));
    }
    // The subscriber's inflight window lets QoS 0 pass queued QoS 1 (as on one node): each QoS keeps its order.
    const nums = got.map(Number);
    expect(nums.filter((i) => i % 2 === 0)).toEqual(Array.from({ length: n / 2 }, (_, i) => 2 * i));
    expect(nums.filter((i) => i % 2 === 1)).toEqual(Array.from({ length: n / 2 }, (_, i) => 2 * i + 1));
  });

  it('holds PUBACK until the copy for a remote QoS 1 subscriber is in Redis; local-only PUBACKs do not wait', async () => {
    const [a, b] = await fx.nodes(2);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('remote/t', 1);
    const pub = await a.connect({ clientId: 'pub' });
    const local = await a.connect({ clientId: 'local' });
    await reaches(pub, sub, 'remote/t');
    fx.redis.proc!.kill('SIGSTOP');
    try {
      pub.publish('remote/t', 'held', { qos: 1, messageId: 7 });
      local.publish('nobody/here', 'x', { qos: 1, messageId: 8 });
      expect((await local.next('puback')).messageId).toBe(8);
      // The local PUBACK went out after the held one would have: it is still held.
      expect(pub.inbox.filter((p) => p.cmd === 'puback')).toEqual([]);
    } finally {
      fx.redis.proc!.kill('SIGCONT');
    }
    expect((await pub.next('puback', 8000)).messageId).toBe(7);
    expect(String((await sub.waitFor<IPublishPacket>(isMsg('remote/t'), 8000)).payload)).toBe('held');
  });

  it('holds the PUBREC of a QoS 2 message until the copy for a remote QoS 1 subscriber is in Redis; each subscriber gets one copy', async () => {
    const [a, b] = await fx.nodes(2);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('two/t', 1);
    const here = await a.connect({ clientId: 'here' });
    await here.subscribe('two/t', 2);
    const pub = await a.connect({ clientId: 'pub' });
    const local = await a.connect({ clientId: 'local' });
    await reaches(pub, sub, 'two/t');
    await settle(pub, sub, 'two/t'); // probes still on their way would be copies of two/t at the end
    await drain(here);
    fx.redis.proc!.kill('SIGSTOP');
    try {
      pub.publish('two/t', 'exactly once', { qos: 2, messageId: 9 });
      await a.proc.waitForLine(/Received PUBLISH from pub \(d0, q2, r0, m9, 'two\/t'/, 8000);
      // A later round trip on node A: a PUBREC sent on receipt would have gone out before it.
      local.publish('nobody/here', 'x', { qos: 1, messageId: 8 });
      expect((await local.next('puback')).messageId).toBe(8);
      expect(pub.inbox.filter((p) => p.cmd === 'pubrec')).toEqual([]);
      expect(a.proc.lines.some((l) => l.includes('Sending PUBREC to pub (m9'))).toBe(false);
    } finally {
      fx.redis.proc!.kill('SIGCONT');
    }
    expect((await pub.next('pubrec', 8000)).messageId).toBe(9);
    pub.send({ cmd: 'pubrel', messageId: 9 });
    expect((await pub.next('pubcomp', 8000)).messageId).toBe(9);
    const m = await sub.waitFor<IPublishPacket>(isMsg('two/t'), 8000);
    expect([String(m.payload), m.qos]).toEqual(['exactly once', 1]);
    sub.send({ cmd: 'puback', messageId: m.messageId });
    const l = await here.waitFor<IPublishPacket>(isMsg('two/t'), 8000);
    expect([String(l.payload), l.qos]).toEqual(['exactly once', 2]);
    here.send({ cmd: 'pubrec', messageId: l.messageId });
    expect((await here.next('pubrel')).messageId).toBe(l.messageId);
    here.send({ cmd: 'pubcomp', messageId: l.messageId });
    // Nothing more on either node: the PUBREL did not forward it a second time.
    await new Promise((r) => setTimeout(r, 300));
    expect((await drain(sub)).filter((p) => p.topic === 'two/t')).toEqual([]);
    expect((await drain(here)).filter((p) => p.topic === 'two/t')).toEqual([]);
  });

  it('a QoS 2 PUBREC does not wait for Redis when the remote subscribers are QoS 0', async () => {
    const [a, b] = await fx.nodes(2);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('zero/t', 0);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, sub, 'zero/t');
    fx.redis.proc!.kill('SIGSTOP');
    try {
      pub.publish('zero/t', 'at most once there', { qos: 2, messageId: 4 });
      expect((await pub.next('pubrec')).messageId).toBe(4);
    } finally {
      fx.redis.proc!.kill('SIGCONT');
    }
    pub.send({ cmd: 'pubrel', messageId: 4 });
    expect((await pub.next('pubcomp', 8000)).messageId).toBe(4);
    const m = await sub.waitFor<IPublishPacket>(isMsg('zero/t'), 8000);
    expect([String(m.payload), m.qos]).toEqual(['at most once there', 0]);
  });
});

// The same on a Redis Cluster of three masters (redis_cluster_nodes).
describe.skipIf(!BACKENDS[1].available())('cluster routing, on a Redis Cluster', { timeout: 90000 }, () => {
  const fx = clusterPerTest('redis-cluster');

  it('delivers QoS 0, 1 and 2 across nodes, each once, with each hop acknowledged', () => qosAcrossNodes(fx));
});
