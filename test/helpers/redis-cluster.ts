/**
 * A real Redis Cluster for the tests of redis_cluster_nodes (issue 15): three masters
 * (and, with `replicas`, that many replicas of each, for failover tests), redis-server
 * processes with cluster-enabled on free loopback ports, each with its cluster config file
 * in a temporary directory, joined by `redis-cli --cluster create`, and ready once every
 * node says cluster_state:ok (and every master has its replicas online). Killed by pid.
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

export interface RedisClusterOptions {
  /** Masters (3 by default). */
  masters?: number;
  /** Replicas of each master (0 by default). */
  replicas?: number;
  /** cluster-node-timeout, ms: how long a silent node takes to be failed over (5000 by default). */
  nodeTimeoutMs?: number;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 }).stdout ?? '';
}

export class RedisClusterServer {
  /** The redis-server of each port, while it runs. */
  private readonly procs = new Map<number, ChildProcess>();
  private readonly clients: Cluster[] = [];

  private constructor(
    /** Every node's port: the masters', then their replicas'. */
    readonly ports: number[],
    private readonly dir: string,
    private readonly replicas: number,
    private readonly nodeTimeoutMs: number,
  ) {}

  static async start(opts: RedisClusterOptions = {}): Promise<RedisClusterServer> {
    const masters = opts.masters ?? 3;
    const replicas = opts.replicas ?? 0;
    const ports: number[] = [];
    while (ports.length < masters * (1 + replicas)) {
      const p = await freePort();
      // The cluster bus listens on port + 10000: both must be free.
      if (p + 10000 <= 65535 && !ports.includes(p)) ports.push(p);
    }
    const s = new RedisClusterServer(ports, fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-redis-cluster-')), replicas, opts.nodeTimeoutMs ?? 5000);
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

  /** The ports of the nodes running now. */
  get livePorts(): number[] {
    return this.ports.filter((p) => this.procs.has(p));
  }

  private startNode(port: number): Promise<void> {
    const { proc, ready } = spawnRedisServer(port, [
      '--cluster-enabled', 'yes', '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', String(this.nodeTimeoutMs), '--dir', this.dir,
    ]);
    this.procs.set(port, proc);
    proc.once('exit', () => {
      if (this.procs.get(port) === proc) this.procs.delete(port);
    });
    return ready;
  }

  private async create(): Promise<void> {
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(this.replicas), '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30000,
    });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}${r.stderr}`);
    await this.waitOk();
  }

  /** Until every running node says cluster_state:ok and every master has its replicas online. */
  async waitOk(timeoutMs = 60000): Promise<void> {
    // Up to a minute: on a loaded machine the restarted masters take a while to agree again.
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const live = this.livePorts;
      // Replicas are waited for while every node runs (after a failover, a master lost its own).
      const ok =
        live.every((p) => cli(p, 'cluster', 'info').includes('cluster_state:ok')) &&
        (live.length < this.ports.length || this.masters().every((m) => (cli(m, 'info', 'replication').match(/state=online/g) ?? []).length >= this.replicas));
      if (ok) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('Redis Cluster never reached cluster_state:ok');
  }

  /** The ports of the masters, as a running node sees them now (failed ones left out). */
  masters(): number[] {
    return this.nodesTable()
      .filter((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.length > 0)
      .map((n) => n.port);
  }

  /** The port of the master serving `key`'s slot now, as a running node sees it (undefined while none does). */
  masterOf(key: string): number | undefined {
    const slot = this.slotOf(key);
    const owner = this.nodesTable().find((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.some(([a, b]) => slot >= a && slot <= b));
    return owner?.port;
  }

  /** The hash slot of `key` (CLUSTER KEYSLOT). */
  slotOf(key: string): number {
    return Number(cli(this.livePorts[0], 'cluster', 'keyslot', key).trim());
  }

  /** Whether every replica of the master on `port` has received everything the master has written. */
  replicated(port: number): boolean {
    const info = cli(port, 'info', 'replication');
    const offset = Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
    const replicas = [...info.matchAll(/^slave\d+:.*state=online,offset=(\d+)/gm)].map((m) => Number(m[1]));
    return replicas.length >= this.replicas && replicas.every((o) => o >= offset);
  }

  /** Kills the node on `port` by its pid (kill -9) and waits for it to be gone. */
  async kill(port: number): Promise<void> {
    const proc = this.procs.get(port);
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Sends `signal` to every running node by its pid (SIGSTOP: the whole cluster answers nothing; SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    for (const proc of this.procs.values()) proc.kill(signal);
  }

  /** CONFIG SET on every running node (maxmemory: each master refuses writes). */
  async configSet(name: string, value: string): Promise<void> {
    for (const p of this.livePorts) {
      const out = cli(p, 'config', 'set', name, value);
      if (!out.startsWith('OK')) throw new Error(`CONFIG SET ${name} on ${p}: ${out}`);
    }
  }

  private nodesTable(): { port: number; flags: string[]; slots: [number, number][] }[] {
    const text = cli(this.livePorts[0], 'cluster', 'nodes');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const f = l.split(' ');
        const slots = f.slice(8).filter((x) => /^\d/.test(x)).map((x) => {
          const [a, b] = x.split('-').map(Number);
          return [a, b ?? a] as [number, number];
        });
        return { port: Number(f[1].split('@')[0].split(':')[1]), flags: f[2].split(','), slots };
      });
  }

  /** Kills every node by its pid (their data is lost; their cluster config files stay). */
  async stop(): Promise<void> {
    await this.killAll();
  }

  /** Starts the nodes again on the same ports and config files; resolves once the cluster is ok again. */
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
    return this.masters().flatMap((p) => spawnSync('redis-cli', ['-p', String(p), '--raw', 'keys', '*'], { encoding: 'utf8' }).stdout.split('\n').filter((k) => k !== ''));
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
    const procs = [...this.procs.values()];
    this.procs.clear();
    await Promise.all(
      procs.map((proc) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
        const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGKILL');
        return gone;
      }),
    );
  }
}
