/**
 * The cluster-wide route table (issue 15): which tree filters each node has local
 * subscribers for, and their highest QoS. This node's own routes are written to
 * mqtt:route:<node> and announced on the channel as they change (the first local
 * subscriber of a filter, the last one leaving, its highest QoS changing); the other
 * nodes' routes are read at join and kept current from the channel, in a subscription
 * tree whose subscribers are nodes. A publish then costs one cached tree lookup to know
 * which nodes need it, merged per node: one copy per node, whatever overlaps.
 */
import type { RedisClient } from '../redis/link-options.js';
import type { QoS } from '../../protocol/index.js';
import { parseSharedFilter } from '../../protocol/index.js';
import { Router, type MatchResult, type SubscriptionOptions } from '../router.js';
import { LEASE_FIELD, nodeKey, routeKey } from './keys.js';

/** A node as the route tree's subscriber. */
export interface NodeRef {
  readonly clientId: string;
}

const NONE: MatchResult<NodeRef> = { deliveries: [], shared: [] };

/** Up to this many distinct first levels, mayMatch() compares a topic's first level with each. */
const LEVEL_SCAN = 16;

export class Routes {
  /** Tree filter -> "clientid\nfilter" -> QoS, for the local subscriptions. */
  private readonly local = new Map<string, Map<string, QoS>>();
  /** Client id -> its filters -> tree filters (a destroyed session's subscriptions are gone before we hear). */
  private readonly byClient = new Map<string, Map<string, string>>();
  private readonly remote = new Router<NodeRef>();
  private readonly nodes = new Map<string, { ref: NodeRef; filters: Set<string> }>();
  /**
   * The first levels of the other nodes' tree filters ('+' and '#' as themselves), with the
   * number of (node, filter) routes that start with each, for mayMatch().
   */
  private readonly firstLevels = new Map<string, number>();
  /** A route of another node starts with '+' or '#': every topic may match. */
  private wild = false;
  /** Per ASCII code, the number of firstLevels that start with it ('' with '/', the topic's first character then). */
  private readonly firstChars = new Int32Array(128);
  /** firstLevels' keys for mayMatch()'s comparison; null when there are too many to compare one by one. */
  private scan: string[] | null = [];

  constructor(
    private readonly cmd: RedisClient,
    private readonly self: string,
    private readonly announce: (filter: string, qos: number | null) => void,
  ) {}

  /**
   * Nodes other than this one with a route matching `topic` (the highest QoS of each),
   * and the shared groups of other nodes that match it, with the nodes that have members.
   */
  match(topic: string): MatchResult<NodeRef> {
    return this.mayMatch(topic) ? this.remote.match(topic) : NONE;
  }

  /**
   * False when no route of another node can match `topic`: none starts with the topic's
   * first level nor with a wildcard (a filter matches only topics with its first level,
   * MQTT 4.7). Local traffic so costs a comparison or two per publish instead of a lookup
   * in the tree's cache (a Map keyed by the topic string, which hashes and compares it).
   */
  mayMatch(topic: string): boolean {
    if (this.wild) return true;
    const c = topic.charCodeAt(0);
    if (c < 128 && this.firstChars[c] === 0) return false;
    const scan = this.scan;
    if (scan === null) return true;
    const len = topic.length;
    for (let i = 0; i < scan.length; i++) {
      const level = scan[i];
      const n = level.length;
      if (len !== n && (len < n || topic.charCodeAt(n) !== 0x2f) /* / */) continue;
      // Compared by hand: startsWith with a search string that is not a constant is a builtin call.
      let j = 0;
      while (j < n && topic.charCodeAt(j) === level.charCodeAt(j)) j++;
      if (j === n) return true;
    }
    return false;
  }

  /** Whether this node has members of shared group `group` on tree filter `filter`. */
  hasLocalShare(group: string, filter: string): boolean {
    return this.local.has(`$share/${group}/${filter}`);
  }

  /** Any route on any other node (retained changes go to every node regardless). */
  get remoteNodes(): IterableIterator<string> {
    return this.nodes.keys();
  }

  /** A local subscription: `filter` as the client gave it, `treeFilter` as the tree holds it. */
  added(clientId: string, filter: string, treeFilter: string, qos: QoS): void {
    let mine = this.byClient.get(clientId);
    if (mine === undefined) this.byClient.set(clientId, (mine = new Map()));
    const was = mine.get(filter);
    if (was !== undefined && was !== treeFilter) this.removed(clientId, filter);
    mine.set(filter, treeFilter);
    let subs = this.local.get(treeFilter);
    if (subs === undefined) this.local.set(treeFilter, (subs = new Map()));
    const before = maxQos(subs);
    subs.set(clientId + '\n' + filter, qos);
    const after = maxQos(subs);
    if (after !== before) this.publishRoute(treeFilter, after);
  }

  removed(clientId: string, filter: string): void {
    const mine = this.byClient.get(clientId);
    const treeFilter = mine?.get(filter);
    if (mine === undefined || treeFilter === undefined) return;
    mine.delete(filter);
    if (mine.size === 0) this.byClient.delete(clientId);
    const subs = this.local.get(treeFilter);
    const k = clientId + '\n' + filter;
    if (subs === undefined || !subs.has(k)) return;
    const before = maxQos(subs);
    subs.delete(k);
    if (subs.size === 0) {
      this.local.delete(treeFilter);
      this.cmd.hdel(routeKey(this.self), treeFilter).catch(() => {});
      this.announce(treeFilter, null);
    } else {
      const after = maxQos(subs);
      if (after !== before) this.publishRoute(treeFilter, after);
    }
  }

  /** A session is gone: every filter it held here. */
  sessionGone(clientId: string): void {
    const mine = this.byClient.get(clientId);
    if (mine === undefined) return;
    for (const f of [...mine.keys()]) this.removed(clientId, f);
  }

  localFilters(): string[] {
    return [...this.local.keys()];
  }

  private publishRoute(filter: string, qos: number): void {
    this.cmd.hset(routeKey(this.self), filter, qos).catch(() => {});
    this.announce(filter, qos);
  }

  /** Rewrites this node's routes (at join and after Redis came back). */
  async rewrite(): Promise<void> {
    const key = routeKey(this.self);
    const m = this.cmd.multi().del(key);
    const all: (string | number)[] = [];
    for (const [f, subs] of this.local) all.push(f, maxQos(subs));
    if (all.length > 0) m.hset(key, ...all);
    await m.exec();
  }

  /**
   * Loads the routes of the given nodes (at join, when a node joins or says it rewrote its
   * routes, after this node rejoined Redis, and after the channel was subscribed again
   * following a gap). What the channel says of a node while its hash is read is applied
   * at once and again, in order, on top of what was read: a change announced after the
   * read is never undone by it.
   */
  async load(nodes: Iterable<string>): Promise<void> {
    for (const n of [...nodes]) {
      if (n === this.self) continue;
      const heard: [string, number | null][] = [];
      let rec = this.loading.get(n);
      if (rec === undefined) this.loading.set(n, (rec = new Set()));
      rec.add(heard);
      let h: Record<string, string>;
      let keep = false;
      try {
        h = await this.cmd.hgetall(routeKey(n));
        // Nothing in Redis for a node whose routes are cached, and (read after) no lease:
        // Redis lost its data (restarted empty) and the node has not joined again yet, so
        // it has not rewritten them (it says 'routes' once it has, and is loaded again).
        // Its routes are kept meanwhile: messages for it go on to its stream, which it
        // reads once it is back; a node that died instead is the lease watch's.
        if (Object.keys(h).length === 0 && this.nodes.has(n)) keep = (await this.cmd.hexists(nodeKey(n), LEASE_FIELD)) === 0;
      } finally {
        rec.delete(heard);
        if (rec.size === 0) this.loading.delete(n);
      }
      if (!keep) this.dropNode(n);
      for (const [f, q] of Object.entries(h)) this.remoteRoute(n, f, Number(q));
      for (const [f, q] of heard) {
        if (q === null) this.remoteUnroute(n, f);
        else this.remoteRoute(n, f, q);
      }
    }
  }

  /** The channel's route changes of a node whose hash is being read (load()). */
  private readonly loading = new Map<string, Set<[string, number | null][]>>();

  private heardWhileLoading(node: string, filter: string, qos: number | null): void {
    const rec = this.loading.get(node);
    if (rec !== undefined) for (const heard of rec) heard.push([filter, qos]);
  }

  /** A route change the channel announced. */
  heardRoute(node: string, filter: string, qos: number | null): void {
    this.heardWhileLoading(node, filter, qos);
    if (qos === null) this.remoteUnroute(node, filter);
    else this.remoteRoute(node, filter, qos);
  }

  remoteRoute(node: string, filter: string, qos: number): void {
    if (node === this.self) return;
    let n = this.nodes.get(node);
    if (n === undefined) this.nodes.set(node, (n = { ref: { clientId: node }, filters: new Set() }));
    if (!n.filters.has(filter)) {
      n.filters.add(filter);
      this.countLevel(filter, 1);
    }
    const q = (qos === 1 || qos === 2 ? qos : 0) as QoS;
    const options: SubscriptionOptions = { qos: q, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 };
    const shared = parseSharedFilter(filter);
    if (shared !== null) this.remote.subscribe(n.ref, shared.filter, options, shared.group);
    else this.remote.subscribe(n.ref, filter, options);
  }

  remoteUnroute(node: string, filter: string): void {
    const n = this.nodes.get(node);
    if (n === undefined || !n.filters.delete(filter)) return;
    this.countLevel(filter, -1);
    this.unsubscribe(n.ref, filter);
    if (n.filters.size === 0) this.nodes.delete(node);
  }

  /** A node left or died: its routes go. */
  dropNode(node: string): void {
    const n = this.nodes.get(node);
    if (n === undefined) return;
    for (const f of n.filters) {
      this.countLevel(f, -1);
      this.unsubscribe(n.ref, f);
    }
    this.nodes.delete(node);
  }

  /** A route of another node came (+1) or went (-1): the count of its tree filter's first level. */
  private countLevel(filter: string, delta: 1 | -1): void {
    const shared = parseSharedFilter(filter);
    const tree = shared !== null ? shared.filter : filter;
    const slash = tree.indexOf('/');
    const level = slash < 0 ? tree : tree.slice(0, slash);
    const count = (this.firstLevels.get(level) ?? 0) + delta;
    if (count > 0) this.firstLevels.set(level, count);
    else this.firstLevels.delete(level);
    // The set of levels changes when a level's first route comes or its last one goes.
    if (count === (delta === 1 ? 1 : 0)) {
      const c = level.length > 0 ? level.charCodeAt(0) : 0x2f;
      if (c < 128) this.firstChars[c] += delta;
      const levels = this.firstLevels;
      this.wild = levels.has('+') || levels.has('#');
      this.scan = levels.size > LEVEL_SCAN ? null : [...levels.keys()];
    }
  }

  private unsubscribe(ref: NodeRef, filter: string): void {
    const shared = parseSharedFilter(filter);
    if (shared !== null) this.remote.unsubscribe(ref, shared.filter, shared.group);
    else this.remote.unsubscribe(ref, filter);
  }
}

function maxQos(subs: Map<string, QoS>): number {
  let q = -1;
  for (const v of subs.values()) if (v > q) q = v;
  return q;
}
