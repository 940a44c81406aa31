/**
 * Issue 15, retained messages and sessions across nodes: retained messages set, replaced
 * and cleared on any node and delivered on subscribe on any node; a client id connected
 * at most once in the cluster (takeover closes the old connection, MQTT 5 0x8E); a
 * persistent session resuming on another node with its subscriptions and the QoS 1
 * messages queued for it. Three broker processes on a real redis-server, and on a real
 * Redis Cluster of three masters (redis_cluster_nodes).
 */
import { describe, expect, it } from 'vitest';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import { BACKENDS, clusterPerTest, reaches, tagOf, until } from './helpers/cluster.js';
import { RawClient } from './helpers/raw-client.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic && String((p as IPublishPacket).payload) !== '__probe__';

for (const backend of BACKENDS) describe.skipIf(!backend.available())(`cluster retained messages and sessions, on ${backend.label}`, { timeout: 90000 }, () => {
  const fx = clusterPerTest(backend.kind);

  it('a retained message set, replaced or cleared on any node is what a subscriber on any node gets', async () => {
    const [a, b, c] = await fx.nodes(3);
    const r = fx.redis.client();
    const pa = await a.connect({ clientId: 'pa' });
    pa.publish('r/t', 'first', { qos: 1, retain: true, messageId: 1 });
    await pa.next('puback');
    await until(() => r.hget('mqtt:retain:r/t', 'payload'), (v) => v === 'first');
    const getRetained = async (node: typeof a, id: string): Promise<string | null> => {
      const s = await node.connect({ clientId: id });
      await s.subscribe('r/t', 0);
      const got = (await s.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
      s.disconnect();
      return got.length === 0 ? null : `${String(got[0].payload)}${got[0].retain ? ' (r)' : ''}`;
    };
    expect(await until(() => getRetained(b, 'sb1'), (v) => v === 'first (r)')).toBe('first (r)');

    const pc = await c.connect({ clientId: 'pc' });
    pc.publish('r/t', 'second', { qos: 0, retain: true });
    expect(await until(() => getRetained(a, 'sa1'), (v) => v === 'second (r)')).toBe('second (r)');
    expect(await until(() => getRetained(b, 'sb2'), (v) => v === 'second (r)')).toBe('second (r)');

    const pb = await b.connect({ clientId: 'pb' });
    pb.publish('r/t', '', { qos: 0, retain: true });
    expect(await until(() => getRetained(c, 'sc1'), (v) => v === null)).toBe(null);
    expect(await until(() => getRetained(a, 'sa2'), (v) => v === null)).toBe(null);

    // A node that joins later has them too (mqtt:retain:*).
    pa.publish('r/t', 'third', { qos: 1, retain: true, messageId: 2 });
    await pa.next('puback');
    await until(() => r.hget('mqtt:retain:r/t', 'payload'), (v) => v === 'third');
    const d = await fx.node('n4');
    expect(await getRetained(d, 'sd1')).toBe('third (r)');
  });

  it('connecting on another node closes the connection on the first: MQTT 5 DISCONNECT 0x8E, 3.1.1 closed', async () => {
    const [a, b, c] = await fx.nodes(3);
    const first = await a.connect({ clientId: 'dev', version: 5 });
    await b.connect({ clientId: 'dev', version: 5 });
    const d = await first.waitFor<IDisconnectPacket>((p) => p.cmd === 'disconnect', 5000);
    expect(d.reasonCode).toBe(0x8e);
    await first.closed;
    await a.proc.waitForLine(/Cluster: client dev connected on node n2, closing old connection\./);

    const old = await b.connect({ clientId: 'dev3' });
    await c.connect({ clientId: 'dev3' });
    await old.closed;
    expect(old.inbox.filter((p) => p.cmd === 'disconnect')).toEqual([]);
    // Presence names the node that holds the client now.
    const r = fx.redis.client();
    expect(await until(() => r.hget(`${tagOf(fx.redis)}mqtt:client:dev3`, 'node'), (v) => v === 'n3')).toBe('n3');
  });

  it('a persistent session resumes on another node with its subscriptions and the QoS 1 messages queued for it', async () => {
    const [a, b, c] = await fx.nodes(3);
    const onA = await a.connect({ clientId: 'roamer', clean: false });
    await onA.subscribe('p/#', 1);
    const pub = await c.connect({ clientId: 'pub' });
    await reaches(pub, onA, 'p/probe');
    onA.disconnect();
    await a.proc.waitForLine(/Client roamer disconnected/);
    for (let i = 0; i < 3; i++) {
      pub.publish('p/t', `queued${i}`, { qos: 1, messageId: i + 1 });
      await pub.next('puback');
    }
    // Queued on A, the session's node, whose route still stands.

    const { client: onB, connack } = await RawClient.connect(b.port, { clientId: 'roamer', clean: false });
    expect((connack as IConnackPacket).sessionPresent).toBe(true);
    for (let i = 0; i < 3; i++) {
      const m = await onB.waitFor<IPublishPacket>(isMsg('p/t'), 5000);
      expect([String(m.payload), m.qos]).toEqual([`queued${i}`, 1]);
      onB.send({ cmd: 'puback', messageId: m.messageId });
    }
    // Live messages now come to B, and A has forgotten the session.
    await reaches(pub, onB, 'p/probe');
    pub.publish('p/t', 'live', { qos: 1, messageId: 9 });
    expect(String((await onB.waitFor<IPublishPacket>(isMsg('p/t'), 5000)).payload)).toBe('live');
    const r = fx.redis.client();
    expect(await until(() => r.hexists('mqtt:route:n1', 'p/#'), (v) => v === 0)).toBe(0);
    onB.destroy();
  });
});
