/**
 * Issue 15, membership: the cluster options, leases on mqtt:node:<name>, join/leave/dead
 * log lines, a name used twice refused, $SYS/broker/cluster/nodes; three broker
 * processes on a real redis-server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { haveRedis } from './helpers/redis-server.js';
import { clusterPerTest, nodeConf, until } from './helpers/cluster.js';
import { runProgram, stopPrograms } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';
import type { IPublishPacket } from 'mqtt-packet';

describe('cluster options', { timeout: 30000 }, () => {
  afterEach(() => stopPrograms());

  it('cluster true without Redis settings is a one-line configuration error', async () => {
    const port = await freePort();
    const p = await runProgram('ts', [`listener ${port} 127.0.0.1`, 'cluster true', 'cluster_node_name a'], { readyNow: true });
    await p.waitForLine(/Error/, 30000);
    const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once('exit', r)));
    expect(code).not.toBe(0);
    const errors = p.lines.filter((l) => l.includes('Error'));
    expect(errors[0]).toMatch(/Error: cluster true needs Redis: set redis_host, redis_port, redis_url or redis_cluster_nodes\.$/);
    expect(p.lines.some((l) => l.includes('    at '))).toBe(false);
  });

  it('refuses a bad cluster_lease', async () => {
    const p = await runProgram('ts', ['cluster_lease 0'], { readyNow: true });
    await p.waitForLine(/Error/, 30000);
    await new Promise((r) => (p.proc.exitCode !== null ? r(0) : p.proc.once('exit', r)));
    expect(p.lines.join('\n')).toContain('Error: Invalid cluster_lease value (0).');
  });
});

describe.skipIf(!haveRedis())('cluster membership', { timeout: 60000 }, () => {
  const fx = clusterPerTest();

  it('each node holds a lease on mqtt:node:<name>, is listed, and hears the others join', async () => {
    const [n1, n2, n3] = await fx.nodes(3);
    const r = fx.redis.client();
    expect((await r.smembers('mqtt:cluster:nodes')).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const n of ['n1', 'n2', 'n3']) {
      expect(await r.hexists(`mqtt:node:${n}`, '')).toBe(1);
      const ttl = await r.pttl(`mqtt:node:${n}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3000);
    }
    // Whoever started last saw the others live at once; the others heard it join.
    // Each node knows the two others: live at its join, or heard joining.
    for (const n of [n1, n2, n3]) {
      const others = ['n1', 'n2', 'n3'].filter((x) => x !== n.name);
      const knows = (): boolean => others.every((o) => n.proc.lines.some((l) => l.endsWith(` Cluster node ${o} joined.`) || (/Cluster: joined as .* live: (.*)\)\.$/.exec(l)?.[1].split(' ').includes(o) ?? false)));
      expect(await until(knows, (v) => v)).toBe(true);
    }
    // The lease is renewed: after more than a lease it is still there.
    await new Promise((res) => setTimeout(res, 3500));
    expect(await r.hexists('mqtt:node:n1', '')).toBe(1);
  });

  it('refuses to start under the name of a live node', async () => {
    await fx.node('twin');
    const port = await freePort();
    const p = await runProgram('ts', nodeConf('twin', port, fx.redis.port), { readyNow: true });
    await p.waitForLine(/Error/, 30000);
    const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once('exit', r)));
    expect(code).not.toBe(0);
    expect(p.lines.join('\n')).toContain('Error: Cluster node name "twin" is already used by a live node.');
  });

  it('a node that shuts down leaves cleanly; one killed is declared dead when its lease expires; $SYS/broker/cluster/nodes follows', async () => {
    const [n1, n2, n3] = await fx.nodes(3);
    const r = fx.redis.client();
    const c = await n1.connect({ clientId: 'watcher' });
    await c.subscribe('$SYS/broker/cluster/nodes', 0);
    const first = await c.nextPublish();
    expect(String(first.payload)).toBe('n1 n2 n3');

    await n2.proc.stop('SIGTERM');
    await n1.proc.waitForLine(/ Cluster node n2 left\.$/);
    expect(await r.sismember('mqtt:cluster:nodes', 'n2')).toBe(0);
    expect(await r.hexists('mqtt:node:n2', '')).toBe(0);
    expect(String((await c.nextPublish()).payload)).toBe('n1 n3');

    await n3.proc.stop('SIGKILL');
    await n1.proc.waitForLine(/ Cluster node n3 declared dead \(lease expired\)\.$/, 8000);
    const last = await c.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && String(p.payload) === 'n1', 3000);
    expect(last.topic).toBe('$SYS/broker/cluster/nodes');
    expect(await until(() => r.sismember('mqtt:cluster:nodes', 'n3'), (v) => v === 0)).toBe(0);
  });
});
