#!/usr/bin/env node
/**
 * npm run cluster -- [N] [--redis-cluster]   (issue 15)
 *
 * Starts a local redis-server and N ts-mosquitto nodes (default 3) with `cluster true`,
 * each on a free port of 127.0.0.1, so that the cluster can be tried in one command:
 * subscribe on one node, publish on another. With --redis-cluster, Redis is a Redis
 * Cluster of three masters (redis-cli --cluster create) that the nodes reach with
 * redis_cluster_nodes. Ctrl-C (or SIGTERM) stops the nodes, then Redis, each by its pid,
 * and removes the configuration directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BROKER = path.join(ROOT, 'bin', 'ts-mosquitto.js');

const args = process.argv.slice(2);
const redisCluster = args.includes('--redis-cluster');
const arg = args.find((a) => a !== '--redis-cluster') ?? '3';
const n = Number(arg);
if (!Number.isInteger(n) || n < 1 || n > 16) {
  process.stderr.write(`Error: Invalid number of nodes (${arg}); give 1 to 16.\n`);
  process.exit(1);
}
if (spawnSync('redis-server', ['--version']).error !== undefined) {
  process.stderr.write('Error: redis-server not found; install Redis (e.g. apt-get install redis-server).\n');
  process.exit(1);
}
if (redisCluster && spawnSync('redis-cli', ['--version']).error !== undefined) {
  process.stderr.write('Error: redis-cli not found; it comes with Redis (e.g. apt-get install redis-tools).\n');
  process.exit(1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function prefixed(child, label) {
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) !== -1) {
        process.stdout.write(`[${label}] ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
  }
}

function waitFor(child, re, label) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const on = (d) => {
      seen += d.toString();
      if (re.test(seen)) {
        child.stdout.off('data', on);
        child.stderr.off('data', on);
        resolve();
      }
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (code) => reject(new Error(`${label} exited (${code}) before it was ready:\n${seen}`)));
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-mosquitto-cluster-'));
const children = [];
let stopping = false;

async function stop(code) {
  if (stopping) return;
  stopping = true;
  // Nodes first (they leave the cluster cleanly), Redis last.
  const nodes = children.filter((c) => !c.label.startsWith('redis'));
  const servers = children.filter((c) => c.label.startsWith('redis'));
  const gone = (c) => new Promise((r) => (c.proc.exitCode !== null || c.proc.signalCode !== null ? r() : c.proc.once('exit', r)));
  for (const c of nodes) if (c.proc.pid !== undefined && c.proc.exitCode === null) process.kill(c.proc.pid, 'SIGTERM');
  await Promise.race([Promise.all(nodes.map(gone)), new Promise((r) => setTimeout(r, 5000))]);
  for (const c of nodes) if (c.proc.pid !== undefined && c.proc.exitCode === null && c.proc.signalCode === null) process.kill(c.proc.pid, 'SIGKILL');
  for (const redis of servers) {
    if (redis.proc.pid !== undefined && redis.proc.exitCode === null) {
      process.kill(redis.proc.pid, 'SIGTERM');
      await gone(redis);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write('Cluster stopped.\n');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

/** Starts one redis-server on `port` (`extra`: more options); resolves with the port once it accepts connections. */
async function startRedis(port, extra = []) {
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push({ label: `redis-${port}`, proc: redis });
  await waitFor(redis, /Ready to accept connections/, 'redis-server');
  process.stdout.write(`redis-server on 127.0.0.1:${port} (pid ${redis.pid})\n`);
  return port;
}

/** Three masters joined into a Redis Cluster; resolves with the nodes' redis_cluster_nodes line once it is ok. */
async function startRedisCluster() {
  const ports = [];
  while (ports.length < 3) {
    const p = await freePort();
    // The cluster bus listens on port + 10000.
    if (p + 10000 > 65535 || ports.includes(p)) continue;
    ports.push(await startRedis(p, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${p}.conf`)]));
  }
  const hosts = ports.map((p) => `127.0.0.1:${p}`);
  const r = spawnSync('redis-cli', ['--cluster', 'create', ...hosts, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${r.stdout}${r.stderr}`);
  for (let i = 0; ; i++) {
    if (ports.every((p) => spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'))) break;
    if (i > 300) throw new Error('the Redis Cluster never reached cluster_state:ok');
    await new Promise((res) => setTimeout(res, 100));
  }
  process.stdout.write(`Redis Cluster of 3 masters: ${hosts.join(' ')}\n`);
  return `redis_cluster_nodes ${hosts.join(' ')}`;
}

try {
  const redisLine = redisCluster ? await startRedisCluster() : `redis_port ${await startRedis(await freePort())}`;

  const nodes = [];
  for (let i = 1; i <= n; i++) {
    const port = await freePort();
    const name = `node-${i}`;
    const conf = path.join(dir, `${name}.conf`);
    fs.writeFileSync(
      conf,
      [`listener ${port} 127.0.0.1`, 'allow_anonymous true', redisLine, 'cluster true', `cluster_node_name ${name}`, ''].join('\n'),
    );
    const proc = spawn(process.execPath, [BROKER, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push({ label: name, proc });
    prefixed(proc, name);
    nodes.push({ name, port, proc });
  }
  await Promise.all(nodes.map((x) => waitFor(x.proc, /mosquitto version .* running/, x.name)));
  process.stdout.write(`Cluster of ${n} node${n === 1 ? '' : 's'} running:\n`);
  for (const x of nodes) process.stdout.write(`  ${x.name}  127.0.0.1:${x.port}  (pid ${x.proc.pid})\n`);
  const last = nodes[nodes.length - 1];
  process.stdout.write(
    `Try:  node bin/ts-mosquitto_sub.js -p ${last.port} -t 'demo/#' -v\n` +
      `      node bin/ts-mosquitto_pub.js -p ${nodes[0].port} -t demo/hello -m 'from ${nodes[0].name}'\n` +
      'Ctrl-C stops the cluster.\n',
  );
  for (const x of nodes) {
    x.proc.once('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`${x.name} exited (${code}); stopping the cluster.\n`);
        void stop(1);
      }
    });
  }
} catch (e) {
  process.stderr.write(`Error: ${e.message}\n`);
  await stop(1);
}
