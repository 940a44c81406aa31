/**
 * Issue 15, faults: Redis unreachable at start is a clear one-line error; Redis lost later
 * (killed and restarted empty) leaves local traffic going, holds a cross-node QoS 1
 * message (its PUBACK waits) and delivers it once Redis is back, after the nodes have
 * rejoined and rewritten their routes. Broker processes on a real redis-server.
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { haveRedis } from './helpers/redis-server.js';
import { clusterPerTest, nodeConf, outageClients, until } from './helpers/cluster.js';
import { runProgram } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';
import { get } from './helpers/observe.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic;

describe.skipIf(!haveRedis())('cluster and Redis outages', { timeout: 90000 }, () => {
  const fx = clusterPerTest();

  it('Redis unreachable at start: the node says so in one line and exits', async () => {
    const port = await freePort();
    const dead = await freePort();
    const p = await runProgram('ts', nodeConf('lonely', port, dead), { readyNow: true });
    await p.waitForLine(/Error: /, 30000);
    const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once('exit', r)));
    expect(code).not.toBe(0);
    expect(p.lines.find((l) => l.includes('Error: '))).toMatch(/Error: Cluster: unable to reach Redis at 127\.0\.0\.1:\d+\.$/);
  });

  it('Redis lost and back: local traffic goes on, a cross-node QoS 1 message is held and then delivered', async () => {
    const [a, b] = await fx.nodes(2);
    const { sub, pub, localSub } = await outageClients(a, b);
    await fx.redis.stop();
    await a.proc.waitForLine(/Warning: Lost connection to Redis/, 10000);
    pub.publish('l/t', 'local', { qos: 0 });
    expect(String((await localSub.waitFor<IPublishPacket>(isMsg('l/t'), 8000)).payload)).toBe('local');
    pub.publish('x/t', 'held', { qos: 1, messageId: 5 });
    await fx.redis.run();
    expect((await pub.next('puback', 20000)).messageId).toBe(5);
    const m = await sub.waitFor<IPublishPacket>(isMsg('x/t'), 20000);
    expect(String(m.payload)).toBe('held');
    // The nodes rejoined the empty Redis: leases and routes are back.
    const r = fx.redis.client();
    for (let i = 0; i < 200 && (await r.hexists('mqtt:route:n2', 'x/#')) === 0; i++) await new Promise((res) => setTimeout(res, 25));
    expect(await r.hexists('mqtt:node:n1', '')).toBe(1);
    expect(await r.hexists('mqtt:route:n2', 'x/#')).toBe(1);
  });

  it('/healthz of a cluster node: 200 while linked, 503 while Redis is lost, 200 again once it rejoined', async () => {
    const http = await freePort();
    const a = await fx.node('n1', [`listener ${http} 127.0.0.1`, 'protocol http']);
    const health = async (): Promise<number> => (await get(http, '/healthz')).status;
    expect(await until(health, (s) => s === 200)).toBe(200);
    await fx.redis.stop();
    await a.proc.waitForLine(/Warning: Lost connection to Redis/, 10000);
    expect(await until(health, (s) => s === 503)).toBe(503);
    expect((await get(http, '/healthz')).body).toBe('cluster: redis connection lost\n');
    // MQTT clients are still accepted meanwhile (local traffic goes on).
    await a.connect({ clientId: 'while-down' });
    await fx.redis.run();
    expect(await until(health, (s) => s === 200, 20000)).toBe(200);
    expect(await fx.redis.client().hexists('mqtt:node:n1', '')).toBe(1);
  });
});
