/**
 * How a RedisLink (connection.ts) is configured: its options, and what they become for
 * its two connections (ioredis for reads and pub/sub, RespSocket for the writes).
 */
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl, type RespSocketOptions } from './resp-socket.js';

/** A Redis command and its arguments, each argument one Redis argument (never a command line). */
export type RedisCommand = (string | Buffer | number)[];

/** A connection to one Redis server or to a Redis Cluster (ioredis's Cluster: it routes each key to its slot's master). */
export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisLinkOptions {
  /** redis:// or rediss:// URL; when set it wins over host and port. */
  url: string | null;
  /** redis_cluster_nodes: seed nodes of a Redis Cluster; when set, url, host and port are unused. */
  cluster?: RedisNode[] | null;
  host: string;
  port: number;
  password: string | null;
  db: number;
  /** Writes kept while Redis is unreachable; beyond this they are dropped and counted. */
  maxBuffered?: number;
  /** Commands sent and not yet answered before new writes wait in the buffer. */
  maxInflight?: number;
  /** Longest wait between reconnection attempts, ms. */
  maxBackoffMs?: number;
  /** Client name for log lines; defaults to host:port (never the URL: it may hold a password). */
  label?: string;
  /** Log nothing about outages (a second connection to the same server: one warning is enough). */
  quiet?: boolean;
  /** False for a connection that never writes (pub/sub): no write connection is opened. */
  writes?: boolean;
  /** TLS options for rediss:// (certificate authorities, ...), for both connections. */
  tls?: ConnectionOptions;
}

const CONNECT_TIMEOUT_MS = 2000;
const DEFAULT_MAX_BACKOFF_MS = 5000;

/** Host and port of a Redis URL, for log lines that must not show its password. */
export function describeRedis(o: Pick<RedisLinkOptions, 'url' | 'host' | 'port' | 'cluster'>): string {
  if (o.cluster != null && o.cluster.length > 0) return `cluster ${o.cluster.map((n) => `${n.host}:${n.port}`).join(' ')}`;
  if (o.url !== null) {
    try {
      const u = new URL(o.url);
      return `${u.hostname}:${u.port === '' ? '6379' : u.port}`;
    } catch {
      return 'redis';
    }
  }
  return `${o.host}:${o.port}`;
}

/** ioredis's options for the read and pub/sub connection. */
export function ioredisOptions(options: RedisLinkOptions): RedisOptions {
  const maxBackoff = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const ro: RedisOptions = {
    lazyConnect: true,
    // Bounded by our own buffer instead (issue 7: nothing queues without bound).
    enableOfflineQueue: false,
    // Commands cut off by a lost connection fail at once rather than wait in ioredis.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxBackoff),
  };
  if (options.password !== null) ro.password = options.password;
  if (options.db !== 0) ro.db = options.db;
  if (options.tls !== undefined) ro.tls = options.tls;
  return ro;
}

/** The write connection's options: the same server, credentials and database as the URL or host/port say. */
export function writerOptions(options: RedisLinkOptions): RespSocketOptions {
  const u = options.url !== null ? parseRedisUrl(options.url) : null;
  const useTls = options.tls !== undefined || u?.tls === true;
  return {
    host: u?.host ?? options.host,
    port: u?.port ?? options.port,
    tls: useTls ? (options.tls ?? {}) : null,
    username: u?.username ?? null,
    password: options.password ?? u?.password ?? null,
    db: options.db !== 0 ? options.db : (u?.db ?? 0),
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
  };
}

/**
 * Opens (lazily) an ioredis client on `options`' server or Redis Cluster with the
 * per-server options `ro`; `extra` are ioredis options that apply to either (auto-pipelining, ...).
 */
export function openClient(options: RedisLinkOptions, ro: RedisOptions): RedisClient {
  const nodes = options.cluster;
  if (nodes != null && nodes.length > 0) {
    const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, maxRetriesPerRequest, ...perNode } = ro;
    const co: ClusterOptions = {
      lazyConnect,
      enableOfflineQueue,
      enableAutoPipelining,
      clusterRetryStrategy: (times: number) => (retryStrategy?.(times) as number | null | undefined) ?? 1000,
      // MOVED/ASK, a failover, and a cluster that is down (CLUSTERDOWN: its masters just
      // restarted and do not agree yet) are retried, 100 times 300 ms at most: about 30 s,
      // then the command fails (the caller counts it). Without it, a cross-node QoS 1
      // message held while the cluster was away would fail as soon as it came back.
      maxRedirections: 100,
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 300,
      redisOptions: { ...perNode, maxRetriesPerRequest },
    };
    return new Cluster(nodes, co);
  }
  return options.url !== null ? new Redis(options.url, ro) : new Redis({ ...ro, host: options.host, port: options.port });
}

/** The servers a SCAN must walk: each master of a Redis Cluster (keys are spread over them), or the one server. */
export function scanTargets(r: RedisClient): Redis[] {
  return r instanceof Cluster ? r.nodes('master') : [r];
}

/**
 * Calls `back` when a Redis Cluster client's connection to a node that it had lost is made
 * again while the client as a whole stayed 'ready' (a plain Redis client: never; its
 * 'ready' says it). ioredis's Cluster says 'close' and then 'ready' only once every
 * connection of its pool has ended, and it opens a node's connection at the node's first
 * command: a node this client never sent anything to stays unconnected, the pool never
 * drains, and every Redis node may restart (empty) without a 'ready'. The connections it
 * lost are made again as commands need them (MOVED, the slots refresh): a node that comes
 * back may have restarted without its data, so what this client keeps in Redis must be
 * written again, as after a 'ready'.
 */
export function onNodeReconnected(client: RedisClient, back: () => void): void {
  if (!(client instanceof Cluster)) return;
  const key = (r: Redis): string => `${r.options.host}:${r.options.port}`;
  /** Nodes whose connection ended since the client was last 'ready'. */
  const lost = new Set<string>();
  client.on('-node', (r: Redis) => lost.add(key(r)));
  // A whole reconnection ('ready') covers every node lost before it.
  client.on('ready', () => lost.clear());
  client.on('+node', (r: Redis) => {
    r.once('ready', () => {
      if (!lost.delete(key(r)) || client.status !== 'ready') return;
      back();
    });
  });
}
