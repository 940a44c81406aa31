/**
 * The subscriber connection of the cluster channel (issue 15). Pub/Sub is at-most-once:
 * what is published while a node's subscriber connection is down (a dropped connection
 * that ioredis reconnects, a Redis Cluster node that fails and the subscription moves to
 * another one) never reaches it, although the node keeps its lease. So every time the
 * channel is subscribed again after a gap, `resubscribed` runs once the SUBSCRIBE is
 * answered: the plugin then reads again from Redis what the channel announces and Redis
 * keeps (routes, membership, takeovers), and whatever the channel says from then on
 * comes on top of it.
 *
 * On one redis-server this is one ioredis connection that reconnects by itself ('ready').
 * On a Redis Cluster, ioredis's own cluster subscriber moves and resubscribes silently
 * (no event says so), so the node keeps its own: one connection to one node of the
 * cluster (PUBLISH reaches every node), and when it ends, another node of those the
 * commands client knows (then the seeds), tried in turn.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClient, RedisNode } from '../redis/link-options.js';
import { CHANNEL } from './keys.js';

const RESELECT_MIN_MS = 50;
const RESELECT_MAX_MS = 1000;

export class ChannelSub {
  private conn: Redis | null = null;
  private stopped = false;
  /** The channel was subscribed once: later subscriptions follow a gap. */
  private subscribedOnce = false;
  private attempts = 0;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** One redis-server's connection (reconnects by itself), or null on a Redis Cluster. */
    private readonly single: RedisClient | null,
    /** Redis Cluster: the commands client (its nodes), the seeds and the per-node options. */
    private readonly cluster: { cmd: RedisClient; seeds: RedisNode[]; options: RedisOptions } | null,
    private readonly onMessage: (m: string) => void,
    private readonly resubscribed: () => void,
    private readonly name: string,
  ) {}

  /** Connects and subscribes (on a Redis Cluster, to the first seed that answers); rejects if none does. */
  async start(): Promise<void> {
    if (this.single !== null) {
      const c = this.single;
      c.on('message', (_ch: string, m: string) => this.onMessage(m));
      await c.connect();
      await this.subscribe(c);
      c.on('ready', () => void this.subscribe(c).catch(() => {}));
      return;
    }
    for (const seed of this.cluster!.seeds) if (await this.open(seed)) return;
    throw new Error('no Redis Cluster node took the channel subscription');
  }

  /** Linked: on one redis-server, its connection is ready; on a Redis Cluster, the channel moves between nodes as the commands do. */
  up(): boolean {
    return this.single === null ? !this.stopped : this.single.status === 'ready';
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.single?.disconnect();
    this.conn?.disconnect();
  }

  private async subscribe(c: RedisClient): Promise<void> {
    await c.subscribe(CHANNEL);
    if (this.subscribedOnce && !this.stopped) this.resubscribed();
    this.subscribedOnce = true;
  }

  /** A subscriber connection to `node`: true once it has subscribed; when it ends, another node. */
  private async open(node: RedisNode): Promise<boolean> {
    const c = new Redis({ ...this.cluster!.options, host: node.host, port: node.port, lazyConnect: true, retryStrategy: () => null, connectionName: this.name });
    this.conn = c;
    c.on('error', () => {});
    c.on('message', (_ch: string, m: string) => this.onMessage(m));
    try {
      await c.connect();
      await this.subscribe(c);
    } catch {
      c.disconnect();
      return false;
    }
    this.attempts = 0;
    const ended = (): void => {
      if (this.conn === c) this.conn = null;
      if (!this.stopped) this.reselect();
    };
    if (c.status === 'end') ended();
    else c.once('end', ended);
    return true;
  }

  /** Another node of the cluster, after a short wait that grows while none answers. */
  private reselect(): void {
    const { cmd, seeds } = this.cluster!;
    const known = ('nodes' in cmd ? cmd.nodes('all') : []).map((r) => ({ host: r.options.host ?? '127.0.0.1', port: r.options.port ?? 6379 }));
    const all = [...known, ...seeds.filter((s) => !known.some((k) => k.host === s.host && k.port === s.port))];
    const node = all[this.next++ % all.length];
    const wait = Math.min(RESELECT_MIN_MS * 2 ** Math.min(this.attempts++, 5), RESELECT_MAX_MS);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      void this.open(node).then((ok) => {
        if (!ok && !this.stopped) this.reselect();
      });
    }, wait);
    this.timer.unref();
  }
}
