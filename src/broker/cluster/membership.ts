/**
 * Cluster membership (issue 15): a node holds a lease on mqtt:node:<name> (its '' field
 * and PEXPIRE, renewed three times per lease), is listed in mqtt:cluster:nodes while it
 * lives, and says join and leave on the channel. Redis expires the lease of a node that
 * stops renewing it (kill -9, a lost network); the surviving nodes look every half lease,
 * and the one whose SREM removes the dead name handles its remains (its routes, its
 * clients' wills) and tells the others. Redis keeps the time, so no node's clock matters.
 *
 * When Redis could not renew anyone's lease for a while (a Redis Cluster failover of the
 * master that holds the leases, an outage), leases may have lapsed although every node
 * lives: a node judges nobody until a lease has passed since its own renewals went through
 * again (every live node's renewal lands meanwhile), nor while its own lease is gone; and a
 * node whose renewal finds its lease lapsed says so and joins again (lapsed()).
 */
import type { RedisClient } from '../redis/link-options.js';
import type { Log } from '../log.js';
import { CHANNEL, LEASE_FIELD, nodesKey, nodeKey, type ClusterEvent } from './keys.js';

export class NameInUseError extends Error {}

export class Membership {
  /** Live nodes as this node knows them, itself included. */
  readonly live = new Set<string>();
  private renewTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private joined = false;
  /** Date.now() of the last renewal Redis took. */
  private renewedAt = 0;
  /** No lease is judged before this (Date.now()): Redis had not renewed leases for a while. */
  private judgeAfter = 0;

  constructor(
    private readonly cmd: RedisClient,
    readonly name: string,
    private readonly token: string,
    private readonly leaseMs: number,
    private readonly log: Log,
    /** Membership changed: $SYS, the route cache. */
    private readonly changed: (node: string, how: 'join' | 'leave' | 'dead') => void,
    /** This node claimed a dead node's remains. */
    private readonly claimDead: (node: string) => Promise<void>,
    /** This node's lease had lapsed and was taken again: its routes may have been removed as a dead node's. */
    private readonly lapsed: () => void = () => {},
  ) {}

  /**
   * Takes the lease, or throws NameInUseError if another live node holds the name. Also
   * run after Redis comes back: the lease may have lapsed meanwhile.
   */
  async join(): Promise<void> {
    const key = nodeKey(this.name);
    const [[, set], [, holder]] = (await this.cmd
      .multi()
      .hsetnx(key, LEASE_FIELD, this.token)
      .hget(key, LEASE_FIELD)
      .pexpire(key, this.leaseMs)
      .sadd(nodesKey(), this.name)
      .exec()) as [unknown, unknown][];
    if (set === 0 && holder !== this.token) {
      throw new NameInUseError(`Cluster node name "${this.name}" is already used by a live node.`);
    }
    const members = await this.cmd.smembers(nodesKey());
    const alive = await this.aliveOf(members);
    for (const n of alive) this.live.add(n);
    this.live.add(this.name);
    this.renewed();
    if (!this.joined) {
      this.joined = true;
      this.log.notice(`Cluster: joined as ${this.name} (${this.live.size} node${this.live.size === 1 ? '' : 's'} live: ${[...this.live].sort().join(' ')}).`);
      this.announce({ op: 'join', node: this.name });
      this.renewTimer = setInterval(() => this.renew(), Math.max(100, Math.floor(this.leaseMs / 3)));
      this.renewTimer.unref();
      this.watchTimer = setInterval(() => void this.watch(), Math.max(100, Math.floor(this.leaseMs / 2)));
      this.watchTimer.unref();
    }
  }

  /** The channel told of another node. */
  heard(e: ClusterEvent): void {
    if (e.node === this.name) return;
    if (e.op === 'join') {
      if (this.live.has(e.node)) return;
      this.live.add(e.node);
      this.log.notice(`Cluster node ${e.node} joined.`);
      this.changed(e.node, 'join');
    } else if (e.op === 'leave' || e.op === 'dead') {
      if (!this.live.delete(e.node)) return;
      this.log.notice(e.op === 'leave' ? `Cluster node ${e.node} left.` : `Cluster node ${e.node} declared dead (lease expired).`);
      this.changed(e.node, e.op);
    }
  }

  /** Publishes on the channel; the promise settles once Redis answered (leave waits for it). */
  announce(e: ClusterEvent): Promise<unknown> {
    return this.cmd.publish(CHANNEL, JSON.stringify(e)).catch(() => {});
  }

  private renew(): void {
    const key = nodeKey(this.name);
    this.cmd
      .multi()
      .hset(key, LEASE_FIELD, this.token)
      .pexpire(key, this.leaseMs)
      .sadd(nodesKey(), this.name)
      .exec()
      .then((res) => {
        this.renewed();
        // HSET made the field: the lease had lapsed (and another node may have declared this one dead).
        if (res?.[0]?.[0] == null && res?.[0]?.[1] === 1) {
          this.log.warning(`Warning: Cluster: the lease of ${this.name} had lapsed (Redis could not renew it for ${this.leaseMs / 1000} s); taken again.`);
          this.announce({ op: 'join', node: this.name });
          this.lapsed();
        }
      })
      .catch(() => {});
  }

  /**
   * The commands connection to Redis was made again: Redis may have restarted empty (every
   * node's lease and listing gone until each rejoins), so leases are not judged for a lease.
   */
  reconnected(): void {
    this.judgeAfter = Math.max(this.judgeAfter, Date.now() + this.leaseMs);
  }

  /** A renewal went through: after a gap longer than two renewals, leases are not judged for a lease. */
  private renewed(): void {
    const now = Date.now();
    if (this.renewedAt !== 0 && now - this.renewedAt > (this.leaseMs * 2) / 3 + 100) this.judgeAfter = now + this.leaseMs;
    this.renewedAt = now;
  }

  private async aliveOf(members: string[]): Promise<string[]> {
    if (members.length === 0) return [];
    const p = this.cmd.pipeline();
    for (const m of members) p.hexists(nodeKey(m), LEASE_FIELD);
    const res = (await p.exec()) ?? [];
    return members.filter((_, i) => res[i]?.[1] === 1);
  }

  /**
   * The membership as Redis has it now, when the channel was subscribed again after a gap
   * (joins announced meanwhile were not heard). Nobody is judged here: a node gone
   * meanwhile is the next watch()'s, and its routes went with it (mqtt:route:<node>).
   */
  async refresh(): Promise<void> {
    const members = await this.cmd.smembers(nodesKey());
    for (const n of await this.aliveOf(members)) if (n !== this.name && !this.live.has(n)) this.heard({ op: 'join', node: n });
  }

  /** Every half lease: names listed whose lease expired are dead; one survivor claims each. */
  private async watch(): Promise<void> {
    if (this.cmd.status !== 'ready') return;
    try {
      const members = await this.cmd.smembers(nodesKey());
      const alive = new Set(await this.aliveOf(members));
      for (const n of members) {
        if (n === this.name || alive.has(n)) {
          if (n !== this.name && !this.live.has(n)) this.heard({ op: 'join', node: n });
          continue;
        }
        // Leases lapsed while Redis could not renew them (this node's own too): not judged yet.
        if (!alive.has(this.name) || Date.now() < this.judgeAfter) return;
        if ((await this.cmd.srem(nodesKey(), n)) === 1) {
          this.heard({ op: 'dead', node: n });
          this.announce({ op: 'dead', node: n });
          await this.claimDead(n);
        }
      }
      // A node no longer listed was claimed by another (whose 'dead' this one missed), unless
      // Redis lost the listing meanwhile: not judged yet then either.
      if (!alive.has(this.name) || Date.now() < this.judgeAfter) return;
      for (const n of [...this.live]) if (n !== this.name && !members.includes(n)) this.heard({ op: 'dead', node: n });
    } catch {
      // Redis is away: the lease cannot be judged now; the next round will.
    }
  }

  /** Clean shutdown: the lease and the listing go, the others hear it at once. */
  async leave(): Promise<void> {
    clearInterval(this.renewTimer);
    clearInterval(this.watchTimer);
    if (!this.joined || this.cmd.status !== 'ready') return;
    this.log.notice(`Cluster: ${this.name} leaving.`);
    await this.cmd.multi().hdel(nodeKey(this.name), LEASE_FIELD).srem(nodesKey(), this.name).exec().catch(() => {});
    await this.announce({ op: 'leave', node: this.name });
  }
}
