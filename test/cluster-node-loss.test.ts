/**
 * Issue 15, sessions when a node goes: a persistent session held by a node that is killed
 * (kill -9) or shut down is taken over by a surviving node with its subscriptions and the
 * QoS 1 messages acknowledged to their publishers (queued there, or still in the lost
 * node's stream), and the client resumes it on any node. Three broker processes on a
 * real redis-server, and (kill -9) on a real Redis Cluster of three masters.
 */
import { describe, expect, it } from 'vitest';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { haveRedis } from './helpers/redis-server.js';
import { haveRedisCluster } from './helpers/redis-cluster.js';
import { clusterPerTest, reaches, tagOf, until, type ClusterFixture, type Node, type RedisBackend } from './helpers/cluster.js';
import { RawClient } from './helpers/raw-client.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic;

async function scenario(fx: ClusterFixture<RedisBackend>, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const [a, b, c] = await fx.nodes(3);
  const onB = await b.connect({ clientId: 'sticky', clean: false });
  await onB.subscribe('d/#', 1);
  const pub = await a.connect({ clientId: 'pub' });
  await reaches(pub, onB, 'd/probe');
  onB.disconnect();
  await b.proc.waitForLine(/Client sticky disconnected/);
  pub.publish('d/t', 'before', { qos: 1, messageId: 1 });
  await pub.next('puback');
  const r = fx.redis.client();
  // Queued on B and mirrored in Redis.
  await until(() => r.hlen(`${tagOf(fx.redis)}mqtt:cluster:queue:sticky`), (v) => v === 1);
  await b.proc.stop(signal);
  if (signal === 'SIGKILL') {
    // B's routes still stand until its lease expires: this one waits in B's stream.
    pub.publish('d/t', 'while-dying', { qos: 1, messageId: 2 });
    await pub.next('puback', 8000);
  }
  const how = signal === 'SIGKILL' ? 'dead' : 'left';
  const survivors: Node[] = [a, c];
  const line = await Promise.any(survivors.map((n) => n.proc.waitForLine(new RegExp(`Cluster: took over 1 persistent session of ${how} node n2\\.`), 15000)));
  expect(line).toBeTruthy();
  const sub = await RawClient.open(c.port);
  const connack = (await sub.handshake({ clientId: 'sticky', clean: false })) as IConnackPacket;
  expect(connack.sessionPresent).toBe(true);
  await reaches(pub, sub, 'd/probe');
  pub.publish('d/t', 'after', { qos: 1, messageId: 3 });
  const want = signal === 'SIGKILL' ? ['before', 'while-dying', 'after'] : ['before', 'after'];
  const got: string[] = [];
  while (got.length < want.length) {
    const m = await sub.waitFor<IPublishPacket>(isMsg('d/t'), 8000);
    expect(m.qos).toBe(1);
    sub.send({ cmd: 'puback', messageId: m.messageId });
    got.push(String(m.payload));
  }
  expect(got).toEqual(want);
  sub.destroy();
}

describe.skipIf(!haveRedis())('cluster: persistent sessions of a lost node', { timeout: 90000 }, () => {
  const fx = clusterPerTest();

  it('kill -9: a survivor takes the sessions over with their queued messages and what the node\'s stream held', async () => {
    await scenario(fx, 'SIGKILL');
  });

  it('shutdown: a survivor takes the persistent sessions over', async () => {
    await scenario(fx, 'SIGTERM');
  });
});

describe.skipIf(!haveRedisCluster())('cluster over a Redis Cluster: persistent sessions of a lost node', { timeout: 90000 }, () => {
  const fx = clusterPerTest('redis-cluster');

  it('kill -9: a survivor takes the sessions over with their queued messages and what the node\'s stream held', async () => {
    await scenario(fx, 'SIGKILL');
  });
});
