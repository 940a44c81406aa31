/**
 * Issue 15, redis_cluster_nodes: the cluster over a real Redis Cluster of three masters
 * (started by the test, redis-cli --cluster create), three broker processes: cross-node
 * routing at QoS 0/1/2, retained messages, a persistent session resuming on another node
 * with what was queued for it, takeover, a shared subscription served once, a killed
 * node's will and presence, and the Redis plugin's presence, subscription store, offline
 * store, events and hooks, the whole Redis Cluster lost and back (held QoS 1, /healthz),
 * with no CROSSSLOT error anywhere (every command Redis refused
 * is logged; none may be). The option's bad input is tested first. (A killed node's
 * persistent sessions: cluster-node-loss.test.ts runs its kill -9 case here too.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { clusterPerTest, reaches, until, type Node } from './helpers/cluster.js';
import { runProgram, stopPrograms } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';
import { get } from './helpers/observe.js';
import { RawClient } from './helpers/raw-client.js';
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

  it('routes QoS 0, 1 and 2 across nodes and shares retained messages', async () => {
    const [a, b, c] = await fx.nodes(3);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('q/#', 2);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, sub, 'q/probe');
    pub.publish('q/0', 'zero', { qos: 0 });
    pub.publish('q/1', 'one', { qos: 1, messageId: 11 });
    expect((await pub.next('puback', 8000)).messageId).toBe(11);
    pub.publish('q/2', 'two', { qos: 2, messageId: 12 });
    expect((await pub.next('pubrec', 8000)).messageId).toBe(12);
    pub.send({ cmd: 'pubrel', messageId: 12 });
    expect((await pub.next('pubcomp', 8000)).messageId).toBe(12);
    for (const [t, payload, qos] of [['q/0', 'zero', 0], ['q/1', 'one', 1], ['q/2', 'two', 2]] as const) {
      const m = await sub.waitFor<IPublishPacket>(isMsg(t), 8000);
      expect([String(m.payload), m.qos]).toEqual([payload, qos]);
      if (qos === 1) sub.send({ cmd: 'puback', messageId: m.messageId });
      if (qos === 2) {
        sub.send({ cmd: 'pubrec', messageId: m.messageId });
        await sub.next('pubrel');
        sub.send({ cmd: 'pubcomp', messageId: m.messageId });
      }
    }
    // Retained: set on A, seen by a subscriber arriving on C.
    pub.publish('r/t', 'kept', { qos: 1, retain: true, messageId: 13 });
    await pub.next('puback', 8000);
    const late = await c.connect({ clientId: 'late' });
    const got = await until(async () => {
      await late.subscribe('r/#', 0, 2);
      return (await late.sync()).find(isMsg('r/t')) as IPublishPacket | undefined;
    }, (m) => m !== undefined);
    expect(String(got!.payload)).toBe('kept');
    expect(await fx.redis.client().hget('mqtt:retain:r/t', 'payload')).toBe('kept');
    clean([a, b, c]);
  });

  it('takes a session over, resumes it on another node with what was queued, and serves a shared subscription once', async () => {
    const [a, b, c] = await fx.nodes(3);
    const first = await b.connect({ clientId: 'sticky', clean: false });
    await first.subscribe('d/#', 1);
    const pub = await a.connect({ clientId: 'pub' });
    await reaches(pub, first, 'd/probe');
    // Presence and the subscription store, on the Redis Cluster: the client key carries the presence hash's tag.
    const r = fx.redis.client();
    expect(await until(() => r.hget('{mqtt}mqtt:client:sticky', 'node'), (v) => v === 'n2')).toBe('n2');
    expect(await r.hget('mqtt', 'sticky')).toBe('online');
    expect(await r.hget('mqtt:sub:sticky', 'd/#')).toBe('1');
    first.disconnect();
    await b.proc.waitForLine(/Client sticky disconnected/);
    expect(await until(() => r.hget('mqtt', 'sticky'), (v) => v === 'offline')).toBe('offline');
    pub.publish('d/t', 'queued', { qos: 1, messageId: 1 });
    await pub.next('puback', 8000);
    await until(() => r.hlen('{mqtt}mqtt:cluster:queue:sticky'), (v) => v === 1);
    // Back on C: session present, the queued message follows.
    const again = await RawClient.open(c.port);
    const connack = (await again.handshake({ clientId: 'sticky', clean: false })) as IConnackPacket;
    expect(connack.sessionPresent).toBe(true);
    const m = await again.waitFor<IPublishPacket>(isMsg('d/t'), 8000);
    expect(String(m.payload)).toBe('queued');
    again.send({ cmd: 'puback', messageId: m.messageId });
    // Takeover: the same id on A closes the connection on C.
    const third = await a.connect({ clientId: 'sticky', clean: false });
    await again.closed;
    expect(await until(() => r.hget('{mqtt}mqtt:client:sticky', 'node'), (v) => v === 'n1')).toBe('n1');
    third.disconnect();

    // A shared subscription with a member on each node: each message to exactly one of them.
    const members: RawClient[] = [];
    for (const [i, n] of [a, b, c].entries()) {
      const s = await n.connect({ clientId: `m${i}`, version: 5 });
      await s.subscribe('$share/g/s/#', 1);
      members.push(s);
    }
    const spub = await a.connect({ clientId: 'spub' });
    for (const n of ['n1', 'n2', 'n3']) await until(() => r.hexists(`mqtt:route:${n}`, '$share/g/s/#'), (v) => v === 1);
    await new Promise((res) => setTimeout(res, 300));
    for (let i = 1; i <= 30; i++) {
      spub.publish('s/t', `m${i}`, { qos: 1, messageId: i });
      await spub.next('puback', 8000);
    }
    await new Promise((res) => setTimeout(res, 1500));
    const got: string[] = [];
    for (const s of members) {
      for (const p of await s.sync()) if (p.cmd === 'publish' && (p as IPublishPacket).topic === 's/t') got.push(String((p as IPublishPacket).payload));
    }
    expect(got.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`).sort());
    clean([a, b, c]);
  });

  it('keeps the keys used together in one slot: the presence tag on leases, nodes and session mirrors', async () => {
    const [a, b] = await fx.nodes(2);
    const keys = fx.redis.allKeys();
    for (const k of ['{mqtt}mqtt:node:n1', '{mqtt}mqtt:node:n2', '{mqtt}mqtt:cluster:nodes', 'mqtt:stream:n1', 'mqtt:stream:n2']) expect(keys).toContain(k);
    expect(keys.filter((k) => k.startsWith('mqtt:node:') || k === 'mqtt:cluster:nodes')).toEqual([]);
    clean([a, b]);
  });

  it('a node killed: its client marked offline and its will published by a survivor', async () => {
    const [a, b] = await fx.nodes(2);
    const r = fx.redis.client();
    const watcher = await a.connect({ clientId: 'watcher' });
    await watcher.subscribe('wills/#', 1);
    await b.connect({ clientId: 'doomed', will: { topic: 'wills/doomed', payload: Buffer.from('gone'), qos: 1, retain: false } });
    await until(() => r.hexists('mqtt:cluster:will:n2', 'doomed'), (v) => v === 1);
    expect(await until(() => r.hget('mqtt', 'doomed'), (v) => v === 'online')).toBe('online');
    await b.proc.stop('SIGKILL');
    const w = await watcher.waitFor<IPublishPacket>(isMsg('wills/doomed'), 15000);
    expect(String(w.payload)).toBe('gone');
    await a.proc.waitForLine(/Cluster: 1 client of dead node n2 marked offline\./, 5000);
    expect(await r.hget('mqtt', 'doomed')).toBe('offline');
    expect(await r.hget('{mqtt}mqtt:client:doomed', 'state')).toBe('0');
    clean([a]);
  });

  it('the offline-message store, events and hooks work on the Redis Cluster', async () => {
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
    clean([a, b]);
  });

  it('the Redis Cluster lost and back: local traffic goes on, /healthz says 503, a cross-node QoS 1 message is held and delivered', async () => {
    const http = await freePort();
    const [a, b] = await Promise.all([fx.node('n1', [`listener ${http} 127.0.0.1`, 'protocol http']), fx.node('n2')]);
    const health = async (): Promise<number> => (await get(http, '/healthz')).status;
    expect(await until(health, (s) => s === 200)).toBe(200);
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('x/#', 1);
    const pub = await a.connect({ clientId: 'pub' });
    const localSub = await a.connect({ clientId: 'local-sub' });
    await localSub.subscribe('l/#', 0);
    await reaches(pub, sub, 'x/probe');
    await fx.redis.stop();
    expect(await until(health, (s) => s === 503, 15000)).toBe(503);
    pub.publish('l/t', 'local', { qos: 0 });
    expect(String((await localSub.waitFor<IPublishPacket>(isMsg('l/t'), 8000)).payload)).toBe('local');
    pub.publish('x/t', 'held', { qos: 1, messageId: 5 });
    await fx.redis.run();
    expect((await pub.next('puback', 30000)).messageId).toBe(5);
    expect(String((await sub.waitFor<IPublishPacket>(isMsg('x/t'), 30000)).payload)).toBe('held');
    expect(await until(health, (s) => s === 200, 30000)).toBe(200);
    // Rejoined the empty cluster: the leases are back.
    const r = fx.redis.client();
    expect(await until(() => r.hexists('{mqtt}mqtt:node:n1', ''), (v) => v === 1)).toBe(1);
  });
});
