/**
 * Issue 15: `npm run cluster -- 3` (scripts/cluster.mjs) starts a local Redis and three
 * nodes on free ports, a message crosses them, and Ctrl-C stops every process it started;
 * the same with `--redis-cluster` on a Redis Cluster of three masters.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { RawClient } from './helpers/raw-client.js';
import { killSpawned, trackChild } from './helpers/spawn.js';
import { BACKENDS, reaches } from './helpers/cluster.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const backend of BACKENDS) describe.skipIf(!backend.available())(`npm run cluster, on ${backend.label}`, { timeout: 90000 }, () => {
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    killSpawned();
  });

  it('starts Redis and three nodes that act as one broker, and stops them all on Ctrl-C', async () => {
    const args = backend.kind === 'redis-cluster' ? ['3', '--redis-cluster'] : ['3'];
    const proc = spawn(process.execPath, ['scripts/cluster.mjs', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(proc);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 1200 && !out.includes('Ctrl-C stops the cluster.'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('Cluster of 3 nodes running:');
    const nodes = [...out.matchAll(/ {2}(node-\d) {2}127\.0\.0\.1:(\d+) {2}\(pid (\d+)\)/g)].map((m) => ({ name: m[1], port: Number(m[2]), pid: Number(m[3]) }));
    const redisPids = [...out.matchAll(/redis-server on 127\.0\.0\.1:\d+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    started.push(...redisPids, ...nodes.map((x) => x.pid));
    expect(redisPids).toHaveLength(backend.kind === 'redis-cluster' ? 3 : 1);
    if (backend.kind === 'redis-cluster') expect(out).toMatch(/Redis Cluster of 3 masters: (127\.0\.0\.1:\d+ ?){3}\n/);
    expect(nodes.map((x) => x.name)).toEqual(['node-1', 'node-2', 'node-3']);

    const { client: sub } = await RawClient.connect(nodes[2].port, { clientId: 's' });
    await sub.subscribe('demo/#', 1);
    const { client: pub } = await RawClient.connect(nodes[0].port, { clientId: 'p' });
    await reaches(pub, sub, 'demo/probe');
    pub.publish('demo/hello', 'from node-1', { qos: 1, messageId: 1 });
    const m = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'demo/hello', 8000);
    expect(String(m.payload)).toBe('from node-1');
    sub.destroy();
    pub.destroy();

    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('Cluster stopped.');
    for (const x of nodes) expect(out).toContain(`[${x.name}] `);
    expect(out).toMatch(/\[node-1\] .*Cluster: node-1 leaving\./);
    for (const pid of [...redisPids, ...nodes.map((x) => x.pid)]) expect(alive(pid)).toBe(false);
  });
});
