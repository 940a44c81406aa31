/**
 * Issue 15, redis_cluster_nodes: the option's bad input; then three broker processes on a
 * real Redis Cluster of three masters (started by the test, redis-cli --cluster create):
 * the key layout (keys used together in one slot), the Redis plugin's offline store,
 * subscription store, events and hooks, and the whole Redis Cluster lost and back (held
 * QoS 1, /healthz), with no CROSSSLOT error anywhere (every command Redis refused is
 * logged, and each master counts its errors; none may be CROSSSLOT). Routing, retained
 * messages, takeover, sessions resuming, shared subscriptions, wills and a node's loss run
 * on a Redis Cluster too: cluster-routing, cluster-sessions, cluster-shared-wills and
 * cluster-node-loss are parametrised over both kinds of Redis (helpers/cluster.ts BACKENDS).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { clusterPerTest, outageClients, reaches, until, type Node } from './helpers/cluster.js';
import { runProgram, stopPrograms } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';
import { get } from './helpers/observe.js';
import { haveRedisCluster } from './helpers/redis-cluster.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic && String((p as IPublishPacket).payload) !== '__probe__';

async function configError(lines: string[]): Promise<string> {
  const p = await runProgram('ts', lines, { readyNow: true });
  await p.waitForLine(/Error/, 30000);
  await new Promise((r) => (p.proc.exitCode !== null ? r(0) : p.proc.once('exit', r)));
  expect(p.proc.exitCode).not.toBe(0);
  return p.lines.filter((l) => l.includes('Error'))[0];
}

describe('redis_cluster_nodes options', { timeout: 30000 }, () => {
  afterEach(() => stopPrograms());

  it('refuses a node that is not host:port, in one line', async () => {
    expect(await configError(['redis_cluster_nodes 127.0.0.1:7000 nowhere'])).toMatch(/Error: Invalid redis_cluster_nodes value \(nowhere\): expected host:port\.$/);
    expect(await configError(['redis_cluster_nodes 127.0.0.1:70000'])).toMatch(/Error: Invalid redis_cluster_nodes value \(127\.0\.0\.1:70000\): expected host:port\.$/);
  });

  it('refuses redis_cluster_nodes together with redis_host, redis_port or redis_url', async () => {
    for (const other of ['redis_host 10.0.0.5', 'redis_port 6380', 'redis_url redis://10.0.0.5:6379']) {
      expect(await configError([other, 'redis_cluster_nodes 127.0.0.1:7000'])).toMatch(/Error: redis_cluster_nodes cannot be combined with redis_host, redis_port or redis_url\.$/);
    }
  });
});

describe.skipIf(!haveRedisCluster())('cluster over a Redis Cluster', { timeout: 120000 }, () => {
  const fx = clusterPerTest('redis-cluster');
  /** No node logged a refused command (a CROSSSLOT error would be one) nor a cluster error. */
  const clean = (nodes: Node[]): void => {
    for (const n of nodes) expect(n.proc.lines.filter((l) => /refused a command|CROSSSLOT|Error/.test(l))).toEqual([]);
    // Nor did Redis answer any command with CROSSSLOT (ioredis's own callers swallow some errors).
    expect(fx.redis.errorStats().CROSSSLOT ?? 0).toBe(0);
  };

  it('keeps the keys used together in one slot: the presence tag on leases, nodes and session mirrors', async () => {
    const [a, b] = await fx.nodes(2);
    const keys = fx.redis.allKeys();
    for (const k of ['{mqtt}mqtt:node:n1', '{mqtt}mqtt:node:n2', '{mqtt}mqtt:cluster:nodes', 'mqtt:stream:n1', 'mqtt:stream:n2']) expect(keys).toContain(k);
    expect(keys.filter((k) => k.startsWith('mqtt:node:') || k === 'mqtt:cluster:nodes')).toEqual([]);
    clean([a, b]);
  });

  it('the offline-message store, the subscription store, events and hooks work on the Redis Cluster', async () => {
    const [a, b] = await fx.nodes(2, ['redis_hook message.publish topic=h/# RPUSH pub:${topic} ${payload}']);
    const r = fx.redis.client();
    // pubsub store (a default rule): stored in the presence slot, replayed to a later subscriber on another node.
    const pub = await a.connect({ clientId: 'pub' });
    for (const [i, m] of ['m1', 'm2'].entries()) {
      pub.publish('pubsub/news', m, { qos: 1, messageId: i + 1 });
      await pub.next('puback', 8000);
    }
    expect(await until(() => r.zcard('{mqtt}mqtt:msg:pubsub/news'), (v) => v === 2)).toBe(2);
    const reader = await b.connect({ clientId: 'reader' });
    await reader.subscribe('pubsub/#', 1);
    const got: string[] = [];
    while (got.length < 2) {
      const m = await reader.waitFor<IPublishPacket>(isMsg('pubsub/news'), 8000);
      reader.send({ cmd: 'puback', messageId: m.messageId });
      got.push(String(m.payload));
    }
    expect(got).toEqual(['m1', 'm2']);
    // queue store (a default rule): claimed by one worker, removed once acknowledged; an
    // unacknowledged claim is given back (@release) when the worker goes away.
    for (const [i, m] of ['j1', 'j2'].entries()) {
      pub.publish('queue/jobs', m, { qos: 1, messageId: 20 + i });
      await pub.next('puback', 8000);
    }
    const ids = await until(() => r.zrange('{mqtt}mqtt:msg:queue/jobs', 0, -1), (v) => v.length === 2);
    const w1 = await b.connect({ clientId: 'w1' });
    await w1.subscribe('queue/jobs', 1);
    const j1 = await w1.waitFor<IPublishPacket>(isMsg('queue/jobs'), 8000);
    const j2 = await w1.waitFor<IPublishPacket>(isMsg('queue/jobs'), 8000);
    expect([String(j1.payload), String(j2.payload)]).toEqual(['j1', 'j2']);
    w1.send({ cmd: 'puback', messageId: j1.messageId });
    expect(await until(() => r.zrange('{mqtt}mqtt:msg:queue/jobs', 0, -1), (v) => v.length === 1)).toEqual([ids[1]]);
    expect(await until(() => r.hexists(`{mqtt}mqtt:msg:${ids[1]}`, 'owner'), (v) => v === 1)).toBe(1);
    w1.destroy();
    expect(await until(() => r.hexists(`{mqtt}mqtt:msg:${ids[1]}`, 'owner'), (v) => v === 0)).toBe(0);
    // The subscription store: SUBSCRIBE is recorded in mqtt:sub:<id>.
    expect(await until(() => r.hget('mqtt:sub:reader', 'pubsub/#'), (v) => v === '1')).toBe('1');
    expect(await until(() => r.get('{mqtt}mqtt:acked:reader:pubsub/news'), (v) => v !== null)).not.toBeNull();
    // A hook: its command goes to the master of its key's slot.
    pub.publish('h/x', 'hooked', { qos: 1, messageId: 9 });
    await pub.next('puback', 8000);
    expect(await until(() => r.lrange('pub:h/x', 0, -1), (v) => v.length === 1)).toEqual(['hooked']);
    // An event on mqtt_channel subscribes a connected client.
    const dev = await b.connect({ clientId: 'dev1' });
    await r.publish('mqtt_channel', JSON.stringify({ type: 'subscribe', topic: 'cmd/dev1', clientid: 'dev1', qos: 1 }));
    expect(await until(() => r.hget('mqtt:sub:dev1', 'cmd/dev1'), (v) => v === '1')).toBe('1');
    await reaches(pub, dev, 'cmd/dev1');
    // Presence: online, then offline by the @offline script (the mqtt hash and the client's key, one slot).
    expect(await r.hget('mqtt', 'dev1')).toBe('online');
    expect(await r.hget('{mqtt}mqtt:client:dev1', 'node')).toBe('n2');
    dev.disconnect();
    expect(await until(() => r.hget('mqtt', 'dev1'), (v) => v === 'offline')).toBe('offline');
    expect(await r.hget('{mqtt}mqtt:client:dev1', 'state')).toBe('0');
    clean([a, b]);
  });

  it('the Redis Cluster lost and back: local traffic goes on, /healthz says 503, a cross-node QoS 1 message is held and delivered', async () => {
    const http = await freePort();
    const [a, b] = await Promise.all([fx.node('n1', [`listener ${http} 127.0.0.1`, 'protocol http']), fx.node('n2')]);
    const health = async (): Promise<number> => (await get(http, '/healthz')).status;
    expect(await until(health, (s) => s === 200, 20000), 'healthy once joined').toBe(200);
    const { sub, pub, localSub } = await outageClients(a, b);
    await fx.redis.stop();
    expect(await until(health, (s) => s === 503, 20000), '503 while the Redis Cluster is away').toBe(503);
    pub.publish('l/t', 'local', { qos: 0 });
    expect(String((await localSub.waitFor<IPublishPacket>(isMsg('l/t'), 8000)).payload)).toBe('local');
    pub.publish('x/t', 'held', { qos: 1, messageId: 5 });
    await fx.redis.run();
    expect((await pub.next('puback', 30000)).messageId).toBe(5);
    expect(String((await sub.waitFor<IPublishPacket>(isMsg('x/t'), 30000)).payload)).toBe('held');
    expect(await until(health, (s) => s === 200, 30000), 'healthy again once rejoined').toBe(200);
    // Rejoined the empty cluster: the leases are back.
    const r = fx.redis.client();
    expect(await until(() => r.hexists('{mqtt}mqtt:node:n1', ''), (v) => v === 1)).toBe(1);
  });
});
