/**
 * Issue 15: a real redis-server and ts-mosquitto nodes (broker processes with `cluster
 * true`) on free ports, for the cluster tests. Everything is stopped by pid after each
 * test (clusterPerTest).
 */
import { afterEach, beforeEach } from 'vitest';
import { freePort, haveProgram } from './mosquitto.js';
import { RedisServer } from './redis-server.js';
import { RedisClusterServer, type RedisClusterOptions } from './redis-cluster.js';
import { runProgram, stopPrograms, type RunningProgram } from './conf-program.js';
import { RawClient, type ConnectOptions } from './raw-client.js';

export interface Node {
  name: string;
  port: number;
  proc: RunningProgram;
  connect(opts?: ConnectOptions): Promise<RawClient>;
}

export interface NodeOptions {
  /** The node's wall clock this far off (libfaketime's offset, e.g. '+1h' or '-1h'). */
  skew?: string;
}

/** libfaketime (Debian's faketime package), preloaded into a node whose clock is skewed. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

/** As haveProgram: absent skips, except under CI=true where it is a failure. */
export function haveFaketime(): boolean {
  return haveProgram(LIBFAKETIME);
}

/** What the nodes share: one redis-server, or a Redis Cluster of three masters (redis_cluster_nodes). */
export type RedisBackend = RedisServer | RedisClusterServer;

export interface ClusterFixture<B extends RedisBackend = RedisServer> {
  readonly redis: B;
  /** Starts a node; resolves once it runs. */
  node(name: string, extra?: string[], port?: number, opts?: NodeOptions): Promise<Node>;
  /** Starts n nodes named n1..nN. */
  nodes(n: number, extra?: string[]): Promise<Node[]>;
}

/** A node's configuration; `redis` is a redis-server's port or the Redis lines (RedisBackend.conf()). */
export function nodeConf(name: string, port: number, redis: number | string[], extra: string[] = []): string[] {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    ...(typeof redis === 'number' ? [`redis_port ${redis}`] : redis),
    'cluster true',
    `cluster_node_name ${name}`,
    'cluster_lease 3',
    'log_type all',
    ...extra,
  ];
}

/**
 * For a describe block: a fresh Redis (a redis-server, or with 'redis-cluster' a Redis
 * Cluster, started with `opts`: replicas, node timeout) before each test, and nodes on it.
 */
export function clusterPerTest(): ClusterFixture<RedisServer>;
export function clusterPerTest(kind: 'redis-cluster', opts?: RedisClusterOptions): ClusterFixture<RedisClusterServer>;
export function clusterPerTest(kind: 'redis' | 'redis-cluster'): ClusterFixture<RedisBackend>;
export function clusterPerTest(kind: 'redis' | 'redis-cluster' = 'redis', opts: RedisClusterOptions = {}): ClusterFixture<RedisBackend> {
  let redis: RedisBackend | undefined;
  const clients: RawClient[] = [];
  beforeEach(async () => {
    redis = kind === 'redis-cluster' ? await RedisClusterServer.start(opts) : await RedisServer.start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    // A test that stopped Redis (SIGSTOP) and failed before resuming it: the nodes' shutdown needs it.
    redis?.signal('SIGCONT');
    await stopPrograms();
    await redis?.close();
  });
  const fx: ClusterFixture<RedisBackend> = {
    get redis(): RedisBackend {
      return redis!;
    },
    async node(name, extra = [], port, opts = {}) {
      let p = port ?? (await freePort());
      let proc: RunningProgram;
      for (let attempt = 1; ; attempt++) {
        // A loaded machine (2 cores shared) may take a while to start three node processes:
        // ready at once, then up to 30 s for the running line.
        // Preloaded rather than run under faketime(1), so that the pid stopped is the node's.
        // Only the wall clock is skewed: timers (the monotonic clock) run true.
        const env = opts.skew === undefined ? undefined : { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: opts.skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
        proc = await runProgram('ts', nodeConf(name, p, redis!.conf(), extra), { readyNow: true, env });
        try {
          await proc.waitForLine(/mosquitto version .* running/, 30000);
          break;
        } catch (e) {
          // The free port was taken by another program meanwhile (the machine is shared): another one.
          if (attempt >= 3 || port !== undefined || !proc.lines.some((l) => l.includes('Address already in use'))) throw e;
          p = await freePort();
          // It joined before its listener failed: its lease (3 s here) must lapse first.
          await new Promise((r) => setTimeout(r, 3500));
        }
      }
      return {
        name,
        port: p,
        proc,
        async connect(opts = {}) {
          const { client, connack } = await RawClient.connect(p, opts);
          clients.push(client);
          if ((connack.returnCode ?? connack.reasonCode ?? 0) !== 0) throw new Error('CONNACK refused');
          return client;
        },
      };
    },
    async nodes(n, extra = []) {
      return Promise.all(Array.from({ length: n }, (_, i) => fx.node(`n${i + 1}`, extra)));
    },
  };
  return fx;
}

/**
 * The Redis a cluster test runs on: a redis-server, and a Redis Cluster of three masters
 * (redis_cluster_nodes); `available` skips where the programs are absent (a failure under CI=true).
 */
export const BACKENDS = [
  { kind: 'redis', label: 'one redis-server', available: () => haveProgram('redis-server') },
  { kind: 'redis-cluster', label: 'a Redis Cluster', available: () => haveProgram('redis-server') && haveProgram('redis-cli') },
] as const;

/** The hash tag the keys used together carry on a Redis Cluster ('' on one redis-server). */
export function tagOf(redis: RedisBackend): string {
  return redis instanceof RedisClusterServer ? '{mqtt}' : '';
}

/** Polls until `probe` returns a value that `ok` accepts; the last value is returned either way. */
export async function until<T>(probe: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await probe();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    v = await probe();
  }
  return v;
}

/** Waits until node `n`'s route table in Redis holds `filter` (its subscribers are then reachable from every node that heard). */
export async function routed(fx: ClusterFixture<RedisBackend>, node: string, filter: string, present = true): Promise<void> {
  const r = fx.redis.client();
  await until(() => r.hexists(`mqtt:route:${node}`, filter), (v) => v === (present ? 1 : 0));
  // The announcement travels on the channel right after the write.
  await new Promise((res) => setTimeout(res, 100));
}

/**
 * Publishes probes on `topic` from `pub` until `sub` receives one: then the route from the
 * publisher's node to the subscriber's node is in place. Probes sent before it were not
 * forwarded or arrived before it (order per publisher and topic), so none follows.
 */
export async function reaches(pub: RawClient, sub: RawClient, topic: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    pub.publish(topic, '__probe__');
    try {
      await sub.waitFor((p) => p.cmd === 'publish' && p.topic === topic && String(p.payload) === '__probe__', 100, 'probe');
      return;
    } catch {
      // not routed yet
    }
  }
  throw new Error(`no route for ${topic}`);
}

/**
 * The clients of a "Redis lost and back" test: `sub` on node `b` subscribed to x/# at
 * QoS 1, `pub` on node `a` whose messages reach it (the route is in place), and
 * `localSub` on `a` subscribed to l/# at QoS 0, for the traffic that stays local.
 */
export async function outageClients(a: Node, b: Node): Promise<{ sub: RawClient; pub: RawClient; localSub: RawClient }> {
  const sub = await b.connect({ clientId: 'sub' });
  await sub.subscribe('x/#', 1);
  const pub = await a.connect({ clientId: 'pub' });
  const localSub = await a.connect({ clientId: 'local-sub' });
  await localSub.subscribe('l/#', 0);
  await reaches(pub, sub, 'x/probe');
  return { sub, pub, localSub };
}

let settles = 0;

/**
 * After reaches(): probes sent before the one that arrived may still be on their way
 * (forwarded, not yet delivered) on a loaded machine, to land in the subscriber's node's
 * stream and in `sub`'s inbox later. Publishes one more message on `topic` and waits for
 * it at `sub`: as order per publisher and topic holds, every probe forwarded before it
 * has then arrived; it and the probes on `topic` are taken from `sub`'s inbox.
 */
export async function settle(pub: RawClient, sub: RawClient, topic: string, timeoutMs = 8000): Promise<void> {
  const marker = `__settle__${++settles}`;
  pub.publish(topic, marker);
  await sub.waitFor((p) => p.cmd === 'publish' && p.topic === topic && String(p.payload) === marker, timeoutMs, marker);
  for (let i = sub.inbox.length - 1; i >= 0; i--) {
    const p = sub.inbox[i];
    if (p.cmd === 'publish' && p.topic === topic && String(p.payload) === '__probe__') sub.inbox.splice(i, 1);
  }
}
