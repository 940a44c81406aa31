/**
 * A real Redis Cluster of three masters for the tests of redis_cluster_nodes (issue 15):
 * three redis-server processes with cluster-enabled on free loopback ports, each with its
 * cluster config file in a temporary directory, joined by `redis-cli --cluster create
 * --cluster-replicas 0`, and ready once every node says cluster_state:ok. Killed by pid.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { freePort, haveProgram } from './mosquitto.js';
import { REDIS_SERVER, spawnRedisServer } from './redis-server.js';

export function haveRedisCluster(): boolean {
  return haveProgram(REDIS_SERVER) && haveProgram('redis-cli');
}

export class RedisClusterServer {
  private readonly procs: ChildProcess[] = [];
  private readonly clients: Cluster[] = [];

  private constructor(
    readonly ports: number[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<RedisClusterServer> {
    const ports: number[] = [];
    while (ports.length < masters) {
      const p = await freePort();
      // The cluster bus listens on port + 10000: both must be free.
      if (p + 10000 <= 65535 && !ports.includes(p)) ports.push(p);
    }
    const s = new RedisClusterServer(ports, fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-redis-cluster-')));
    try {
      await Promise.all(ports.map((p) => s.startNode(p)));
      await s.create();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  /** The broker's configuration line. */
  conf(): string[] {
    return [`redis_cluster_nodes ${this.ports.map((p) => `127.0.0.1:${p}`).join(' ')}`];
  }

  private startNode(port: number): Promise<void> {
    const { proc, ready } = spawnRedisServer(port, [
      '--cluster-enabled', 'yes', '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '5000', '--dir', this.dir,
    ]);
    this.procs.push(proc);
    return ready;
  }

  private async create(): Promise<void> {
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30000,
    });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}${r.stderr}`);
    await this.waitOk();
  }

  private async waitOk(): Promise<void> {
    // Up to a minute: on a loaded machine the restarted masters take a while to agree again.
    for (let i = 0; i < 600; i++) {
      const ok = this.ports.every((p) => spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok'));
      if (ok) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('Redis Cluster never reached cluster_state:ok');
  }

  /** Kills every master by its pid (their data is lost; their cluster config files stay). */
  async stop(): Promise<void> {
    await this.killAll();
  }

  /** Starts the masters again on the same ports and config files; resolves once the cluster is ok again. */
  async run(): Promise<void> {
    await Promise.all(this.ports.map((p) => this.startNode(p)));
    await this.waitOk();
  }

  /** A Cluster client for the test's own reads and writes. */
  client(): Cluster {
    const c = new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { maxRetriesPerRequest: 1 } });
    c.on('error', () => {});
    this.clients.push(c);
    return c;
  }

  /** Every key of the cluster (KEYS on each master), for checks of the key layout. */
  allKeys(): string[] {
    return this.ports.flatMap((p) => spawnSync('redis-cli', ['-p', String(p), '--raw', 'keys', '*'], { encoding: 'utf8' }).stdout.split('\n').filter((k) => k !== ''));
  }

  /** Errors each master answered, by kind (INFO errorstats: errorstat_CROSSSLOT:count=N, ...). */
  errorStats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.ports) {
      const text = spawnSync('redis-cli', ['-p', String(p), 'info', 'errorstats'], { encoding: 'utf8' }).stdout;
      for (const m of text.matchAll(/^errorstat_(\w+):count=(\d+)/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    await this.killAll();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async killAll(): Promise<void> {
    await Promise.all(
      this.procs.splice(0).map((proc) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
        const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGKILL');
        return gone;
      }),
    );
  }
}
