/**
 * Issue 15, Redis restarted empty (a redis-server without persistence stopped and started
 * again, or every node of a Redis Cluster): every node rejoins and rewrites its routes, in
 * whatever order. Node A may read node B's routes (mqtt:route:<B>) before B has rewritten
 * them and find none: A must not forget B's routes then (what A acknowledges for B's
 * subscribers goes on to B's stream) and must read them again once B has rewritten them
 * (B says 'routes' on the channel).
 *
 * The bad order is made deterministic: both nodes are stopped (SIGSTOP) while Redis is
 * killed and started again, then A alone is resumed; the test watches Redis (MONITOR) until
 * A has read B's routes from the empty Redis twice (after its rejoin and after its channel
 * was subscribed again), publishes a QoS 1 message on A, and only then resumes B. The
 * nodes' lease is long (120 s) so that no lease watch runs during the test and reloads B's
 * routes by chance.
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import net from 'node:net';
import { BACKENDS, clusterPerTest, reaches, settle, tagOf, until, type Node } from './helpers/cluster.js';
import { RedisClusterServer } from './helpers/redis-cluster.js';

const isMsg = (topic: string) => (p: { cmd: string }) => p.cmd === 'publish' && (p as IPublishPacket).topic === topic;

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available())(`cluster: Redis restarted empty, nodes rejoining in any order (${backend.label})`, { timeout: 120000 }, () => {
    const fx = clusterPerTest(backend.kind);

    it("a node that read another's routes before that one rewrote them keeps routing to it, and reads them again", async () => {
      const extra = ['cluster_lease 120'];
      const [a, b] = await Promise.all([fx.node('n1', extra), fx.node('n2', extra)]);
      const sub = await b.connect({ clientId: 'sub', clean: false });
      await sub.subscribe('x/#', 1);
      const pub = await a.connect({ clientId: 'pub' });
      await reaches(pub, sub, 'x/probe');
      await settle(pub, sub, 'x/probe');

      const stopped = new Set<Node>();
      const pause = (n: Node): void => {
        n.proc.proc.kill('SIGSTOP');
        stopped.add(n);
      };
      const resume = (n: Node): void => {
        n.proc.proc.kill('SIGCONT');
        stopped.delete(n);
      };
      const routeKey = 'mqtt:route:n2';
      const port = fx.redis instanceof RedisClusterServer ? fx.redis.masterOf(routeKey)! : fx.redis.port;
      let monitor: net.Socket | undefined;
      let heard: { op: string; node: string }[] = [];
      try {
        pause(a);
        pause(b);
        await fx.redis.stop();
        await fx.redis.run();
        // Redis is empty now. Node B's route reads by node A, seen from the Redis that holds them.
        const reads: string[] = [];
        // MONITOR on a plain socket (ioredis's monitor mode can mistake a monitored line for
        // a reply: 'Command queue state error'); each line is +<time> [db addr] "cmd" "arg"...
        const mon = net.connect(port, '127.0.0.1');
        monitor = mon;
        mon.on('error', () => {});
        const wanted = new RegExp(`"hgetall" "${routeKey}"`, 'i');
        let pending = '';
        const monitoring = new Promise<void>((resolve) => {
          mon.on('data', (d: Buffer) => {
            pending += d.toString('latin1');
            let nl: number;
            while ((nl = pending.indexOf('\r\n')) !== -1) {
              const line = pending.slice(0, nl);
              pending = pending.slice(nl + 2);
              if (line === '+OK') resolve();
              else if (wanted.test(line)) reads.push(routeKey);
            }
          });
        });
        mon.write('MONITOR\r\n');
        await monitoring;
        expect(await fx.redis.client().exists(routeKey)).toBe(0);
        resume(a);
        // Its rejoin's read and its channel's resync read, both before B is back.
        expect(await until(() => reads.length, (n) => n >= 2, 30000)).toBeGreaterThanOrEqual(2);
        expect(await fx.redis.client().hexists(`${tagOf(fx.redis)}mqtt:node:n1`, '')).toBe(1);
        expect(await fx.redis.client().exists(routeKey)).toBe(0);

        // Acknowledged by A while B has not rejoined: it must reach B's subscriber once B is back.
        pub.publish('x/t', 'while B was away', { qos: 1, messageId: 11 });
        expect((await pub.next('puback', 30000)).messageId).toBe(11);

        // B rejoins and rewrites its routes; it says so on the channel.
        const ear = fx.redis.client();
        heard = [];
        ear.on('message', (_ch: string, m: string) => heard.push(JSON.parse(m) as (typeof heard)[number]));
        await ear.subscribe('mqtt:cluster');
        resume(b);
        expect(await until(() => fx.redis.client().hexists(routeKey, 'x/#'), (v) => v === 1, 30000)).toBe(1);
      } finally {
        monitor?.destroy();
        for (const n of [...stopped]) resume(n);
      }

      const held = await sub.waitFor<IPublishPacket>(isMsg('x/t'), 30000, 'x/t');
      expect(String(held.payload)).toBe('while B was away');
      // After both rejoined: A's publishes reach B's subscriber, a QoS 1 one acknowledged and delivered.
      await reaches(pub, sub, 'x/after-probe');
      pub.publish('x/after', 'after both rejoined', { qos: 1, messageId: 12 });
      expect((await pub.next('puback', 15000)).messageId).toBe(12);
      const m = await sub.waitFor<IPublishPacket>(isMsg('x/after'), 15000, 'x/after');
      expect(String(m.payload)).toBe('after both rejoined');
      // B said on the channel that it rewrote its routes.
      expect(heard.some((e) => e.op === 'routes' && e.node === 'n2')).toBe(true);
      // Nobody was declared dead: the lease watch played no part.
      expect(a.proc.lines.some((l) => l.includes('declared dead'))).toBe(false);
    });
  });
}
